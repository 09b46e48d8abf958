"""Comparing systems: two runs (the same systems before and after a change) or systems within
one run, metric by metric, with paired tests on the items both scored.

Within one run the numbers come from the run's ``comparisons.json`` (see comparisons.py): the
same numbers the leaderboards and reports show; metrics it does not hold (non-headline or
descriptive outputs) and other ``--resamples``/``--seed`` are computed with the same function
and seeds, over the same family (every system pair of the run). Across runs each system is
compared with itself, Holm-adjusted across the compared pairs of each metric.

Directions come from the runs' recorded metric specs only: a descriptive output (direction
``none``) or one whose direction the run does not record is never called better; a
significant difference is reported as "differ". A pair with fewer than ``min_items`` shared
items is "too few items to compare (n=…)".

Refuses to compare runs whose gold set or metric configuration differ (the numbers would not
mean the same thing), naming the difference; ``force=True`` compares anyway with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import pandas as pd
from pydantic import Field

from evalkit.comparison_records import Outcome
from evalkit.comparisons import (
    ALPHA,
    CORRECTION,
    DEFAULT_MIN_ITEMS,
    TEST,
    PairNumbers,
    PairRow,
    flipped,
    metric_pairs,
    numbers_of,
    outcome_of,
    too_few_text,
    wins_losses,
)
from evalkit.errors import UsageError
from evalkit.records import SCHEMA_VERSION, Direction, GoldRef, GoldSelection, MetricSpec, Record, recorded_direction
from evalkit.stats import fmt_num, fmt_p_eq
from evalkit.subset import full_hash, subset_scope

if TYPE_CHECKING:
    from evalkit.run import Run


@dataclass(frozen=True)
class Settings:
    confidence: float
    n_resamples: int
    seed: int
    min_items: int



class MetricComparison(Record):
    metric: str
    #: the direction recorded in the run's metric spec (None: not recorded, an older run)
    direction: Optional[Direction]
    n: int
    mean_a: Optional[float]
    mean_b: Optional[float]
    delta: Optional[float]  # mean of B - A over the paired items
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    p_adjusted: Optional[float]
    effect_size: Optional[float]
    wins: Optional[int]  # items where B is better than A (None: the metric has no direction)
    ties: int
    losses: Optional[int]
    outcome: Outcome
    significant: bool
    verdict: str


class PairComparison(Record):
    run_a: str
    system_a: str
    run_b: str
    system_b: str
    label_a: str
    label_b: str
    metrics: list[MetricComparison]


class Comparison(Record):
    """The result of ``evalkit compare`` / ``Run.compare``: per pair of systems, per metric, the
    paired statistics and a plain-language verdict (``verdicts`` lists them all)."""

    schema_version: int = SCHEMA_VERSION
    kind: str  # "runs" or "systems"
    runs: list[str]
    gold: GoldRef
    alpha: float
    confidence: float
    n_resamples: int
    seed: int
    min_items: int = DEFAULT_MIN_ITEMS
    test: str = TEST
    correction: str
    #: per metric, the Holm family its p-values were adjusted in
    families: dict[str, str] = Field(default_factory=dict)
    pairs: list[PairComparison]
    verdicts: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    #: runs on different parts of one gold set: which parts, and that they are compared on the shared items
    scope: Optional[str] = None


# --------------------------------------------------------------------------------------------
# helpers shared with the gate and the reports
# --------------------------------------------------------------------------------------------

def headline_metrics(specs: Sequence[MetricSpec], present: Sequence[str]) -> list[str]:
    """The metrics leaderboards show by default: each family's headline outputs, in order."""
    names = [o for s in specs for o in (s.headline or s.outputs)]
    chosen = [m for m in dict.fromkeys(names) if m in present]
    return chosen or list(present)


