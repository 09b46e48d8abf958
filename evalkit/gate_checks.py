"""The checks of a gate that read one run's records: floors and ceilings on a metric's mean,
on the failed rows and on usage (tokens, latency, cost), and "not significantly worse than"
another system of the same run (its comparisons.json). See evalkit/gate.py for the rules.
"""

from __future__ import annotations

from typing import Optional

from evalkit.comparison_records import RunComparisons
from evalkit.comparisons import too_few_text
from evalkit.gate_config import EPS, Bound, Status
from evalkit.gate_report import GateCheck
from evalkit.records import RunSummary, SystemSummary
from evalkit.stats import fmt_num, fmt_p_eq
from evalkit.usage import USAGE_METRICS, fmt_usage, usage_gap, usage_value


def versus_check(idx: int, metric: str, ref: str, system: str, alpha: float, comparisons: RunComparisons) -> GateCheck:
    """``system`` must not be significantly worse than ``ref`` on ``metric`` (comparisons.json, Holm)."""
    mc = comparisons.get(metric)
    assert mc is not None
    p = mc.pair(ref, system)
    label = f"{metric} not worse than {ref}" + (f" (significance {alpha:g})" if alpha != comparisons.alpha else "")
    if p is None or p.outcome in ("too_few_items", "no_items") or p.delta is None:
        n = p.n if p else 0
        return GateCheck(rule=idx, label=label, system=system, metric=metric, kind="not_worse_than", threshold=None,
                         versus=ref, significance=alpha, observed=None, n=n, status="n/a",
                         message=f"{system}: {metric} vs {ref}: {too_few_text(n)}")
    flip = p.system_b != system  # stored as B − A; we want system − ref
    observed, reference = (p.mean_a, p.mean_b) if flip else (p.mean_b, p.mean_a)
    delta = -p.delta if flip else p.delta
    lo, hi = p.ci_low, p.ci_high
    if flip:
        lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
    worse = (p.p_adjusted is not None and p.p_adjusted < alpha and delta != 0
             and (delta < 0) == (mc.direction == "higher"))
    message = (f"{system}: {metric} {fmt_num(observed)} vs {ref} {fmt_num(reference)} on {p.n} shared items "
               f"(Δ {fmt_num(delta, signed=True)}, CI [{fmt_num(lo, signed=True)}, {fmt_num(hi, signed=True)}], "
               f"Holm-adjusted {fmt_p_eq(p.p_adjusted)}, {mc.family})" + (f" — significantly worse than {ref}" if worse else ""))
    return GateCheck(rule=idx, label=label, system=system, metric=metric, kind="not_worse_than", threshold=None,
                     versus=ref, significance=alpha, observed=observed, baseline=reference, n=p.n, delta=delta,
                     delta_ci_low=lo, delta_ci_high=hi, p_value=p.p_value, p_adjusted=p.p_adjusted,
                     status="fail" if worse else "pass", message=message)


def bound_check(idx: int, metric: str, kind: Bound, threshold: float, system: str, summary: RunSummary) -> GateCheck:
    op = ">=" if kind == "min" else "<="
    label = f"{metric} {op} {threshold:g}"
    ss = summary.systems[system]
    ci_low = ci_high = n = None
    if metric == "errors":
        observed: Optional[float] = float(ss.failed)
    elif metric == "error_rate":
        observed = ss.failed / ss.items if ss.items else None
    elif metric in USAGE_METRICS:
        return usage_check(idx, label, metric, kind, threshold, system, ss)
    else:
        stat = ss.metrics.get(metric)
        observed = stat.mean if stat else None
        if stat:
            ci_low, ci_high, n = stat.ci_low, stat.ci_high, stat.n
        if observed is None:
            if ss.ok == 0:  # every item failed: nothing to judge, and that is a failure
                return GateCheck(rule=idx, label=label, system=system, metric=metric, kind=kind, threshold=threshold,
                                 observed=None, n=0, status="fail",
                                 message=f"{system}: {metric} has no scored item ({ss.failed} of {ss.items} failed)")
            return GateCheck(rule=idx, label=label, system=system, metric=metric, kind=kind, threshold=threshold,
                             observed=None, n=0, status="n/a",
                             message=f"{system}: {metric} is not applicable to any item "
                                     f"({stat.n_not_applicable if stat else 0} not applicable)")
    ok = observed is not None and (observed >= threshold - EPS if kind == "min" else observed <= threshold + EPS)
    ci = f", {summary.confidence:.0%} CI [{fmt_num(ci_low)}, {fmt_num(ci_high)}], n={n}" if n is not None else ""
    obs = f"{observed:g}" if metric == "errors" else fmt_num(observed)
    message = (f"{system}: {metric} = {obs}{ci}; required {op} {threshold:g}"
               + ("" if ok else f" — {'below the floor' if kind == 'min' else 'above the ceiling'}"))
    return GateCheck(rule=idx, label=label, system=system, metric=metric, kind=kind, threshold=threshold,
                     observed=observed, ci_low=ci_low, ci_high=ci_high, n=n, status="pass" if ok else "fail",
                     message=message)


def usage_check(idx: int, label: str, metric: str, kind: Bound, threshold: float, system: str,
                ss: SystemSummary) -> GateCheck:
    """A bound on tokens, latency or cost (summary.json's usage). Unknown: n/a when the system
    reports no tokens (no model call to bound), fail when its model has no price (a cost cap
    that cannot be checked must not pass) or the run recorded no usage."""
    u = ss.usage
    observed = usage_value(u, metric)
    op = ">=" if kind == "min" else "<="
    latency = metric in ("latency_p50", "latency_p95")
    n = None if u is None else u.rows if latency else u.rows_with_usage
    status: Status
    if u is None or observed is None:
        if u is None:
            why, status = "the run records no usage (made by an older evalkit); re-score it with `evalkit score --run`", "fail"
        elif u.rows == 0:
            why, status = "no row returned a summary (every row failed: see the errors rule)", "n/a"
        elif metric == "cost_usd" and u.unpriced:
            why, status = f"no price for model {', '.join(u.unpriced)} in [prices] of the config", "fail"
        elif metric == "cost_usd" and usage_gap(u):
            why, status = (f"{usage_gap(u)} of its {u.rows} rows that returned a summary have no token counts "
                           "(cached by an older evalkit, or the server left usage out): the cost is incomplete; "
                           "re-run them with --no-cache"), "fail"
        elif metric == "cost_usd" and u.rows_with_usage:
            why, status = "no [prices] table in the config to compute a cost with", "fail"
        else:
            why, status = "its backend reports no token usage", "n/a"
        message = f"{system}: {metric} unknown: {why}"
    else:
        ok = observed >= threshold - EPS if kind == "min" else observed <= threshold + EPS
        over = f"over {u.rows} rows" if latency else f"over {u.rows_with_usage} rows with token counts"
        status = "pass" if ok else "fail"
        message = (f"{system}: {metric} = {fmt_usage(metric, observed)} ({over}); required {op} "
                   f"{fmt_usage(metric, threshold)}"
                   + ("" if ok else f" — {'below the floor' if kind == 'min' else 'above the ceiling'}"))
    return GateCheck(rule=idx, label=label, system=system, metric=metric, kind=kind, threshold=threshold,
                     observed=observed, n=n, status=status, message=message)
