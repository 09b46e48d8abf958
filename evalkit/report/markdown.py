"""Markdown reports: the run's ``report.md`` (leaderboard with CIs, n and the significance marks
of comparisons.json, failures, pairwise comparisons) and the gate summary for PR comments /
``$GITHUB_STEP_SUMMARY``.

Everything that comes from a model or a file (system names, metric names, error messages,
notes) is escaped so it cannot break the table or inject markup, and control characters
(ESC, bidi overrides...) are written as visible escapes. No statistics are computed here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from evalkit.comparison_records import MetricComparisons, RunComparisons
from evalkit.comparisons import NOT_RECORDED, too_few_n, too_few_text
from evalkit.fsutil import write_text_atomic
from evalkit.records import RunSummary, recorded_direction
from evalkit.report.textsafe import visible_controls
from evalkit.stats import fmt_num, fmt_p
from evalkit.subset import describe, describe_merge
from evalkit.usage import USAGE_METRICS, fmt_cost, fmt_latency, fmt_tokens, fmt_usage, has_usage

if TYPE_CHECKING:
    from evalkit.diff import ScoreRegression
    from evalkit.gate import GateReport
    from evalkit.run import Run

#: up to this many systems the report lists every pairwise comparison (all are in comparisons.json)
MAX_PAIRWISE_SYSTEMS = 6
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


#: a zero-width space after the lead of ``@name``, ``#123`` and URLs keeps GitHub from turning
#: them into mentions, issue references and links
_ZWSP = "\u200b"
_LINKY = re.compile(r"(?i)(@|#(?=\d)|\b(?:https?|ftp|file)(?=:)|\bwww(?=\.))")


def unlinked(text: str) -> str:
    """``text`` with no mention, issue reference or autolink left in it (see ``_ZWSP``)."""
    return _LINKY.sub(lambda m: m.group(0) + _ZWSP, text)


def esc(text: object) -> str:
    """Escape Markdown/HTML metacharacters, control characters and newlines for a table cell or
    inline text, and leave no mention, issue reference or autolink (``unlinked``): these reports
    are posted to pull requests and step summaries, where a model's output must not ping anyone."""
    return unlinked(_MD_SPECIAL.sub(r"\\\1", visible_controls(text)).replace("\r", " ").replace("\n", " ")
                    .replace("\t", " "))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# --------------------------------------------------------------------------------------------
# run report
# --------------------------------------------------------------------------------------------

