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
#: computes a metric's per-pair results for the pairs the score cache did not have:
#: ``compute(metric, pairs, context)``; by default on this machine (``compute_pairs``: a process
#: pool when it pays), on a cluster for the Ray executor (evalkit/executors/ray_executor.py)
ComputeFn = Callable[[Metric, Sequence[Pair], ScoringContext], list[ItemScore]]


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
                   cache: Optional[ScoreCache] = None, compute: Optional[ComputeFn] = None) -> list[ItemScore]:
    """One metric's result for every pair: cached ones read, the others computed (``compute``,
    see ``ComputeFn``), then the metric's run-level messages from them all, here (a warm run
    says what a cold one said; a run computed in parts says what a run in one piece says)."""
    if not pairs:
        return []
    if not metric.splits_work():  # a plug-in that only overrides score(): computed whole
        return metric.score(pairs, context)
    from evalkit.metrics.parallel import compute_pairs
    from evalkit.score_cache import cached_compute

    fn: ComputeFn = compute or compute_pairs
    results = cached_compute(metric, pairs, context.texts, cache if metric.cacheable() else None,
                             lambda todo: fn(metric, todo, context))
    metric.report(pairs, results, context)
    return results


def score_pairs(pairs: Sequence[Pair], scorers: Sequence[Scorer],
                context: ScoringContext | None = None, *, cache: Optional[ScoreCache] = None,
                on_metric: Optional[OnMetric] = None, compute: Optional[ComputeFn] = None) -> ScoringResult:
    context = context or ScoringContext()
    systems: list[str] = []
    gold_ids: list[str] = []
    names: list[str] = []
    values: list[float] = []
    details: list[ItemDetail] = []
    with text_store(context.texts):
        for i, scorer in enumerate(scorers):
            if on_metric is not None:
                on_metric(scorer.metric.family, i, len(scorers))
            results = metric_results(scorer.metric, pairs, context, cache, compute)
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
