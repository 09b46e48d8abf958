"""Scoring: predictions × gold → the tidy scores table (system, gold_id, metric, value).

Every metric scores the whole batch (all systems at once), so work shared across systems
(e.g. reference embeddings) is done once, and every text is split and tokenized once (the
run's TextStore, ``ScoringContext.texts``). With a score cache (evalkit/score_cache.py) a
metric computes only the pairs it has not scored before. Failed predictions are not scored:
they are counted as failures in the summary, never as zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import pandas as pd

from evalkit.errors import InputError
from evalkit.metrics import ItemScore, Metric, MetricRequest, Pair, ScoringContext, build_metric
from evalkit.records import GoldItem, GoldSet, ItemDetail, MetricSpec, Prediction
from evalkit.rundir import SCORE_COLUMNS
from evalkit.text import text_store

if TYPE_CHECKING:
    from evalkit.score_cache import ScoreCache

#: progress hook: ``on_metric(family, i, n)`` is called before the i-th (0-based) of n metric families is scored
OnMetric = Callable[[str, int, int], None]
#: computes, elsewhere, every metric's per-pair results for the pairs the score cache lacks, all
#: metrics at once: ``compute([(metric, pairs), ...], context) -> [results of each, ...]`` (the
#: Ray executor's cluster, evalkit/executors/ray_executor.py; here, one metric after another)
ComputeFn = Callable[[Sequence[tuple[Metric, Sequence[Pair]]], ScoringContext], list[list[ItemScore]]]


@dataclass
class Scorer:
    """A built metric and the outputs kept from it (``--metrics rouge1`` keeps one)."""

    metric: Metric
    only: Optional[tuple[str, ...]] = None

    @property
    def outputs(self) -> list[str]:
        return [o for o in self.metric.outputs() if self.only is None or o in self.only]

    def spec(self) -> MetricSpec:
        spec = self.metric.identity()
        spec.outputs = self.outputs
        spec.headline = [o for o in spec.headline if o in spec.outputs] or list(spec.outputs)
        spec.directions = {o: d for o, d in spec.directions.items() if o in spec.outputs}
        return spec


@dataclass
class ScoringResult:
    scores: pd.DataFrame
    details: list[ItemDetail]
    metrics: list[MetricSpec]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_scorers(requests: Sequence[MetricRequest]) -> list[Scorer]:
    return [Scorer(build_metric(r.family, r.options), r.only) for r in requests]


def pair_for(prediction: Prediction, item: GoldItem) -> Pair:
    return Pair(
        system=prediction.system,
        gold_id=item.id,
        summary=prediction.summary or "",
        source=item.article,
        references=("\n".join(item.key_points),),
        key_points=tuple(item.key_points),
        title=item.title,
    )


def make_pairs(gold: GoldSet, predictions: Sequence[Prediction], *, source: str = "predictions") -> list[Pair]:
    items = gold.by_id()
    pairs = []
    for n, p in enumerate(predictions, 1):
        if p.gold_id not in items:
            raise InputError(f"gold_id {p.gold_id!r} is not in gold set {gold.name!r}", path=source, line=n, field="gold_id")
        if p.ok:
            pairs.append(pair_for(p, items[p.gold_id]))
    return pairs


def metric_results(metric: Metric, pairs: Sequence[Pair], context: ScoringContext,
                   cache: Optional[ScoreCache] = None) -> list[ItemScore]:
    """One metric's result for every pair: cached ones read, the others computed, then the
    metric's run-level messages from them all (a warm run says what a cold one said)."""
    if not pairs:
        return []
    if not metric.splits_work():  # a plug-in that only overrides score(): computed whole
        return metric.score(pairs, context)
    from evalkit.metrics.parallel import compute_pairs
    from evalkit.score_cache import cached_compute

    results = cached_compute(metric, pairs, context.texts, cache if metric.cacheable() else None,
                             lambda todo: compute_pairs(metric, todo, context))
    metric.report(pairs, results, context)
    return results


def results_elsewhere(pairs: Sequence[Pair], metrics: Sequence[Metric], context: ScoringContext,
                      cache: Optional[ScoreCache], compute: ComputeFn) -> list[list[ItemScore]]:
    """``metric_results`` for every metric (each splitting its work), their computing done by
    ``compute`` all at once: cached results read first, then what is missing computed, stored,
    and each metric's run-level messages made here from every pair's results."""
    from evalkit.score_cache import plan

    if not pairs:
        return [[] for _ in metrics]
    plans = [plan(m, pairs, context.texts, cache if m.cacheable() else None) for m in metrics]
    fresh = compute([(p.metric, p.todo) for p in plans], context)
    out = []
    for planned, computed in zip(plans, fresh):
        results = planned.finish(computed, cache if planned.metric.cacheable() else None)
        planned.metric.report(pairs, results, context)
        out.append(results)
    return out


def score_pairs(pairs: Sequence[Pair], scorers: Sequence[Scorer],
                context: ScoringContext | None = None, *, cache: Optional[ScoreCache] = None,
                on_metric: Optional[OnMetric] = None, compute: Optional[ComputeFn] = None) -> ScoringResult:
    """Every scorer over every pair, into the scores table. ``compute``: where the metrics'
    work is done when not here (every metric must then split its work: ``results_elsewhere``)."""
    context = context or ScoringContext()
    systems: list[str] = []
    gold_ids: list[str] = []
    names: list[str] = []
    values: list[float] = []
    details: list[ItemDetail] = []
    with text_store(context.texts):
        if compute is not None:
            if on_metric is not None:
                on_metric(", ".join(s.metric.family for s in scorers), 0, 1)
            per_scorer = results_elsewhere(pairs, [s.metric for s in scorers], context, cache, compute)
        else:
            per_scorer = []
            for i, scorer in enumerate(scorers):
                if on_metric is not None:
                    on_metric(scorer.metric.family, i, len(scorers))
                per_scorer.append(metric_results(scorer.metric, pairs, context, cache))
        for scorer, results in zip(scorers, per_scorer):
            if len(results) != len(pairs):
                raise RuntimeError(f"metric {scorer.metric.family!r} returned {len(results)} results for {len(pairs)} pairs")
            outputs = scorer.outputs
            for pair, result in zip(pairs, results):
                for out in outputs:
                    value = result.values.get(out)
                    systems.append(pair.system)
                    gold_ids.append(pair.gold_id)
                    names.append(out)
                    values.append(float("nan") if value is None else float(value))
                if result.detail is not None:
                    details.append(ItemDetail(system=pair.system, gold_id=pair.gold_id,
                                              metric=scorer.metric.family, detail=result.detail))
    scores = pd.DataFrame(dict(zip(SCORE_COLUMNS, (systems, gold_ids, names, values))), columns=SCORE_COLUMNS)
    scores["value"] = scores["value"].astype("float64")
    return ScoringResult(scores, details, [s.spec() for s in scorers], context.notes, context.warnings)


def score_predictions(gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                      *, source: str = "predictions", cache: Optional[ScoreCache] = None,
                      on_metric: Optional[OnMetric] = None) -> ScoringResult:
    """Score every successful prediction with every metric (``cache``: the score cache, or None;
    ``on_metric``: see ``OnMetric``)."""
    return score_pairs(make_pairs(gold, predictions, source=source), scorers, cache=cache, on_metric=on_metric)