def config_differences(gold_a: GoldRef, specs_a: Sequence[MetricSpec], gold_b: GoldRef,
                       specs_b: Sequence[MetricSpec], metrics: Sequence[str], *,
                       a: str = "A", b: str = "B", sel_a: Optional[GoldSelection] = None,
                       sel_b: Optional[GoldSelection] = None) -> list[str]:
    """Why two sets of scores are not comparable: different gold set or metric configuration.

    Runs on parts of the same gold set (``--limit``, ``--sample``, ``--shard``: their
    selections record the full set's hash) are comparable, on the items both hold (see
    ``subset_scope``)."""
    diffs = []
    if full_hash(gold_a, sel_a) != full_hash(gold_b, sel_b):
        diffs.append(f"gold sets differ: {a} used {gold_a.name} ({_short(gold_a.hash)}, {gold_a.items} items), "
                     f"{b} used {gold_b.name} ({_short(gold_b.hash)}, {gold_b.items} items)")
    by_name_b = {s.name: s for s in specs_b}
    for spec in specs_a:
        if not any(m in spec.outputs for m in metrics):
            continue
        other = by_name_b.get(spec.name)
        if other is None:
            diffs.append(f"metric {spec.name!r} is not configured in {b}")
            continue
        changed = _dict_diff(spec.config, other.config)
        for m in metrics:
            da, db = spec.direction(m), other.direction(m)
            if m in spec.outputs and da and db and da != db:
                changed.append(f"direction of {m}: {da!r} vs {db!r}")
        if changed:
            diffs.append(f"metric {spec.name!r} configuration differs ({a} vs {b}): " + "; ".join(changed))
    return diffs


def _short(h: str) -> str:
    algo, _, digest = h.partition(":")
    return f"{algo}:{digest[:12]}" if digest else h[:12]


def _dict_diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "<unset>"), b.get(key, "<unset>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _dict_diff(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} vs {vb!r}")
    return out


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------

def compare_runs(run_a: Run, run_b: Optional[Run] = None, *, systems: Optional[Sequence[str]] = None,
                 metrics: Optional[Sequence[str]] = None, force: bool = False, alpha: float = ALPHA,
                 confidence: Optional[float] = None, n_resamples: Optional[int] = None, seed: Optional[int] = None,
                 min_items: Optional[int] = None) -> Comparison:
    """Compare two runs system by system, or (``run_b`` None) the systems of one run pairwise.

    ``confidence``, ``n_resamples``, ``seed`` and ``min_items`` default to the run's own (its
    summary and comparisons.json), so within one run the numbers are the reports' numbers.
    """
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    if min_items is not None and min_items < 1:
        raise UsageError(f"--min-items must be at least 1, got {min_items}")
    if run_b is None:
        return _compare_within(run_a, systems=systems, metrics=metrics, alpha=alpha, confidence=confidence,
                               n_resamples=n_resamples, seed=seed, min_items=min_items)
    man_a, scores_a = run_a.manifest, run_a.scores
    man_b, scores_b = run_b.manifest, run_b.scores
    summary_a = run_a.summary
    warnings: list[str] = []
    avail_a, avail_b = list(dict.fromkeys(scores_a["system"])), list(dict.fromkeys(scores_b["system"]))
    pairs = _pairs_across(avail_a, avail_b, systems, run_a, run_b)
    compared = {p[0][1] for p in pairs} | {p[1][1] for p in pairs}
    for avail, rid in ((avail_a, man_a.run_id), (avail_b, man_b.run_id)):
        left_out = [s for s in avail if s not in compared]
        if left_out and not systems:
            warnings.append(f"not compared (only in run {rid}): {', '.join(left_out)}")
    chosen = _choose_metrics(man_a.metrics, scores_a, scores_b, metrics)
    diffs = config_differences(man_a.gold, man_a.metrics, man_b.gold, man_b.metrics, chosen,
                               a=f"run A ({man_a.run_id})", b=f"run B ({man_b.run_id})",
                               sel_a=man_a.selection, sel_b=man_b.selection)
    scope = subset_scope(man_a.gold, man_a.selection, man_b.gold, man_b.selection,
                         a=f"run A ({man_a.run_id})", b=f"run B ({man_b.run_id})")
    if diffs and not force:
        raise UsageError("refusing to compare: " + " | ".join(diffs) + " (use --force to compare anyway)")
    warnings += [f"compared despite: {d}" for d in diffs]
    st = Settings(confidence or summary_a.confidence, n_resamples or summary_a.n_resamples,
                  man_a.seed if seed is None else seed, min_items or DEFAULT_MIN_ITEMS)
    directions = {m: _direction(m, man_a.metrics, man_b.metrics) for m in chosen}
    warnings += _direction_warnings(directions)
    rows: dict[str, list[PairRow]] = {}
    families: dict[str, str] = {}
    for m in chosen:
        rows[m], families[m] = metric_pairs(scores_a, scores_b, [(sa, sb) for (_, sa, _), (_, sb, _) in pairs], m,
                                            seed=st.seed, min_items=st.min_items, confidence=st.confidence,
                                            n_resamples=st.n_resamples)
    out = []
    for i, ((ra, sa, la), (rb, sb, lb)) in enumerate(pairs):
        results = [_result(m, directions[m], rows[m][i].numbers, rows[m][i].p_adjusted, la, lb, alpha,
                           st.confidence, multiple=len(pairs) > 1) for m in chosen]
        out.append(PairComparison(run_a=ra, system_a=sa, run_b=rb, system_b=sb, label_a=la, label_b=lb, metrics=results))
    correction = (CORRECTION.format(min_items=st.min_items) if len(pairs) > 1
                  else "none needed: one comparison per metric (metrics are not adjusted across each other)")
    return Comparison(kind="runs", runs=[man_a.run_id, man_b.run_id], gold=man_a.gold, alpha=alpha,
                      correction=correction, families=families if len(pairs) > 1 else {}, pairs=out,
                      verdicts=[m.verdict for p in out for m in p.metrics], warnings=warnings, scope=scope,
                      confidence=st.confidence, n_resamples=st.n_resamples, seed=st.seed, min_items=st.min_items)


