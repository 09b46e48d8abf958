"""The CI gate: rules from the ``[gate]`` table of ``evalkit.toml`` judged against a run.

    [gate]
    baseline = "reports/baseline.json"   # for max_drop rules (relative to the config file)
    significance = 0.05                  # optional: a drop fails only if it is significant
    systems = ["lead", "textrank"]       # optional: default every system in the run

    [[gate.rule]]
    metric = "rougeLsum"
    min = 0.20                           # floor on the mean
    max_drop = 0.01                      # may fall by at most 0.01 against the baseline

    [[gate.rule]]
    metric = "errors"                    # failed predictions (also: error_rate)
    max = 0

    [[gate.rule]]
    metric = "rougeLsum"
    not_worse_than = "lead"              # not significantly worse than lead in the same run

Each rule is checked for each system, each bound separately, so every check has one verdict
(pass / fail / n/a) and its numbers. A drop is "worse in the metric's direction" as recorded
in the run's metric spec (a rise for a lower-is-better metric); ``max_drop`` and
``not_worse_than`` are refused (exit 2) on a descriptive output (direction ``none``) and on
one whose direction the run does not record. With ``significance``, a drop beyond ``max_drop``
fails only when a one-sided paired permutation test against the baseline's per-item scores
finds it significant, Holm-adjusted across all the significance-tested checks of the gate;
with fewer than ``[stats] min_items`` shared items there is no test and the drop alone
decides. ``not_worse_than`` reads the run's comparisons.json (the numbers the reports show).
Exit codes: 0 all pass, 1 a check failed, 2 usage or input error.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from evalkit.baseline import Baseline, load_baseline
from evalkit.compare import config_differences
from evalkit.comparison_records import RunComparisons
from evalkit.comparisons import DEFAULT_MIN_ITEMS, too_few_text
from evalkit.errors import UsageError
from evalkit.gate_checks import bound_check, versus_check
from evalkit.gate_config import (
    BOUNDS,
    COUNT_METRICS,
    EPS,
    PSEUDO_METRICS,
    GateConfig,
    GateRule,
    Status,
    parse_gate,
)
from evalkit.gate_report import GateCheck, GateReport
from evalkit.records import Manifest, RunSummary, recorded_direction
from evalkit.stats import fmt_num, fmt_p_eq, holm, paired_frame, paired_test, stable_rng
from evalkit.subset import describe, subset_scope

__all__ = ["COUNT_METRICS", "GateCheck", "GateConfig", "GateReport", "GateRule", "GateRules", "evaluate_gate",
           "gate_run", "parse_gate"]

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.config import Config
    from evalkit.diff import ScoreRegression
    from evalkit.run import Run

#: items listed under "Top regressions against the baseline" in the gate's Markdown
TOP_REGRESSIONS = 10

#: what ``Run.gate`` takes as its rules
GateRules = Union[str, Path, "Config", "GateConfig", Mapping[str, Any]]

def evaluate_gate(gate: GateConfig, manifest: Manifest, summary: RunSummary, scores: pd.DataFrame, *,
                  baseline: Optional[Baseline] = None, baseline_label: Optional[str] = None,
                  n_resamples: int = 10000, min_items: int = DEFAULT_MIN_ITEMS,
                  comparisons: Optional[RunComparisons] = None) -> GateReport:
    """Judge every rule for every system. Raises UsageError when a rule cannot be evaluated.

    ``comparisons``: the run's comparisons.json record, needed by ``not_worse_than`` rules.
    """
    run_metrics = {m for s in summary.systems.values() for m in s.metrics}
    base_scores = baseline.scores_frame() if baseline is not None else None
    checks: list[Optional[GateCheck]] = []
    drops: list[tuple[int, dict[str, Any], bool]] = []  # (position in checks, fields, higher is better): judged after Holm
    for idx, rule in enumerate(gate.rule, 1):
        systems = rule.systems or gate.systems or list(summary.systems)
        where = f"gate rule {idx} (metric {rule.metric!r})"
        for s in systems:
            if s not in summary.systems:
                raise UsageError(f"{where}: system {s!r} is not in run {summary.run_id} "
                                 f"(systems: {', '.join(summary.systems)})")
        if rule.metric not in PSEUDO_METRICS and rule.metric not in run_metrics:
            close = difflib.get_close_matches(rule.metric, [*run_metrics, *PSEUDO_METRICS], n=1)
            raise UsageError(f"{where}: run {summary.run_id} has no metric {rule.metric!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f" (metrics: {', '.join(sorted(run_metrics))}; or {', '.join(PSEUDO_METRICS)})")
        if rule.max_drop is not None or rule.not_worse_than is not None:
            _require_direction(where, rule, manifest)
        if rule.max_drop is not None:
            if baseline is None:
                raise UsageError(f"{where}: max_drop needs a baseline: set baseline = \"reports/baseline.json\" "
                                 "in [gate] or pass --baseline (create it with `evalkit baseline RUN`)")
            diffs = config_differences(baseline.gold, baseline.metrics, manifest.gold, manifest.metrics,
                                       [rule.metric], a="the baseline", b=f"run {manifest.run_id}",
                                       sel_a=baseline.selection, sel_b=manifest.selection)
            if diffs:
                raise UsageError(f"{where}: cannot compare with the baseline: " + " | ".join(diffs)
                                 + "; promote a new baseline with `evalkit baseline RUN`")
            if (baseline.selection is not None and manifest.selection is not None
                    and not set(baseline.selection.item_ids) & set(manifest.selection.item_ids)):
                scope = subset_scope(baseline.gold, baseline.selection, manifest.gold, manifest.selection,
                                     a="the baseline", b=f"run {manifest.run_id}")
                raise UsageError(f"{where}: cannot compare with the baseline: {scope}; every drop check would be "
                                 "n/a and the gate would pass unchecked: gate a run on items the baseline holds "
                                 "(the same --sample and --seed, or the whole set), or promote a new baseline")
        if rule.not_worse_than is not None:
            if rule.not_worse_than not in summary.systems:
                raise UsageError(f"{where}: not_worse_than system {rule.not_worse_than!r} is not in run "
                                 f"{summary.run_id} (systems: {', '.join(summary.systems)})")
            if comparisons is None or comparisons.get(rule.metric) is None:
                why = comparisons.not_compared.get(rule.metric) if comparisons else None
                raise UsageError(f"{where}: not_worse_than reads the run's comparisons.json, which does not compare "
                                 f"{rule.metric!r}" + (f" ({why})" if why else " (only headline metrics are compared)"))
        for s in systems:
            for kind in BOUNDS:
                threshold = getattr(rule, kind)
                if threshold is not None:
                    checks.append(bound_check(idx, rule.metric, kind, threshold, s, summary))
            if rule.max_drop is not None:
                assert baseline is not None  # refused above
                alpha = rule.significance if rule.significance is not None else gate.significance
                fields, higher = _drop_fields(idx, rule.metric, rule.max_drop, alpha, s, manifest, scores,
                                              baseline, base_scores, n_resamples=n_resamples, seed=summary.seed,
                                              min_items=min_items)
                drops.append((len(checks), fields, higher))
                checks.append(None)
            if rule.not_worse_than is not None and s != rule.not_worse_than and comparisons is not None:
                alpha = rule.significance or gate.significance or comparisons.alpha
                checks.append(versus_check(idx, rule.metric, rule.not_worse_than, s, alpha, comparisons))
    tested = [i for i, (_, f, _) in enumerate(drops) if f["significance"] is not None and f["p_value"] is not None]
    adjusted = dict(zip(tested, holm([drops[i][1]["p_value"] for i in tested])))
    for i, (pos, fields, higher) in enumerate(drops):
        checks[pos] = _judge_drop(fields, adjusted.get(i), higher, min_items)
    done = [c for c in checks if c is not None]
    counts = {k: sum(c.status == k for c in done) for k in ("pass", "fail", "n/a")}
    correction = None
    if tested:
        correction = (f"Holm across the {len(tested)} significance-tested drop checks" if len(tested) > 1
                      else "none needed: one significance-tested drop check")
    scope = describe(manifest.selection)
    scope = f"run {manifest.run_id} holds {scope}" if scope else None
    if baseline is not None and drops:
        scope = subset_scope(baseline.gold, baseline.selection, manifest.gold, manifest.selection,
                             a="the baseline", b=f"run {manifest.run_id}") or scope
    return GateReport(run_id=summary.run_id, gold=summary.gold, baseline=baseline_label,
                      baseline_run_id=baseline.run_id if baseline else None, passed=counts["fail"] == 0,
                      counts=counts, correction=correction, checks=done, scope=scope)


def _require_direction(where: str, rule: GateRule, manifest: Manifest) -> None:
    """max_drop and not_worse_than need to know which way is worse: from the run's recorded spec only."""
    kind = "max_drop" if rule.max_drop is not None else "not_worse_than"
    direction = recorded_direction(rule.metric, manifest.metrics)
    if direction == "none":
        raise UsageError(f"{where}: {kind} does not apply to a descriptive output ({rule.metric!r} has direction "
                         "'none': neither higher nor lower is better); use min/max bounds")
    if direction is None:
        raise UsageError(f"{where}: run {manifest.run_id} does not record the direction of {rule.metric!r} "
                         f"(made by an older evalkit), so {kind} cannot tell a drop from a gain; re-score it with "
                         f"`evalkit score --run RUN`")


