"""Comparing systems: two runs (the same systems before and after a change) or systems within
one run, metric by metric, with paired tests on the items both scored.

Refuses to compare runs whose gold set or metric configuration differ (the numbers would not
mean the same thing), naming the difference; ``force=True`` compares anyway with a warning.
Multiple comparisons: with more than one system pair, p-values are Holm-adjusted across the
pairs of each metric (metrics are separate questions and are not adjusted across each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, Optional

import pandas as pd
from pydantic import Field

from evalkit.errors import UsageError
from evalkit.records import SCHEMA_VERSION, GoldRef, MetricSpec, Record
from evalkit.rundir import RunDir
from evalkit.stats import fmt_num, fmt_p_eq, holm, paired_frame, paired_test, stable_rng

PERMUTATION_TEST = ("paired permutation test (scipy.stats.permutation_test, permutation_type='samples', "
                    "statistic = mean difference, two-sided); CI: paired bootstrap of the mean difference")


class MetricComparison(Record):
    metric: str
    higher_is_better: bool = True
    n: int
    mean_a: Optional[float]
    mean_b: Optional[float]
    delta: Optional[float]  # mean of B - A over the paired items
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    p_adjusted: Optional[float]
    effect_size: Optional[float]
    wins: int  # items where B is better than A (in the metric's direction)
    ties: int
    losses: int
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
    schema_version: int = SCHEMA_VERSION
    kind: str  # "runs" or "systems"
    runs: list[str]
    gold: GoldRef
    alpha: float
    confidence: float
    n_resamples: int
    seed: int
    test: str = PERMUTATION_TEST
    correction: str
    pairs: list[PairComparison]
    verdicts: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# helpers shared with the gate and the reports
# --------------------------------------------------------------------------------------------

def higher_is_better(metric: str, specs: Sequence[MetricSpec]) -> bool:
    """A metric's direction, from its class's ``lower_is_better`` (higher is better by default)."""
    from evalkit.metrics.registry import metric_class

    for spec in specs:
        if metric in spec.outputs:
            try:
                return metric not in metric_class(spec.name).lower_is_better
            except Exception:
                return True
    return True


def headline_metrics(specs: Sequence[MetricSpec], present: Sequence[str]) -> list[str]:
    """The metrics leaderboards show by default: each family's headline outputs, in order."""
    names = [o for s in specs for o in (s.headline or s.outputs)]
    chosen = [m for m in dict.fromkeys(names) if m in present]
    return chosen or list(present)


def config_differences(gold_a: GoldRef, specs_a: Sequence[MetricSpec], gold_b: GoldRef,
                       specs_b: Sequence[MetricSpec], metrics: Sequence[str], *,
                       a: str = "A", b: str = "B") -> list[str]:
    """Why two sets of scores are not comparable: different gold set or metric configuration."""
    diffs = []
    if gold_a.hash != gold_b.hash:
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

def compare_runs(run_a: RunDir, run_b: Optional[RunDir] = None, *, systems: Optional[Sequence[str]] = None,
                 metrics: Optional[Sequence[str]] = None, force: bool = False, alpha: float = 0.05,
                 confidence: float = 0.95, n_resamples: int = 10000, seed: Optional[int] = None) -> Comparison:
    """Compare two runs system by system, or (``run_b`` None) the systems of one run pairwise."""
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    man_a, scores_a = run_a.read_manifest(), run_a.read_scores()
    warnings: list[str] = []
    if run_b is None:
        man_b, scores_b = man_a, scores_a
        pairs = _pairs_within(list(dict.fromkeys(scores_a["system"])), systems, run_a)
    else:
        man_b, scores_b = run_b.read_manifest(), run_b.read_scores()
        avail_a, avail_b = list(dict.fromkeys(scores_a["system"])), list(dict.fromkeys(scores_b["system"]))
        pairs = _pairs_across(avail_a, avail_b, systems, run_a, run_b)
        compared = {p[0][1] for p in pairs} | {p[1][1] for p in pairs}
        for avail, rid in ((avail_a, man_a.run_id), (avail_b, man_b.run_id)):
            left_out = [s for s in avail if s not in compared]
            if left_out and not systems:
                warnings.append(f"not compared (only in run {rid}): {', '.join(left_out)}")
    chosen = _choose_metrics(man_a.metrics, scores_a, scores_b, metrics)
    if run_b is not None:
        diffs = config_differences(man_a.gold, man_a.metrics, man_b.gold, man_b.metrics, chosen,
                                   a=f"run A ({man_a.run_id})", b=f"run B ({man_b.run_id})")
        if diffs and not force:
            raise UsageError("refusing to compare: " + " | ".join(diffs) + " (use --force to compare anyway)")
        warnings += [f"compared despite: {d}" for d in diffs]
    seed = man_a.seed if seed is None else seed
    comparison = _compare_pairs(pairs, scores_a, scores_b, chosen, man_a.metrics, alpha=alpha,
                                confidence=confidence, n_resamples=n_resamples, seed=seed)
    return Comparison(kind="systems" if run_b is None else "runs", runs=[man_a.run_id] + ([man_b.run_id] if run_b else []),
                      gold=man_a.gold, alpha=alpha, confidence=confidence, n_resamples=n_resamples, seed=seed,
                      correction=_correction_text(len(pairs)), pairs=comparison,
                      verdicts=[m.verdict for p in comparison for m in p.metrics], warnings=warnings)


