"""The one pairwise comparison of a run's systems, computed once: ``comparisons.json``.

The stats stage writes it right after ``summary.json``; the terminal leaderboard, report.md,
report.html, ``evalkit compare`` (systems within one run) and the gate's ``not_worse_than``
rules read it, so every significance mark and verdict comes from the same numbers. No
renderer computes statistics.

What it holds, for every headline metric whose recorded direction is ``higher`` or ``lower``
(descriptive outputs, direction ``none``, are never ranked; a spec without directions, from an
older evalkit, is named in ``not_compared`` instead of being assumed "higher"):

* every pair of systems (A before B in run order) on the items both scored: means, Δ = B − A
  with its paired-bootstrap CI, the two-sided paired permutation p, the Holm-adjusted p (the
  family: the metric's pairs with at least ``min_items`` shared items), effect size,
  wins/ties/losses in the metric's direction, and the outcome;
* a pair with fewer than ``min_items`` shared items (default 10, ``[stats] min_items`` in
  evalkit.toml, ``--min-items``) is not tested: its outcome is ``too_few_items``, which every
  renderer prints as "too few items to compare (n=4)", never as "not significantly different";
* the column's best (best mean among systems with at least ``min_items`` items) and each
  system against it: ``best`` / ``tied`` / ``worse`` / ``too_few_items``.

A run directory made before this file existed (or whose summary changed since) is read with
:func:`load_comparisons`, which computes the comparisons in memory and says so;
``evalkit report RUN`` stores them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from evalkit.comparison_records import MetricComparisons, Outcome, PairStat, Ranked, RunComparisons, VersusBest
from evalkit.fsutil import write_json_atomic
from evalkit.records import Direction, RunSummary, recorded_direction
from evalkit.rundir import RunDir, _read_record
from evalkit.stats import TIE_TOLERANCE, PairedResult, _r, holm, items_digest, paired_tests, stable_rng

FILE_NAME = "comparisons.json"
DEFAULT_MIN_ITEMS = 10
ALPHA = 0.05
TEST = ("two-sided paired permutation test (sign flips, as scipy.stats.permutation_test with "
        "permutation_type='samples'; statistic = mean difference); CI: paired BCa bootstrap of the mean "
        "difference; one set of seeded resamples per system pair and item set, shared by the metrics")
CORRECTION = ("Holm within each metric, across its system pairs with at least {min_items} shared items "
              "(metrics are separate questions and are not adjusted across each other)")
NOT_RECORDED = ("direction not recorded (run made by an older evalkit): not ranked; "
                "re-score with `evalkit score --run RUN` to record it")
DESCRIPTIVE = "descriptive (direction none): shown, never ranked"


def comparisons_path(rundir: RunDir) -> Path:
    return rundir.path / FILE_NAME


def too_few_text(n: int) -> str:
    """How every renderer words an untested pair."""
    return f"too few items to compare (n={n})"


def too_few_n(summary: RunSummary, mc: MetricComparisons, system: str, min_items: int) -> int:
    """The n behind a ``too_few_items`` standing: the system's own items when they are fewer than
    the minimum, else the items it shares with the column's best."""
    own = summary.systems[system].metrics[mc.metric].n
    pair = mc.pair(mc.best, system) if mc.best else None
    return own if own < min_items or pair is None else pair.n


# --------------------------------------------------------------------------------------------
# one pair
# --------------------------------------------------------------------------------------------

#: B against A on the items both scored (``tested`` False when n < min_items: no CI, no p);
#: ``wins``/``losses`` count items where B is higher/lower, whatever the direction
PairNumbers = PairedResult


def pair_rng(seed: int, a: str, b: str, item_ids: Sequence[str]) -> np.random.Generator:
    """The generator of one system pair's comparisons on one item set (every metric scored on
    those items shares its draws): seeded by the run's seed, the two systems and the items
    (not the run id or directory, so a run's numbers do not depend on where it was written)."""
    return stable_rng(seed, "pair", a, b, items_digest(item_ids))