def _compare_within(run: Run, *, systems: Optional[Sequence[str]], metrics: Optional[Sequence[str]], alpha: float,
                    confidence: Optional[float], n_resamples: Optional[int], seed: Optional[int],
                    min_items: Optional[int]) -> Comparison:
    summary, scores = run.summary, run.scores
    available = list(summary.systems) or list(dict.fromkeys(scores["system"]))
    names = list(dict.fromkeys(systems)) if systems else available
    for s in names:
        if s not in available:
            raise UsageError(f"system {s!r} is not in run {run.run_id} (systems: {', '.join(available)})")
    if len(names) < 2:
        raise UsageError(f"need two systems to compare; run {run.run_id} has {', '.join(names) or 'none'} "
                         "(give --systems a,b or a second run)")
    chosen = _choose_metrics(summary.metrics, scores, scores, metrics)
    stored, note = run.comparisons_at(min_items)
    st = Settings(confidence or stored.confidence, n_resamples or stored.n_resamples,
                  stored.seed if seed is None else seed, stored.min_items)
    custom = (st.confidence, st.n_resamples, st.seed) != (stored.confidence, stored.n_resamples, stored.seed)
    warnings = [note] if note else []
    directions = {m: recorded_direction(m, summary.metrics) for m in chosen}
    warnings += _direction_warnings(directions)
    # every pair of the run's systems that scored the metric: the same family as comparisons.json
    computed: dict[str, dict[tuple[str, str], tuple[PairNumbers, Optional[float]]]] = {}
    families: dict[str, str] = {}
    for m in chosen:
        mc = None if custom else stored.get(m)
        if mc is not None:
            computed[m] = {(p.system_a, p.system_b): (numbers_of(p, mc.direction), p.p_adjusted) for p in mc.pairs}
            families[m] = mc.family
            continue
        scored = [s for s in available if s in set(scores.loc[scores["metric"] == m, "system"])]
        run_pairs = [(a, b) for i, a in enumerate(scored) for b in scored[i + 1:]]
        rows, families[m] = metric_pairs(scores, scores, run_pairs, m, seed=st.seed, min_items=st.min_items,
                                         confidence=st.confidence, n_resamples=st.n_resamples)
        computed[m] = {(r.a, r.b): (r.numbers, r.p_adjusted) for r in rows}
    out = []
    rid = run.run_id
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            results = []
            for m in chosen:
                numbers, p_adj = _lookup(computed[m], a, b)
                results.append(_result(m, directions[m], numbers, p_adj, a, b, alpha, st.confidence, multiple=True))
            out.append(PairComparison(run_a=rid, system_a=a, run_b=rid, system_b=b, label_a=a, label_b=b, metrics=results))
    return Comparison(kind="systems", runs=[rid], gold=summary.gold, alpha=alpha,
                      correction=CORRECTION.format(min_items=st.min_items) + f" — the family is every pair of the run's "
                      f"{len(available)} systems, as in comparisons.json", families=families, pairs=out,
                      verdicts=[m.verdict for p in out for m in p.metrics], warnings=warnings,
                      confidence=st.confidence, n_resamples=st.n_resamples, seed=st.seed, min_items=st.min_items)


def _lookup(table: dict[tuple[str, str], tuple[PairNumbers, Optional[float]]], a: str, b: str
            ) -> tuple[PairNumbers, Optional[float]]:
    if (a, b) in table:
        return table[(a, b)]
    if (b, a) in table:
        numbers, p_adj = table[(b, a)]
        return flipped(numbers), p_adj
    return PairNumbers(0, None, None, None, None, None, None, None, 0, 0, 0, tested=False), None


