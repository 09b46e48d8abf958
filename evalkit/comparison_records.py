"""``comparisons.json``: the one pairwise comparison of a run's systems, read by every renderer
(re-exported by evalkit.records with the other records)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from evalkit.records import SCHEMA_VERSION, GoldRef, Record

#: how a pair came out: B better / A better (significant after Holm), no significant difference,
#: fewer shared items than the minimum (not tested), or no shared item at all
#: ("differ": significant, but the metric has no direction to call either better)
Outcome = Literal["b_better", "a_better", "no_difference", "differ", "too_few_items", "no_items"]
#: the directions that rank systems
Ranked = Literal["higher", "lower"]
#: a system against the column's best: the best itself, not significantly different (or
#: significantly better on the items both scored), significantly worse, or too few items to tell
VersusBest = Literal["best", "tied", "worse", "too_few_items"]


class PairStat(Record):
    """System B against system A on one metric, over the items both scored (Δ = B − A)."""

    system_a: str
    system_b: str
    n: int  # items both scored (finite on both sides)
    mean_a: Optional[float]
    mean_b: Optional[float]
    delta: Optional[float]
    ci_low: Optional[float]  # paired-bootstrap CI of delta (None: not tested)
    ci_high: Optional[float]
    p_value: Optional[float]  # two-sided paired permutation test (None: not tested)
    p_adjusted: Optional[float]  # Holm across the metric's family (see MetricComparisons.family)
    effect_size: Optional[float]  # d_z = mean(d) / sd(d)
    wins: int  # items where B is better than A in the metric's direction
    ties: int
    losses: int
    outcome: Outcome


class MetricComparisons(Record):
    """Every pair of systems on one metric with a direction, and each system against the best."""

    metric: str
    direction: Ranked
    family: str  # the Holm family, in words
    tested: int  # pairs in that family (pairs with at least min_items shared items)
    best: Optional[str]  # best mean among systems with at least min_items items (None: no such system / all tie)
    versus_best: dict[str, VersusBest] = Field(default_factory=dict)
    pairs: list[PairStat] = Field(default_factory=list)

    def pair(self, a: str, b: str) -> Optional[PairStat]:
        """The pair of systems a and b in either order (as stored: check ``system_a``)."""
        for p in self.pairs:
            if {p.system_a, p.system_b} == {a, b} and (a != b):
                return p
        return None


class RunComparisons(Record):
    """``comparisons.json``: computed once per run by the stats stage (after summary.json)."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["evalkit-comparisons"] = "evalkit-comparisons"
    run_id: str
    gold: GoldRef
    #: sha256 of the summary these comparisons were computed with (a stale file is recomputed)
    summary_digest: str
    test: str
    correction: str
    alpha: float
    confidence: float
    n_resamples: int
    seed: int
    min_items: int
    systems: list[str]
    metrics: list[MetricComparisons] = Field(default_factory=list)
    #: headline metrics not compared, with the reason (descriptive, direction not recorded, one system)
    not_compared: dict[str, str] = Field(default_factory=dict)

    def get(self, metric: str) -> Optional[MetricComparisons]:
        return next((m for m in self.metrics if m.metric == metric), None)