def untested_numbers(va: np.ndarray, vb: np.ndarray) -> PairNumbers:
    """Means, delta and wins/ties/losses of a pair with too few items to test (no CI, no p)."""
    n = int(va.size)
    d = vb - va
    d[np.abs(d) < TIE_TOLERANCE] = 0.0
    higher, lower = int((d > 0).sum()), int((d < 0).sum())
    ma, mb, md = ((_r(float(x.mean())) if n else None) for x in (va, vb, d))
    return PairNumbers(n, ma, mb, md, None, None, None, None, higher, n - higher - lower, lower, tested=False)


class ScoreTable:
    """A tidy scores table indexed once: per (system, metric) the finite values by gold_id."""

    def __init__(self, scores: pd.DataFrame):
        self._series: dict[tuple[str, str], pd.Series] = {}
        for (system, metric), sel in scores.groupby(["system", "metric"], sort=False):
            s = pd.Series(sel["value"].to_numpy(dtype=float), index=sel["gold_id"].astype(str).to_numpy())
            if s.index.has_duplicates:
                from evalkit.errors import InputError

                dup = s.index[s.index.duplicated()][0]
                raise InputError(f"scores hold {metric!r} of system {system!r} twice for gold_id {dup!r}",
                                 field="gold_id")
            self._series[(str(system), str(metric))] = s[np.isfinite(s.to_numpy())]

    def get(self, system: str, metric: str) -> pd.Series:
        return self._series.get((system, metric), pd.Series(dtype=float))