def _direction(metric: str, specs_a: Sequence[MetricSpec], specs_b: Sequence[MetricSpec]) -> Optional[Direction]:
    return recorded_direction(metric, specs_a) or recorded_direction(metric, specs_b)


def _direction_warnings(directions: dict[str, Optional[Direction]]) -> list[str]:
    missing = [m for m, d in directions.items() if d is None]
    if not missing:
        return []
    return [f"the run records no direction for {', '.join(missing)} (made by an older evalkit): differences are "
            "reported without calling either side better; re-score it with `evalkit score --run RUN` to record them"]


def _result(metric: str, direction: Optional[Direction], p: PairNumbers, p_adj: Optional[float], la: str, lb: str,
            alpha: float, confidence: float, *, multiple: bool) -> MetricComparison:
    outcome = outcome_of(p, p_adj, direction, alpha)
    wins, losses = wins_losses(p, direction)
    return MetricComparison(
        metric=metric, direction=direction, n=p.n, mean_a=p.mean_a, mean_b=p.mean_b, delta=p.delta, ci_low=p.ci_low,
        ci_high=p.ci_high, p_value=p.p_value, p_adjusted=p_adj, effect_size=p.effect_size, wins=wins, ties=p.ties,
        losses=losses, outcome=outcome, significant=outcome in ("a_better", "b_better", "differ"),
        verdict=verdict(la, lb, metric, direction, p, p_adj, outcome, confidence, multiple=multiple))


def verdict(la: str, lb: str, metric: str, direction: Optional[Direction], p: PairNumbers, p_adj: Optional[float],
            outcome: Outcome, confidence: float, *, multiple: bool) -> str:
    """The plain-language verdict of one pair on one metric."""
    if outcome == "no_items":
        return f"{metric}: no item scored by both {la} and {lb}"
    if outcome == "too_few_items":
        return f"{la} vs {lb} on {metric}: {too_few_text(p.n)}"
    p_txt = fmt_p_eq(p_adj) + (" Holm-adjusted" if multiple else "")
    stats_txt = (f"Δ {fmt_num(p.delta, signed=True)}, {confidence:.0%} CI "
                 f"[{fmt_num(p.ci_low, signed=True)}, {fmt_num(p.ci_high, signed=True)}], {p_txt}, n={p.n}")
    if outcome == "no_difference":
        return f"no significant difference between {la} and {lb} on {metric} ({stats_txt})"
    if outcome == "differ":
        higher = lb if (p.delta or 0) > 0 else la
        why = ("descriptive, so neither is better" if direction == "none"
               else "its direction is not recorded in the run, so neither is called better")
        return f"{la} and {lb} differ on {metric}: {higher} higher ({stats_txt}; {why})"
    better, worse = (lb, la) if outcome == "b_better" else (la, lb)
    return f"{better} better than {worse} on {metric} ({stats_txt})"


Side = tuple[str, str, str]  # run id, system, label


def _pairs_across(avail_a: list[str], avail_b: list[str], systems: Optional[Sequence[str]],
                  run_a: Run, run_b: Run) -> list[tuple[Side, Side]]:
    ra, rb = run_a.run_id, run_b.run_id
    if systems:
        for s in systems:
            for avail, rid in ((avail_a, ra), (avail_b, rb)):
                if s not in avail:
                    raise UsageError(f"system {s!r} is not in run {rid} (systems: {', '.join(avail)})")
        names = list(dict.fromkeys(systems))
    else:
        names = [s for s in avail_a if s in avail_b]
        if not names:
            if len(avail_a) == 1 and len(avail_b) == 1:
                a, b = avail_a[0], avail_b[0]
                return [((ra, a, f"{a} ({ra})"), (rb, b, f"{b} ({rb})"))]
            raise UsageError(f"runs {ra} and {rb} have no system in common "
                             f"({', '.join(avail_a)} vs {', '.join(avail_b)})")
    return [((ra, s, f"{s} ({ra})"), (rb, s, f"{s} ({rb})")) for s in names]


def _choose_metrics(specs: Sequence[MetricSpec], scores_a: pd.DataFrame, scores_b: pd.DataFrame,
                    wanted: Optional[Sequence[str]]) -> list[str]:
    present_b = set(scores_b["metric"])
    common = [m for m in dict.fromkeys(scores_a["metric"]) if m in present_b]
    if wanted:
        for m in wanted:
            if m not in common:
                raise UsageError(f"metric {m!r} is not scored in both runs (common metrics: {', '.join(common) or 'none'})")
        return list(dict.fromkeys(wanted))
    if not common:
        raise UsageError("the runs have no scored metric in common")
    return headline_metrics(specs, common)