def _drop_fields(idx: int, metric: str, max_drop: float, alpha: Optional[float], system: str,
                 manifest: Manifest, scores: pd.DataFrame, baseline: Baseline, base_scores: pd.DataFrame, *,
                 n_resamples: int, seed: int, min_items: int) -> tuple[dict[str, Any], bool]:
    if system not in baseline.scores:
        raise UsageError(f"gate rule {idx} (metric {metric!r}): system {system!r} is not in the baseline "
                         f"(baseline systems: {', '.join(baseline.scores)}); promote a new baseline or set [gate] systems")
    if metric not in baseline.scores[system]:
        raise UsageError(f"gate rule {idx}: the baseline has no {metric!r} scores for {system!r}")
    higher = recorded_direction(metric, manifest.metrics) == "higher"  # "none"/unknown refused before
    va, vb = paired_frame(base_scores, system, scores, system, metric)
    r = paired_test(va, vb, n_resamples=n_resamples, rng=stable_rng(seed, "gate", system, metric),
                    alternative="less" if higher else "greater")
    p_value = r.p_value if r.n >= min_items else None  # too few items: no test, the drop alone decides
    label = f"{metric} drop <= {max_drop:g} vs baseline" + (f" (significance {alpha:g})" if alpha else "")
    return dict(rule=idx, label=label, system=system, metric=metric, kind="max_drop", threshold=max_drop,
                observed=r.mean_b, n=r.n, baseline=r.mean_a, delta=r.delta, delta_ci_low=r.ci_low,
                delta_ci_high=r.ci_high, significance=alpha, p_value=p_value), higher