def aligned(ta: ScoreTable, a: str, tb: ScoreTable, b: str, metric: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The items both systems scored (finite), sorted by gold_id, and their values."""
    sa, sb = ta.get(a, metric), tb.get(b, metric)
    common = sorted(set(sa.index) & set(sb.index))
    return common, sa.loc[common].to_numpy(dtype=float), sb.loc[common].to_numpy(dtype=float)


def pair_table(ta: ScoreTable, tb: ScoreTable, pairs: Sequence[tuple[str, str]], metrics: Sequence[str], *,
               seed: int, min_items: int, confidence: float, n_resamples: int
               ) -> dict[str, list[PairNumbers]]:
    """Per metric, the numbers of every pair (system a in ``ta`` against b in ``tb``), in order.
    Per pair, the metrics scored on the same items are tested together, on one set of draws."""
    out: dict[str, list[PairNumbers]] = {m: [] for m in metrics}
    for a, b in pairs:
        groups: dict[tuple[str, ...], list[tuple[str, np.ndarray, np.ndarray]]] = {}
        for m in metrics:
            common, va, vb = aligned(ta, a, tb, b, m)
            groups.setdefault(tuple(common), []).append((m, va, vb))
        numbers: dict[str, PairNumbers] = {}
        for ids, members in groups.items():
            if len(ids) >= max(min_items, 1):
                results = paired_tests(np.vstack([va for _, va, _ in members]), np.vstack([vb for _, _, vb in members]),
                                       confidence=confidence, n_resamples=n_resamples, rng=pair_rng(seed, a, b, ids))
                numbers.update({m: r for (m, _, _), r in zip(members, results)})
            else:
                numbers.update({m: untested_numbers(va, vb) for m, va, vb in members})
        for m in metrics:
            out[m].append(numbers[m])
    return out


def outcome_of(p: PairNumbers, p_adjusted: Optional[float], direction: Optional[Direction], alpha: float) -> Outcome:
    """How a pair came out. A significant difference of a metric without a direction (descriptive,
    or not recorded) is ``differ``: never "better"."""
    if p.n == 0:
        return "no_items"
    if not p.tested:
        return "too_few_items"
    if p_adjusted is None or p_adjusted >= alpha or not p.delta:
        return "no_difference"
    if direction not in ("higher", "lower"):
        return "differ"
    return "b_better" if (p.delta > 0) == (direction == "higher") else "a_better"


def wins_losses(p: PairNumbers, direction: Optional[Direction]) -> tuple[Optional[int], Optional[int]]:
    """Items where B is better / worse than A in the metric's direction (None without one)."""
    if direction == "higher":
        return p.wins, p.losses
    if direction == "lower":
        return p.losses, p.wins
    return None, None


def family_text(metric: str, tested: int, untested: int, min_items: int) -> str:
    text = (f"Holm across the {tested} system pair{'s' if tested != 1 else ''} of {metric} "
            f"with at least {min_items} shared items")
    if untested:
        text += f" ({untested} pair{'s' if untested != 1 else ''} with fewer not tested)"
    return text


# --------------------------------------------------------------------------------------------
# a run
# --------------------------------------------------------------------------------------------

def summary_digest(summary: RunSummary) -> str:
    """sha256 of what the comparisons are computed from: the summary without the systems' usage,
    the prices and which notes are warnings (measured latencies differ between runs of the same
    inputs; comparisons never read any of them; summaries written before they existed keep their digest)."""
    skip: dict[str, Any] = {"systems": {name: {"usage"} for name in summary.systems}, "warnings": True, "prices": True}
    return "sha256:" + hashlib.sha256(summary.model_dump_json(exclude=skip).encode("utf-8")).hexdigest()


def headline_outputs(summary: RunSummary) -> list[str]:
    """The headline outputs of the run's metric specs that some system has a mean for, in spec order."""
    names = [h for m in summary.metrics for h in (m.headline or m.outputs)]
    present = {k for s in summary.systems.values() for k, st in s.metrics.items() if st.mean is not None}
    return [n for n in dict.fromkeys(names) if n in present]


def compute_comparisons(summary: RunSummary, scores: pd.DataFrame, *, min_items: int = DEFAULT_MIN_ITEMS,
                        alpha: float = ALPHA) -> RunComparisons:
    """All system pairs × headline metrics with a known direction (see the module docstring)."""
    if min_items < 1:
        from evalkit.errors import UsageError

        raise UsageError(f"min_items must be at least 1, got {min_items}")
    systems = list(summary.systems)
    metrics: list[MetricComparisons] = []
    not_compared: dict[str, str] = {}
    todo: list[tuple[str, Ranked, list[str]]] = []
    for metric in headline_outputs(summary):
        direction = recorded_direction(metric, summary.metrics)
        if direction is None:
            not_compared[metric] = NOT_RECORDED
            continue
        if direction == "none":
            not_compared[metric] = DESCRIPTIVE
            continue
        scored = [s for s in systems if (st := summary.systems[s].metrics.get(metric)) is not None and st.mean is not None]
        if len(scored) < 2:
            not_compared[metric] = "scored for fewer than two systems"
            continue
        todo.append((metric, direction, scored))
    table = ScoreTable(scores)
    numbers = _numbers_by_scored_set(summary, table, todo, min_items=min_items)
    for metric, direction, scored in todo:
        metrics.append(compare_metric(summary, scored, metric, direction, numbers[metric], min_items=min_items,
                                      alpha=alpha))
    return RunComparisons(
        run_id=summary.run_id, gold=summary.gold, summary_digest=summary_digest(summary), test=TEST,
        correction=CORRECTION.format(min_items=min_items), alpha=alpha, confidence=summary.confidence,
        n_resamples=summary.n_resamples, seed=summary.seed, min_items=min_items, systems=systems,
        metrics=metrics, not_compared=not_compared)


@dataclass(frozen=True)
class PairRow:
    a: str
    b: str
    numbers: PairNumbers
    p_adjusted: Optional[float]


def _numbers_by_scored_set(summary: RunSummary, table: ScoreTable, todo: Sequence[tuple[str, Ranked, list[str]]], *,
                           min_items: int) -> dict[str, list[PairNumbers]]:
    """The pair numbers of every metric to compare; metrics scored by the same systems share one pass."""
    by_systems: dict[tuple[str, ...], list[str]] = {}
    for metric, _, scored in todo:
        by_systems.setdefault(tuple(scored), []).append(metric)
    out: dict[str, list[PairNumbers]] = {}
    for systems, names in by_systems.items():
        pairs = [(a, b) for i, a in enumerate(systems) for b in systems[i + 1:]]
        out.update(pair_table(table, table, pairs, names, seed=summary.seed, min_items=min_items,
                              confidence=summary.confidence, n_resamples=summary.n_resamples))
    return out


def holm_rows(pairs: Sequence[tuple[str, str]], numbers: Sequence[PairNumbers], metric: str,
              min_items: int) -> tuple[list[PairRow], str]:
    """Holm-adjust one metric's tested pairs: the rows and the family in words."""
    tested = [i for i, p in enumerate(numbers) if p.tested]
    adjusted = dict(zip(tested, holm([numbers[i].p_value for i in tested])))
    rows = [PairRow(a, b, p, adjusted.get(i)) for i, ((a, b), p) in enumerate(zip(pairs, numbers))]
    return rows, family_text(metric, len(tested), len(pairs) - len(tested), min_items)


def metric_pairs(scores_a: pd.DataFrame, scores_b: pd.DataFrame, pairs: Sequence[tuple[str, str]], metric: str, *,
                 seed: int, min_items: int, confidence: float, n_resamples: int) -> tuple[list[PairRow], str]:
    """Test every pair (system a in ``scores_a`` against system b in ``scores_b``) on ``metric``
    and Holm-adjust across the tested ones: the rows and the family in words. (The numbers are
    those :func:`compute_comparisons` gives: the draws depend on the pair and its items only.)"""
    table_a = ScoreTable(scores_a)
    table_b = table_a if scores_b is scores_a else ScoreTable(scores_b)
    numbers = pair_table(table_a, table_b, pairs, [metric], seed=seed, min_items=min_items, confidence=confidence,
                         n_resamples=n_resamples)[metric]
    return holm_rows(pairs, numbers, metric, min_items)


def compare_metric(summary: RunSummary, systems: Sequence[str], metric: str, direction: Ranked,
                   numbers: Sequence[PairNumbers], *, min_items: int, alpha: float) -> MetricComparisons:
    pairs = [(a, b) for i, a in enumerate(systems) for b in systems[i + 1:]]
    rows, family = holm_rows(pairs, numbers, metric, min_items)
    stats = []
    for r in rows:
        p = r.numbers
        wins, losses = wins_losses(p, direction)
        stats.append(PairStat(system_a=r.a, system_b=r.b, n=p.n, mean_a=p.mean_a, mean_b=p.mean_b, delta=p.delta,
                              ci_low=p.ci_low, ci_high=p.ci_high, p_value=p.p_value, p_adjusted=r.p_adjusted,
                              effect_size=p.effect_size, wins=wins or 0, ties=p.ties, losses=losses or 0,
                              outcome=outcome_of(p, r.p_adjusted, direction, alpha)))
    mc = MetricComparisons(metric=metric, direction=direction, family=family,
                           tested=sum(r.numbers.tested for r in rows), best=None, pairs=stats)
    best, versus = versus_best(summary, systems, metric, direction, mc, min_items)
    return mc.model_copy(update={"best": best, "versus_best": versus})


def numbers_of(stat: PairStat, direction: Ranked) -> PairNumbers:
    """The stored pair as PairNumbers (to re-judge it at another alpha or show it flipped)."""
    higher, lower = (stat.wins, stat.losses) if direction == "higher" else (stat.losses, stat.wins)
    return PairNumbers(stat.n, stat.mean_a, stat.mean_b, stat.delta, stat.ci_low, stat.ci_high, stat.p_value,
                       stat.effect_size, higher, stat.ties, lower,
                       tested=stat.outcome not in ("too_few_items", "no_items"))


def flipped(p: PairNumbers) -> PairNumbers:
    """A against B instead of B against A (same test, sides swapped)."""
    def neg(x: Optional[float]) -> Optional[float]:
        return None if x is None else _r(-x)

    return PairNumbers(p.n, p.mean_b, p.mean_a, neg(p.delta), neg(p.ci_high), neg(p.ci_low), p.p_value,
                       neg(p.effect_size), p.losses, p.ties, p.wins, p.alternative, p.tested)


def versus_best(summary: RunSummary, systems: Sequence[str], metric: str, direction: Ranked,
                mc: MetricComparisons, min_items: int) -> tuple[Optional[str], dict[str, VersusBest]]:
    """The column's best mean among systems with at least ``min_items`` items (None when every
    system ties or none has enough items), and each system against it."""
    stats = {s: summary.systems[s].metrics[metric] for s in systems}
    eligible = [s for s in systems if stats[s].n >= min_items]
    out: dict[str, VersusBest] = {s: "too_few_items" for s in systems if stats[s].n < min_items}
    if not eligible or len({stats[s].mean for s in systems}) == 1:
        return None, out
    sign = 1.0 if direction == "higher" else -1.0
    order = {s: i for i, s in enumerate(systems)}
    best = max(eligible, key=lambda s: (sign * float(stats[s].mean or 0.0), -order[s]))  # ties: the first
    for s in eligible:
        if s == best:
            out[s] = "best"
            continue
        p = mc.pair(best, s)
        if p is None or p.outcome in ("too_few_items", "no_items"):
            out[s] = "too_few_items"
        elif p.outcome == ("a_better" if p.system_a == best else "b_better"):  # the best is significantly better
            out[s] = "worse"
        else:
            out[s] = "tied"
    return best, {s: out[s] for s in systems if s in out}


# --------------------------------------------------------------------------------------------
# reading and writing
# --------------------------------------------------------------------------------------------

def write_comparisons(rundir: RunDir, summary: RunSummary, scores: pd.DataFrame, *,
                      min_items: int = DEFAULT_MIN_ITEMS) -> RunComparisons:
    """The stats stage: compute the run's comparisons and write ``comparisons.json``."""
    comparisons = compute_comparisons(summary, scores, min_items=min_items)
    write_json_atomic(comparisons_path(rundir), comparisons.model_dump(mode="json"))
    return comparisons


def load_comparisons(rundir: RunDir, summary: Optional[RunSummary] = None, scores: Optional[pd.DataFrame] = None,
                     *, min_items: Optional[int] = None, store: bool = False) -> tuple[RunComparisons, Optional[str]]:
    """The run's comparisons and, when they had to be computed now, a note saying why.

    Read from ``comparisons.json`` when it exists, matches the run's summary and has the
    requested ``min_items`` (None: whatever was recorded). Otherwise computed in memory from
    summary.json and the scores (an old run directory, a re-scored summary, another minimum):
    the same function with the same seeds gives the same numbers. ``store=True`` (``evalkit
    report``) writes them to comparisons.json.
    """
    summary = summary if summary is not None else rundir.read_summary()
    path = comparisons_path(rundir)
    why = f"{rundir.path} has no {FILE_NAME} (made by an older evalkit)"
    if path.is_file():
        stored: RunComparisons = _read_record(path, RunComparisons)
        if stored.summary_digest != summary_digest(summary):
            why = f"{path} does not match summary.json (the run was re-scored)"
        elif min_items is not None and stored.min_items != min_items:
            why = f"{path} was computed with min_items={stored.min_items}, not {min_items}"
        else:
            return stored, None
    scores = scores if scores is not None else rundir.read_scores()
    computed = compute_comparisons(summary, scores, min_items=min_items or DEFAULT_MIN_ITEMS)
    if store:
        write_json_atomic(path, computed.model_dump(mode="json"))
        return computed, f"{why}: comparisons computed and stored in {path}"
    return computed, f"{why}: comparisons computed now; `evalkit report {rundir.path}` stores them"
