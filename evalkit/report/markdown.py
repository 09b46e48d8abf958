"""Markdown reports: the run's ``report.md`` (leaderboard with CIs and significance marks,
pairwise comparisons) and the gate summary for PR comments / ``$GITHUB_STEP_SUMMARY``.

Everything that comes from a model or a file (system names, metric names, notes) is escaped
so it cannot break the table or inject markup.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from evalkit.compare import PairComparison, compare_frame, headline_metrics, higher_is_better
from evalkit.fsutil import write_text_atomic
from evalkit.records import RunSummary
from evalkit.rundir import RunDir
from evalkit.stats import fmt_num, fmt_p

if TYPE_CHECKING:
    from evalkit.gate import GateReport

ALPHA = 0.05
#: up to this many systems the report holds every pairwise comparison; above, each is compared with the best
MAX_PAIRWISE_SYSTEMS = 6
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def esc(text: object) -> str:
    """Escape Markdown/HTML metacharacters and newlines for a table cell or inline text."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# --------------------------------------------------------------------------------------------
# run report
# --------------------------------------------------------------------------------------------

def render_run(rundir: RunDir, *, alpha: float = ALPHA) -> str:
    """``report.md`` of a run, from its manifest, summary and scores."""
    manifest, summary, scores = rundir.read_manifest(), rundir.read_summary(), rundir.read_scores()
    systems = list(summary.systems)
    metrics = headline_metrics(summary.metrics, [m for m in dict.fromkeys(scores["metric"])])
    specs = summary.metrics
    n_res = summary.n_resamples
    by_metric: dict[str, list[PairComparison]] = {}
    best: dict[str, Optional[str]] = {m: _best(summary, m, higher_is_better(m, specs)) for m in metrics}
    if 2 <= len(systems) <= MAX_PAIRWISE_SYSTEMS:
        pairs = [(a, b) for i, a in enumerate(systems) for b in systems[i + 1:]]
        all_pairs = compare_frame(scores, pairs, metrics, specs, run_id=summary.run_id, alpha=alpha,
                                  confidence=summary.confidence, n_resamples=n_res, seed=summary.seed)
        by_metric = {m: all_pairs for m in metrics}
        family = f"Holm-adjusted across the {len(pairs)} system pairs of each metric"
    elif len(systems) > MAX_PAIRWISE_SYSTEMS:
        for m in metrics:
            if best[m] is not None:
                pairs = [(best[m], s) for s in systems if s != best[m]]
                by_metric[m] = compare_frame(scores, pairs, [m], specs, run_id=summary.run_id, alpha=alpha,
                                             confidence=summary.confidence, n_resamples=n_res, seed=summary.seed)
        family = f"each system compared with the column's best, Holm-adjusted across the {len(systems) - 1} comparisons"
    else:
        family = ""

    lines = [f"# evalkit run `{esc(summary.run_id)}`", ""]
    lines.append(f"Gold set **{esc(summary.gold.name)}** ({summary.gold.items} items, `{summary.gold.hash[:19]}…`) · "
                 f"created {esc(manifest.created)} · evalkit {esc(manifest.evalkit_version)}"
                 + (f" · commit `{manifest.git_commit[:10]}`" if manifest.git_commit else ""))
    lines += ["", "## Leaderboard", ""]
    header = ["system"] + [esc(m) for m in metrics] + ["ok", "failed"]
    rows = []
    for s in systems:
        ss = summary.systems[s]
        cells = [esc(s)]
        for m in metrics:
            cells.append(_cell(summary, s, m, best[m], by_metric.get(m, []), alpha))
        cells += [str(ss.ok), f"**{ss.failed}**" if ss.failed else "0"]
        rows.append(cells)
    lines += _table(header, rows, "l" + "r" * (len(metrics) + 2))
    lines += ["", f"Mean [{summary.confidence:.0%} bootstrap CI] over the items a metric applies to "
                  f"(seed {summary.seed}, {summary.n_resamples} resamples)."]
    if len(systems) > 1:
        lines.append(f"**Bold**: the best mean of the column and every system not significantly different from it; "
                     f"▼ significantly worse than the best (paired permutation test, {family}, α = {alpha:g}).")
    na = [(s, m, st.n_not_applicable) for s, ss in summary.systems.items() for m, st in ss.metrics.items()
          if m in metrics and st.n_not_applicable]
    if na:
        lines.append("Not applicable items (excluded from the mean): "
                     + "; ".join(f"{esc(s)} {esc(m)}: {n}" for s, m, n in na) + ".")
    if 2 <= len(systems) <= MAX_PAIRWISE_SYSTEMS and metrics:
        lines += ["", "## Pairwise comparisons", "",
                  f"Δ = B − A over the items both scored, with its {summary.confidence:.0%} paired-bootstrap CI; "
                  f"p from a two-sided paired permutation test, {family}; "
                  "wins/ties/losses count items where B is better/equal/worse.", ""]
        lines += _pairwise_table(by_metric[metrics[0]], metrics)
    if summary.notes:
        lines += ["", "## Notes", ""] + [f"- {esc(n)}" for n in summary.notes]
    return "\n".join(lines) + "\n"