def _judge_drop(f: dict[str, Any], p_adj: Optional[float], higher: bool, min_items: int) -> GateCheck:
    if not f["n"]:
        return GateCheck(**f, status="n/a",
                         message=f"{f['system']}: no item scored for {f['metric']} by both the baseline and the run")
    alpha = f["significance"]
    status: Status
    drop = -f["delta"] if higher else f["delta"]
    exceeds = drop > f["threshold"] + EPS
    head = (f"{f['system']}: {f['metric']} {fmt_num(f['baseline'])} → {fmt_num(f['observed'])} "
            f"(change {fmt_num(f['delta'], signed=True)}, CI of change [{fmt_num(f['delta_ci_low'], signed=True)}, "
            f"{fmt_num(f['delta_ci_high'], signed=True)}], n={f['n']}); allowed drop {f['threshold']:g}")
    if alpha is not None and f["p_value"] is None:  # fewer shared items than min_items: no significance test
        why = f"{too_few_text(f['n'])} for a significance test (min_items {min_items}): judged on the drop alone"
        status, tail = ("fail", f" — dropped more than allowed; {why}") if exceeds else ("pass", f" ({why})")
    elif alpha is None:
        status, tail = ("fail", " — dropped more than allowed") if exceeds else ("pass", "")
    else:
        significant = p_adj is not None and p_adj < alpha
        p_txt = f"one-sided {fmt_p_eq(f['p_value'])}, Holm-adjusted {fmt_p_eq(p_adj)}"
        if exceeds and significant:
            status, tail = "fail", f" — dropped more than allowed, significant ({p_txt} < {alpha:g})"
        elif exceeds:
            status, tail = "pass", f" — dropped more than allowed but not significant ({p_txt} >= {alpha:g})"
        else:
            status, tail = "pass", f" ({p_txt})"
    return GateCheck(**f, p_adjusted=p_adj, status=status, message=head + tail)