def compare_frame(scores: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str],
                  specs: Sequence[MetricSpec], *, run_id: str = "", alpha: float = 0.05,
                  confidence: float = 0.95, n_resamples: int = 10000, seed: int = 0) -> list[PairComparison]:
    """Pairwise comparisons of systems within one scores table (used by the reports)."""
    sides = [((run_id, a, a), (run_id, b, b)) for a, b in pairs]
    return _compare_pairs(sides, scores, scores, metrics, specs, alpha=alpha, confidence=confidence,
                          n_resamples=n_resamples, seed=seed)


def _correction_text(n_pairs: int) -> str:
    if n_pairs <= 1:
        return "none needed: one comparison per metric (metrics are not adjusted across each other)"
    return (f"Holm across the {n_pairs} system pairs of each metric "
            "(metrics are not adjusted across each other)")


Side = tuple[str, str, str]  # run id, system, label


def _pairs_within(available: list[str], systems: Optional[Sequence[str]], run: RunDir) -> list[tuple[Side, Side]]:
    names = list(systems) if systems else available
    for s in names:
        if s not in available:
            raise UsageError(f"system {s!r} is not in run {run.run_id} (systems: {', '.join(available)})")
    if len(names) < 2:
        raise UsageError(f"need two systems to compare; run {run.run_id} has {', '.join(names) or 'none'} "
                         "(give --systems a,b or a second run)")
    rid = run.run_id
    return [((rid, a, a), (rid, b, b)) for a, b in combinations(dict.fromkeys(names), 2)]


def _pairs_across(avail_a: list[str], avail_b: list[str], systems: Optional[Sequence[str]],
                  run_a: RunDir, run_b: RunDir) -> list[tuple[Side, Side]]:
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


def _compare_pairs(pairs: Sequence[tuple[Side, Side]], scores_a: pd.DataFrame, scores_b: pd.DataFrame,
                   metrics: Sequence[str], specs: Sequence[MetricSpec], *, alpha: float, confidence: float,
                   n_resamples: int, seed: int) -> list[PairComparison]:
    raw: dict[tuple[int, str], tuple] = {}
    for i, ((ra, sa, _la), (rb, sb, _lb)) in enumerate(pairs):
        for metric in metrics:
            va, vb = paired_frame(scores_a, sa, scores_b, sb, metric)
            higher = higher_is_better(metric, specs)
            rng = stable_rng(seed, "compare", ra, sa, rb, sb, metric)
            r = paired_test(va, vb, confidence=confidence, n_resamples=n_resamples, rng=rng)
            wins, losses = (r.wins, r.losses) if higher else (r.losses, r.wins)  # wins: B better
            raw[(i, metric)] = (higher, r, wins, losses)
    adjusted: dict[tuple[int, str], Optional[float]] = {}
    for metric in metrics:  # Holm family: the pairs of one metric
        keys = [(i, metric) for i in range(len(pairs))]
        for k, p in zip(keys, holm([raw[k][1].p_value for k in keys])):
            adjusted[k] = p
    out = []
    for i, ((ra, sa, la), (rb, sb, lb)) in enumerate(pairs):
        rows = []
        for metric in metrics:
            higher, r, wins, losses = raw[(i, metric)]
            p_adj = adjusted[(i, metric)]
            significant = p_adj is not None and p_adj < alpha and bool(r.delta)
            rows.append(MetricComparison(
                metric=metric, higher_is_better=higher, n=r.n, mean_a=r.mean_a, mean_b=r.mean_b, delta=r.delta,
                ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value, p_adjusted=p_adj, effect_size=r.effect_size,
                wins=wins, ties=r.ties, losses=losses, significant=significant,
                verdict=_verdict(la, lb, metric, r, p_adj, significant, higher, confidence, multiple=len(pairs) > 1)))
        out.append(PairComparison(run_a=ra, system_a=sa, run_b=rb, system_b=sb, label_a=la, label_b=lb, metrics=rows))
    return out


def _verdict(la: str, lb: str, metric: str, r, p_adj, significant: bool, higher: bool, confidence: float,
             *, multiple: bool) -> str:
    if r.n == 0:
        return f"{metric}: no item scored by both {la} and {lb}"
    p_txt = fmt_p_eq(p_adj) + (" Holm-adjusted" if multiple else "")
    stats_txt = (f"Δ {fmt_num(r.delta, signed=True)}, {confidence:.0%} CI "
                 f"[{fmt_num(r.ci_low, signed=True)}, {fmt_num(r.ci_high, signed=True)}], {p_txt}, n={r.n}")
    if not significant:
        return f"no significant difference between {la} and {lb} on {metric} ({stats_txt})"
    b_better = (r.delta > 0) == higher
    better, worse = (lb, la) if b_better else (la, lb)
    return f"{better} better than {worse} on {metric} ({stats_txt})"