def _best(summary: RunSummary, metric: str, higher: bool) -> Optional[str]:
    means = [(st.mean, s) for s, ss in summary.systems.items()
             if (st := ss.metrics.get(metric)) is not None and st.mean is not None]
    if not means:
        return None
    return (max if higher else min)(means, key=lambda t: t[0])[1]


def _cell(summary: RunSummary, system: str, metric: str, best: Optional[str], comparisons: list[PairComparison],
          alpha: float) -> str:
    st = summary.systems[system].metrics.get(metric)
    if st is None or st.mean is None:
        return "n/a"
    text = f"{st.mean:.3f} [{st.ci_low:.3f}, {st.ci_high:.3f}]" if st.ci_low is not None else f"{st.mean:.3f}"
    if best is None or len(summary.systems) < 2:
        return text
    if system == best:
        return f"**{text}**"
    for p in comparisons:
        if {p.system_a, p.system_b} == {system, best}:
            mc = next((x for x in p.metrics if x.metric == metric), None)
            if mc is not None and mc.significant:
                return f"{text} ▼"
            return f"**{text}**"
    return text


def _pairwise_table(pairs: list[PairComparison], metrics: Sequence[str]) -> list[str]:
    rows = []
    for m in metrics:
        for p in pairs:
            mc = next(x for x in p.metrics if x.metric == m)
            mark = " ✱" if mc.significant else ""
            rows.append([esc(m), esc(p.label_a), esc(p.label_b), fmt_num(mc.mean_a), fmt_num(mc.mean_b),
                         f"{fmt_num(mc.delta, signed=True)} [{fmt_num(mc.ci_low, signed=True)}, "
                         f"{fmt_num(mc.ci_high, signed=True)}]", f"{fmt_p(mc.p_adjusted)}{mark}",
                         f"{mc.wins}/{mc.ties}/{mc.losses}", str(mc.n)])
    return _table(["metric", "A", "B", "mean A", "mean B", "Δ [CI]", "p (Holm)", "W/T/L", "n"], rows,
                  "lllrrrrrr") + ["", "✱ significant at α = 0.05 after correction."]


def write_run_markdown(rundir: RunDir, path: Path | str | None = None) -> Path:
    """Re-render a run's Markdown report (default: ``<run>/report.md``)."""
    target = Path(path) if path is not None else rundir.report_md
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, render_run(rundir))
    return target


# --------------------------------------------------------------------------------------------
# gate summary
# --------------------------------------------------------------------------------------------

_STATUS = {"pass": "✅ pass", "fail": "❌ FAIL", "n/a": "➖ n/a"}


def render_gate(report: GateReport) -> str:
    c = report.counts
    total = len(report.checks)
    head = ("✅ evalkit gate passed" if report.passed else f"❌ evalkit gate failed: {c['fail']} of {total} checks")
    lines = [f"## {head}", ""]
    meta = f"Run `{esc(report.run_id)}` · gold {esc(report.gold.name)} (`{report.gold.hash[:19]}…`)"
    if report.baseline:
        meta += f" · baseline `{esc(report.baseline)}` (run `{esc(report.baseline_run_id)}`)"
    lines += [meta, ""]
    if report.failed:
        lines += ["### Failed checks", ""]
        lines += [f"- **rule {f.rule}: {esc(f.label)}** — {esc(f.message)}" for f in report.failed]
        lines.append("")
    rows = []
    for ch in report.checks:
        ci = (f"[{fmt_num(ch.ci_low)}, {fmt_num(ch.ci_high)}]" if ch.kind != "max_drop"
              else f"Δ {fmt_num(ch.delta, signed=True)} [{fmt_num(ch.delta_ci_low, signed=True)}, "
                   f"{fmt_num(ch.delta_ci_high, signed=True)}]")
        if ch.kind != "max_drop" and ch.ci_low is None:
            ci = ""
        observed = f"{ch.observed:g}" if ch.metric == "errors" and ch.observed is not None else fmt_num(ch.observed)
        rows.append([_STATUS[ch.status], f"{ch.rule}: {esc(ch.label)}", esc(ch.system), observed,
                     fmt_num(ch.baseline) if ch.baseline is not None else "", ci,
                     f"{fmt_p(ch.p_value)} / {fmt_p(ch.p_adjusted)}" if ch.significance else ""])
    lines += ["### All checks", ""]
    lines += _table(["verdict", "rule", "system", "observed", "baseline", "CI", "p / Holm"], rows, "lllrrrr")
    lines.append("")
    if report.correction:
        lines.append(f"Significance of drops: {esc(report.test)}. Multiple checks: {esc(report.correction)}.")
    lines.append(f"{c['pass']} passed, {c['fail']} failed, {c['n/a']} not applicable.")
    return "\n".join(lines) + "\n"


def write_gate_markdown(report: GateReport, path: Optional[Path] = None) -> list[Path]:
    """Write the gate summary to ``path`` (if given) and append it to ``$GITHUB_STEP_SUMMARY`` (if set)."""
    text = render_gate(report)
    written = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
        written.append(path)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as f:
            f.write(text + "\n")
        written.append(Path(step))
    return written