def gate_run(run: Run, rules: Optional[GateRules] = None, *, baseline: Path | str | None = None,
             n_resamples: int = 10000, min_items: Optional[int] = None) -> GateReport:
    """``Run.gate``: the rules (a config file, a Config, a GateConfig or the ``[gate]`` table; None:
    the config file in the working directory), the baseline for ``max_drop`` rules (given, else
    the rules' ``baseline`` relative to the config file) and the run's comparisons for
    ``not_worse_than``; judged, nothing written."""
    from evalkit.config import Config, load_config

    if isinstance(rules, GateConfig):
        config, gate = Config(), rules
    elif isinstance(rules, Mapping):
        config, gate = Config(), parse_gate(dict(rules), "the [gate] rules given")
    else:
        config = rules if isinstance(rules, Config) else load_config(rules)
        gate = parse_gate(config.gate, config.path)
    min_items = min_items or config.stats.min_items
    base = label = None
    if baseline is None and gate.baseline:
        baseline = config.relative(gate.baseline)
    if baseline is not None and any(r.max_drop is not None for r in gate.rule):
        base, label = load_baseline(baseline), str(baseline)
    comparisons, note = None, None
    if any(r.not_worse_than is not None for r in gate.rule):
        comparisons, note = run.comparisons_at(min_items)
    report = evaluate_gate(gate, run.manifest, run.summary, run.scores, baseline=base, baseline_label=label,
                           n_resamples=n_resamples, min_items=min_items, comparisons=comparisons)
    if note:
        report.notes.append(note)
    if base is not None:
        report.regressions = regressions_against(run, base, gate, report)
    return report


def regressions_against(run: Run, baseline: Baseline, gate: GateConfig, report: GateReport,
                        k: int = TOP_REGRESSIONS) -> list[ScoreRegression]:
    """The ``k`` items whose scores of the ``max_drop`` metrics dropped most against the baseline
    (the baseline file holds per-item scores, not summaries: see evalkit/diff.py)."""
    from evalkit.diff import top_regressions

    metrics = list(dict.fromkeys(r.metric for r in gate.rule if r.max_drop is not None))
    directions = {m: d for m in metrics if (d := recorded_direction(m, run.manifest.metrics)) in ("higher", "lower")}
    systems = list(dict.fromkeys(c.system for c in report.checks if c.kind == "max_drop"))
    if not directions or not systems:
        return []
    titles = {gid: it.title or "" for gid, it in run.gold_items().items()}
    return top_regressions(baseline.scores_frame(), run.scores, systems, directions, titles=titles, k=k)