def render_run(run: Run) -> str:
    """``report.md`` of a run, from its manifest, summary and comparisons."""
    manifest, summary, comparisons = run.manifest, run.summary, run.comparisons
    systems = list(summary.systems)
    metrics = _headline(summary)

    lines = [f"# evalkit run `{esc(summary.run_id)}`", ""]
    part = describe(manifest.selection)
    lines.append(f"Gold set **{esc(summary.gold.name)}** ({summary.gold.items} items, `{summary.gold.hash[:19]}…`"
                 + (f"; {esc(part)}" if part else "") + ") · "
                 f"created {esc(manifest.created)} · evalkit {esc(manifest.evalkit_version)}"
                 + (f" · commit `{manifest.git_commit[:10]}`" if manifest.git_commit else ""))
    merged = describe_merge(manifest.merged_from)
    if merged:
        lines += ["", f"This run was {esc(merged)}."]
    lines += ["", "## Leaderboard", ""]
    header = ["system"] + [esc(m) + (" (descriptive)" if recorded_direction(m, summary.metrics) == "none" else "")
                           for m in metrics] + ["ok", "failed"]
    rows = []
    for s in systems:
        ss = summary.systems[s]
        cells = [esc(s)] + [_cell(summary, comparisons, s, m) for m in metrics]
        cells += [str(ss.ok), f"**{ss.failed}**" if ss.failed else "0"]
        rows.append(cells)
    lines += _table(header, rows, "l" + "r" * (len(metrics) + 2))
    lines += ["", f"Mean [{summary.confidence:.0%} bootstrap CI] and n, the items a metric applies to "
                  f"(seed {summary.seed}, {summary.n_resamples} resamples); not applicable items are excluded and "
                  "counted (n/a)."]
    if len(systems) > 1 and comparisons.metrics:
        lines.append(f"**Bold**: the best mean of the column and every system not significantly worse than it; "
                     f"▼ significantly worse than the best (two-sided paired permutation test, Holm across the system "
                     f"pairs of each metric, α = {comparisons.alpha:g}); a system or pair with fewer than "
                     f"{comparisons.min_items} items is marked \"too few items to compare\", never compared. "
                     "Descriptive columns are never ranked.")
    lines += _failures(summary)
    lines += _usage(summary)
    unknown = [f"{esc(m)}: {esc(why)}" for m, why in comparisons.not_compared.items() if why == NOT_RECORDED]
    if unknown and len(systems) > 1:
        lines += ["", "Not compared: " + "; ".join(unknown) + "."]
    if 2 <= len(systems) and comparisons.metrics:
        lines += ["", "## Pairwise comparisons", ""]
        if len(systems) <= MAX_PAIRWISE_SYSTEMS:
            lines += [f"Δ = B − A over the items both scored, with its {summary.confidence:.0%} paired-bootstrap CI; "
                      f"p from a two-sided paired permutation test, {esc(comparisons.correction)}; "
                      "wins/ties/losses count items where B is better/equal/worse.", ""]
            lines += _pairwise_table(comparisons)
        else:
            n_pairs = len(systems) * (len(systems) - 1) // 2
            how = f"`evalkit compare {esc(run.path)}`" if run.path is not None else "`run.compare()`"
            lines.append(f"All {n_pairs} system pairs are in `comparisons.json`; see them with {how}.")
    warnings, notes = split_notes(summary)
    notes += run.notes
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {esc(n)}" for n in warnings]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {esc(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def split_notes(summary: RunSummary) -> tuple[list[str], list[str]]:
    """The summary's notes as (warnings a reader must not miss, informational notes); a summary
    that does not record which are warnings (older runs) has them all as warnings."""
    if summary.warnings is None:
        return list(summary.notes), []
    flagged = set(summary.warnings)
    return [n for n in summary.notes if n in flagged], [n for n in summary.notes if n not in flagged]


def _usage(summary: RunSummary) -> list[str]:
    if not has_usage(summary):
        return []
    rows = []
    for s, ss in summary.systems.items():
        u = ss.usage
        rows.append([esc(s), fmt_tokens(u.prompt_tokens if u else None), fmt_tokens(u.completion_tokens if u else None),
                     fmt_latency(u.latency_p50 if u else None), fmt_latency(u.latency_p95 if u else None),
                     esc(fmt_cost(u))])
    lines = ["", "### Usage", ""]
    lines += _table(["system", "tokens in", "tokens out", "latency p50", "latency p95", "cost"], rows, "lrrrrr")
    lines += ["", "Tokens as the server or the model's tokenizer counted them (—: the backend reports none); latency "
                  "over the rows that returned a summary; cost from `[prices]` (US dollars per million tokens)"
              + (": " + ", ".join(f"{esc(m)} ${p.input:g} in / ${p.output:g} out" for m, p in summary.prices.items())
                 if summary.prices else "") + "."]
    return lines


def _headline(summary: RunSummary) -> list[str]:
    names = [h for m in summary.metrics for h in (m.headline or m.outputs)]
    present = {k for s in summary.systems.values() for k in s.metrics}
    return [n for n in dict.fromkeys(names) if n in present] or sorted(present)


def _cell(summary: RunSummary, comparisons: RunComparisons, system: str, metric: str) -> str:
    st = summary.systems[system].metrics.get(metric)
    if st is None or st.mean is None:
        return "n/a" + (f" ({st.n_not_applicable} n/a)" if st is not None and st.n_not_applicable else "")
    text = f"{st.mean:.3f} [{st.ci_low:.3f}, {st.ci_high:.3f}]" if st.ci_low is not None else f"{st.mean:.3f}"
    text += f" n={st.n}" + (f" ({st.n_not_applicable} n/a)" if st.n_not_applicable else "")
    mc: Optional[MetricComparisons] = comparisons.get(metric)
    standing = mc.versus_best.get(system) if mc else None
    if standing in ("best", "tied"):
        return f"**{text}**"
    if standing == "worse":
        return f"{text} ▼"
    if standing == "too_few_items" and mc is not None:
        return f"{text} · {too_few_text(too_few_n(summary, mc, system, comparisons.min_items))}"
    return text


