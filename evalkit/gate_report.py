"""The records of a gate: each check (a rule's bound for one system, its numbers and verdict)
and the report of a whole gate (``evalkit gate --json`` prints it). See evalkit/gate.py."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from evalkit.diff import ScoreRegression
from evalkit.records import SCHEMA_VERSION, GoldRef, Record


class GateCheck(Record):
    """One check of a gate: a rule's bound for one system, its numbers and its verdict."""

    rule: int  # 1-based index of the [[gate.rule]] table
    label: str
    system: str
    metric: str
    kind: Literal["min", "max", "max_drop", "not_worse_than"]
    threshold: Optional[float]  # None for not_worse_than (see versus and significance)
    observed: Optional[float]
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    n: Optional[int] = None
    baseline: Optional[float] = None
    versus: Optional[str] = None  # not_worse_than: the reference system (its mean on the shared items in baseline)
    delta: Optional[float] = None  # current - baseline (or - the reference system) on the items both scored
    delta_ci_low: Optional[float] = None
    delta_ci_high: Optional[float] = None
    significance: Optional[float] = None
    p_value: Optional[float] = None
    p_adjusted: Optional[float] = None
    status: Literal["pass", "fail", "n/a"]
    message: str


class GateReport(Record):
    """Every check of a gate (one per rule, bound and system) with its numbers and verdict;
    ``passed`` / ``exit_code`` say how it went (``evalkit gate --json`` prints it)."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    gold: GoldRef
    baseline: Optional[str] = None
    baseline_run_id: Optional[str] = None
    passed: bool
    counts: dict[str, int]
    test: str = ("one-sided paired permutation test of current vs baseline per-item scores "
                 "(scipy.stats.permutation_test, permutation_type='samples')")
    correction: Optional[str] = None
    checks: list[GateCheck]
    notes: list[str] = Field(default_factory=list)
    #: a run (or baseline) on part of the gold set: which part, and that drops are judged on the items both hold
    scope: Optional[str] = None
    #: the items whose scores dropped most against the baseline file (per-item scores: see evalkit/diff.py)
    regressions: list[ScoreRegression] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if c.status == "fail"]
