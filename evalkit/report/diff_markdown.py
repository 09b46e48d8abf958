"""The diff report in Markdown, sized for a pull-request comment (GitHub allows 65,536
characters; we stay under ``MAX_BYTES``): the per-metric changes with CI and p, a link-free
list of the worst items (what got worse, in words), then the word diffs of those items in
collapsed ``<details>`` blocks, as many as fit, with a note saying how many were left out.

Everything from a model or a gold file is escaped (``esc``, as in every Markdown report) and
cannot mention anyone or link anywhere: ``@name``, ``#123`` and bare URLs get a zero-width
space so GitHub does not turn them into mentions, issue links or links. No statistics are computed here.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Optional

from evalkit.report.markdown import esc, unlinked
from evalkit.report.textsafe import visible_controls
from evalkit.stats import fmt_num, fmt_p

if TYPE_CHECKING:
    from evalkit.diff import ItemDiff, MetricDelta, RunDiff, ScoreRegression, SystemDiff

#: the most a rendered diff may weigh (UTF-8 bytes): a GitHub comment holds 65,536 characters
MAX_BYTES = 60_000
#: items listed in the summary of the worst items
TOP = 10
_VERDICT = {"verbatim": "verbatim", "altered": "altered", "not_found": "not found", None: "(not in BASE)"}


def quiet_html(text: object) -> str:
    """For the raw HTML of a ``<summary>`` line (Markdown escapes do not apply there): HTML-escaped, no autolink."""
    return unlinked(html.escape(" ".join(visible_controls(text).split())))


def _signed(x: Optional[float]) -> str:
    return fmt_num(x, signed=True, digits=3)


def changes_text(deltas: Sequence[MetricDelta], item: Optional[ItemDiff] = None, *, limit: int = 3,
                 text: Callable[[object], str] = esc) -> str:
    """What got worse, in words: the metrics that dropped, then each new faithfulness problem.
    ``text`` makes user text safe for the output (default: Markdown; ``str`` for a template that escapes)."""
    parts = [f"{text(d.metric)} {_signed(d.delta)}" for d in sorted(
        (d for d in deltas if d.worse), key=lambda d: -abs(d.delta or 0))][:limit]
    if item is not None:
        if item.status == "failed_new":
            parts.insert(0, f"failed in NEW: {text(_short(item.error_b or '', 120))}")
        for q in item.quotes:
            parts.append(f"quote “{text(_short(q.text_b, 90))}” {_VERDICT.get(q.verdict_a, q.verdict_a)} → "
                         f"{_VERDICT.get(q.verdict_b, q.verdict_b)}")
        for f in item.figures:
            parts.append(f"figure {text(f.text)} newly unsupported" + (" (was supported)" if f.was == "supported" else ""))
        for k in item.key_points:
            parts.append(f"key point missed: “{text(_short(k.key_point, 90))}”")
    return "; ".join(parts) or "no metric dropped"


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _words(item: ItemDiff) -> str:
    """The word diff inline: ~~BASE only~~ **NEW only**, the rest as it is."""
    out = []
    for op in item.words:
        if op.op == "equal":
            out.append(esc(op.b))
            continue
        for text, mark in ((op.a, "~~"), (op.b, "**")):
            core = text.strip()
            if core:
                out.append(f"{mark}{esc(core)}{mark}" + (" " if text[-1:].isspace() else ""))
    return "".join(out).strip()


def _metrics_table(diff: RunDiff) -> list[str]:
    comp = diff.comparison
    rows = []
    for pair in comp.pairs:
        label = pair.system_a if pair.system_a == pair.system_b else f"{pair.system_a} → {pair.system_b}"
        for m in pair.metrics:
            mark = {"b_better": "🔺 better", "a_better": "🔻 worse", "differ": "differ",
                    "no_difference": "n.s.", "too_few_items": "too few items", "no_items": "no items"}[m.outcome]
            ci = f" [{_signed(m.ci_low)}, {_signed(m.ci_high)}]" if m.ci_low is not None else ""
            wtl = f"{m.wins}/{m.ties}/{m.losses}" if m.wins is not None else "—"
            rows.append(f"| {esc(label)} | {esc(m.metric)} | {fmt_num(m.mean_a, digits=3)} | "
                        f"{fmt_num(m.mean_b, digits=3)} | {_signed(m.delta)}{ci} | {fmt_p(m.p_adjusted)} | {wtl} | "
                        f"{m.n} | {mark} |")
    head = ["| system | metric | BASE | NEW | Δ NEW−BASE [CI] | p | W/T/L | n | |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    note = (f"Δ over the items both runs scored, {comp.confidence:.0%} paired-bootstrap CI; p: paired permutation "
            f"test ({esc(comp.correction)}); W/T/L: items where NEW is better / equal / worse; "
            f"🔻/🔺 significant at α = {comp.alpha:g}.")
    return head + rows + ["", note]


def render_diff_markdown(diff: RunDiff, *, max_bytes: int = MAX_BYTES, html_hint: Optional[str] = None) -> str:
    """The diff as Markdown of at most ``max_bytes`` (UTF-8). ``html_hint``: where the full HTML
    diff is, named (as text, not a link) when items had to be left out."""
    lines = [f"## evalkit diff · BASE `{esc(diff.run_a)}` → NEW `{esc(diff.run_b)}`", ""]
    lines.append(f"Gold set **{esc(diff.gold.name)}** ({diff.gold.items} items, `{diff.gold.hash[:19]}…`) · "
                 f"BASE made {esc(diff.created_a)} · NEW made {esc(diff.created_b)}")
    if diff.comparison.scope:
        lines += ["", f"**Part of the gold set:** {esc(diff.comparison.scope)}."]
    lines += ["", "### Metrics", ""] + _metrics_table(diff)
    lines += ["", "### Worst items", ""]
    lines += [" · ".join(f"**{esc(s.label)}**: {s.counts['worse']} of {len(s.items)} items worse, "
                         f"{s.counts['better']} better, {s.counts['same']} the same" for s in diff.systems), ""]
    worst = worst_items(diff.systems)
    if not worst:
        lines.append("No item got worse.")
    for n, (system, item) in enumerate(worst[:TOP], 1):
        lines.append(f"{n}. **{esc(system.label)}** · `{esc(item.gold_id)}` {esc(_short(item.title, 80))} — "
                     f"severity {item.severity:+.3f}: {changes_text(item.deltas, item)}")
    lines += [f"- {esc(n)}" for n in diff.notes]
    lines += ["", "Severity: the sum of the item's metric changes in the better direction, minus 1 per new "
                  "faithfulness problem (a quote no longer verbatim, a figure newly unsupported, a key point newly missed)."]
    text = "\n".join(lines) + "\n"
    details = ["", "### Word diffs of the worst items", "", "~~only in BASE~~ **only in NEW**", ""]
    shown = 0
    budget = max_bytes - 600  # room for the closing note
    for n, (system, item) in enumerate(worst, 1):
        block = _detail_block(n, system, item)
        if len((text + "\n".join(details + block)).encode("utf-8")) > budget:
            break
        details += block
        shown += 1
    if shown:
        text += "\n".join(details) + "\n"
    left = len(worst) - shown
    if left:
        where = f" — the HTML diff report ({esc(html_hint)}) has every item" if html_hint else \
            " — `evalkit compare BASE NEW --html diff.html` writes every item"
        text += (f"\n_{left} more item(s) got worse than the word diffs shown here (this comment is kept under "
                 f"{max_bytes // 1000} KB){where}._\n")
    return _fit(text, max_bytes)


def _detail_block(n: int, system: SystemDiff, item: ItemDiff) -> list[str]:
    head = f"{n}. {quiet_html(system.label)} · {quiet_html(item.gold_id)} — {quiet_html(_short(item.title, 80))}"
    body = [f"<details><summary>{head}</summary>", ""]
    if item.status == "failed_new":
        body += [f"NEW failed: `{esc(_short(item.error_b or '', 300))}`", ""]
        body += [f"BASE: {esc(item.summary_a)}", ""]
    else:
        body += [_words(item) or "_(no words)_", ""]
        for q in item.quotes:
            what = f"- quote “{esc(q.text_b)}”: {_VERDICT.get(q.verdict_a, q.verdict_a)} → {_VERDICT.get(q.verdict_b, q.verdict_b)}"
            if q.closest:
                what += f"; closest in the article: “{esc(_short(q.closest, 200))}”"
            body.append(what)
        body += [f"- figure {esc(f.text)}: not in the article" for f in item.figures]
        body += [f"- key point no longer covered: “{esc(k.key_point)}”" for k in item.key_points]
        if item.quotes or item.figures or item.key_points:
            body.append("")
    return body + ["</details>", ""]


def worst_items(systems: Sequence[SystemDiff]) -> list[tuple[SystemDiff, ItemDiff]]:
    """Every worse item of every system, worst first (failed in NEW, then by severity)."""
    items = [(s, i) for s in systems for i in s.items if i.worse]
    items.sort(key=lambda si: (0 if si[1].status == "failed_new" else 1, si[1].severity, si[0].label, si[1].gold_id))
    return items


def _fit(text: str, max_bytes: int) -> str:
    """Cut at a line boundary if the head alone (metrics and the list) is over the limit."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = "\n\n_Cut here: this comment is kept under the size limit; see the HTML diff report._\n"
    cut = data[: max_bytes - len(note.encode("utf-8"))].decode("utf-8", "ignore")
    return cut[: cut.rfind("\n")] + note


def render_regressions(regressions: Sequence[ScoreRegression], *, baseline_run: Optional[str]) -> list[str]:
    """The gate's "top regressions" section: items whose scores dropped most against the baseline file."""
    if not regressions:
        return []
    lines = ["### Top regressions against the baseline", ""]
    for n, r in enumerate(regressions, 1):
        lines.append(f"{n}. **{esc(r.system)}** · `{esc(r.gold_id)}` {esc(_short(r.title, 80))} — "
                     f"{changes_text(r.deltas, limit=4)}")
    run = f"`{esc(baseline_run)}`" if baseline_run else "the baseline's run"
    lines += ["", f"The baseline file holds per-item scores only, so this lists score drops; for the summaries side "
                  f"by side, quotes no longer verbatim, figures newly unsupported and key points newly missed, compare "
                  f"with the baseline's run directory: `evalkit compare BASELINE_RUN RUN --markdown diff.md` "
                  f"(baseline run {run}).", ""]
    return lines