def _failures(summary: RunSummary) -> list[str]:
    failing = [(s, ss) for s, ss in summary.systems.items() if ss.failed]
    if not failing:
        return []
    lines = ["", "### Failures", ""]
    for s, ss in failing:
        top = ss.errors[0] if ss.errors else None
        lines.append(f"- **{esc(s)}**: {ss.failed} of {ss.items} items failed"
                     + (f"; most frequent error ({top.count}×): {esc(top.message)}" if top else ""))
    return lines


def _pairwise_table(comparisons: RunComparisons) -> list[str]:
    rows = []
    for mc in comparisons.metrics:
        for p in mc.pairs:
            if p.outcome in ("too_few_items", "no_items"):
                delta, p_txt = fmt_num(p.delta, signed=True), too_few_text(p.n)
            else:
                delta = (f"{fmt_num(p.delta, signed=True)} [{fmt_num(p.ci_low, signed=True)}, "
                         f"{fmt_num(p.ci_high, signed=True)}]")
                p_txt = fmt_p(p.p_adjusted) + (" ✱" if p.outcome in ("a_better", "b_better") else "")
            rows.append([esc(mc.metric), esc(p.system_a), esc(p.system_b), fmt_num(p.mean_a), fmt_num(p.mean_b),
                         delta, p_txt, f"{p.wins}/{p.ties}/{p.losses}", str(p.n)])
    return _table(["metric", "A", "B", "mean A", "mean B", "Δ [CI]", "p (Holm)", "W/T/L", "n"], rows,
                  "lllrrrrrr") + ["", f"✱ significant at α = {comparisons.alpha:g} after correction."]


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
    if report.scope:
        lines += [f"**Part of the gold set:** {esc(report.scope)}.", ""]
    if report.failed:
        lines += ["### Failed checks", ""]
        lines += [f"- **rule {f.rule}: {esc(f.label)}** — {esc(f.message)}" for f in report.failed]
        lines.append("")
    rows = []
    for ch in report.checks:
        paired = ch.kind in ("max_drop", "not_worse_than")
        ci = (f"[{fmt_num(ch.ci_low)}, {fmt_num(ch.ci_high)}]" if not paired
              else f"Δ {fmt_num(ch.delta, signed=True)} [{fmt_num(ch.delta_ci_low, signed=True)}, "
                   f"{fmt_num(ch.delta_ci_high, signed=True)}]")
        if (not paired and ch.ci_low is None) or (paired and ch.delta is None):
            ci = ""
        observed = (f"{ch.observed:g}" if ch.metric == "errors" and ch.observed is not None
                    else fmt_usage(ch.metric, ch.observed) if ch.metric in USAGE_METRICS else fmt_num(ch.observed))
        rows.append([_STATUS[ch.status], f"{ch.rule}: {esc(ch.label)}", esc(ch.system), observed,
                     fmt_num(ch.baseline) if ch.baseline is not None else "", ci,
                     f"{fmt_p(ch.p_value)} / {fmt_p(ch.p_adjusted)}" if ch.significance else ""])
    lines += render_regressions(report.regressions, baseline_run=report.baseline_run_id)
    lines += ["### All checks", ""]
    lines += _table(["verdict", "rule", "system", "observed", "baseline / ref.", "CI", "p / Holm"], rows, "lllrrrr")
    lines.append("")
    if report.correction:
        lines.append(f"Significance of drops: {esc(report.test)}. Multiple checks: {esc(report.correction)}.")
    lines.append(f"{c['pass']} passed, {c['fail']} failed, {c['n/a']} not applicable.")
    lines += [f"Note: {esc(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


def render_regressions(regressions: Sequence[ScoreRegression], *, baseline_run: Optional[str]) -> list[str]:
    from evalkit.report.diff_markdown import render_regressions as render

    return render(regressions, baseline_run=baseline_run)


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
