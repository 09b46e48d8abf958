"""The terminal leaderboard (rich): one row per system, headline metrics with CI half-widths and
n, marks from the run's comparisons.json, and below it what a reader must not miss (items too
few to compare, each failing system's most frequent error, metrics whose direction is unknown).

Nothing here computes statistics: means and CIs come from summary.json, every mark from
comparisons.json (see evalkit/comparisons.py). All user text is escaped for Rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalkit.comparisons import NOT_RECORDED, too_few_n, too_few_text
from evalkit.records import MetricStat, RunComparisons, RunSummary, recorded_direction
from evalkit.report.textsafe import rich_safe, visible_controls

if TYPE_CHECKING:
    from evalkit.run import Run

MARKS = {"best": " ★", "worse": " ▼", "too_few_items": " †", "tied": ""}


def headline_metrics(summary: RunSummary) -> list[str]:
    names = [h for m in summary.metrics for h in (m.headline or m.outputs)]
    present = {k for s in summary.systems.values() for k in s.metrics}
    return [n for n in dict.fromkeys(names) if n in present]


def leaderboard_rows(summary: RunSummary, comparisons: Optional[RunComparisons] = None) -> list[dict[str, Any]]:
    """The leaderboard as plain data (also what ``--json`` prints): per metric the stats, the
    recorded direction and the system's standing against the best (from comparisons.json)."""
    metrics = headline_metrics(summary)
    rows = []
    for name, s in summary.systems.items():
        row: dict[str, Any] = {"system": name, "items": s.items, "ok": s.ok, "failed": s.failed, "cached": s.cached,
                               "errors": [e.model_dump() for e in s.errors]}
        for m in metrics:
            st = s.metrics.get(m)
            mc = comparisons.get(m) if comparisons else None
            row[m] = None if st is None else {"mean": st.mean, "ci_low": st.ci_low, "ci_high": st.ci_high,
                                               "n": st.n, "n_not_applicable": st.n_not_applicable,
                                               "direction": recorded_direction(m, summary.metrics),
                                               "versus_best": mc.versus_best.get(name) if mc else None}
        rows.append(row)
    return rows


def format_stat(st: MetricStat) -> str:
    """``0.352 ±0.021 n=44`` (``(40 n/a)`` appended when items were not applicable)."""
    ci = f" ±{(st.ci_high - st.ci_low) / 2:.3f}" if st.ci_low is not None and st.ci_high is not None else ""
    na = f" ({st.n_not_applicable} n/a)" if st.n_not_applicable else ""
    return f"{st.mean:.3f}{ci} n={st.n}{na}"


def leaderboard_table(summary: RunSummary, comparisons: Optional[RunComparisons] = None,
                      title: Optional[str] = None) -> Table:
    """Rows: systems; cells: mean ± CI half-width, n, and the mark against the column's best."""
    metrics = headline_metrics(summary)
    caption = (f"mean ± half-width of the {summary.confidence:.0%} bootstrap CI, n = items scored "
               "(n/a: not applicable, e.g. no quotes)")
    if comparisons is not None and comparisons.metrics and len(summary.systems) > 1:
        caption += (f"; ★ best of the column, ▼ significantly worse than it (paired permutation test, Holm across "
                    f"the system pairs, α = {comparisons.alpha:g}), † too few items to compare "
                    f"(fewer than {comparisons.min_items})")
    if any(recorded_direction(m, summary.metrics) == "none" for m in metrics):
        caption += "; (descriptive) columns are never ranked"
    table = Table(title=rich_safe(title) if title else None, caption=caption, caption_justify="left")
    table.add_column("system", style="bold")
    for m in metrics:
        descriptive = recorded_direction(m, summary.metrics) == "none"
        table.add_column(rich_safe(m) + ("\n(descriptive)" if descriptive else ""), justify="right")
    table.add_column("ok", justify="right")
    table.add_column("failed", justify="right")
    for name, s in summary.systems.items():
        cells: list[Any] = [Text(visible_controls(name))]
        for m in metrics:
            st = s.metrics.get(m)
            if st is None or st.mean is None:
                cells.append("n/a" + (f" ({st.n_not_applicable} n/a)" if st and st.n_not_applicable else ""))
                continue
            mc = comparisons.get(m) if comparisons else None
            mark = MARKS[mc.versus_best[name]] if mc and name in mc.versus_best else ""
            cells.append(format_stat(st) + mark)
        cells.append(str(s.ok))
        cells.append(f"[red]{s.failed}[/]" if s.failed else "0")
        table.add_row(*cells)
    return table


def leaderboard_notes(summary: RunSummary, comparisons: Optional[RunComparisons]) -> list[str]:
    """Plain-text lines shown under the leaderboard (not escaped: callers print them with markup off)."""
    lines = []
    for name, s in summary.systems.items():
        if s.failed:
            top = s.errors[0] if s.errors else None
            lines.append(f"{name}: {s.failed} of {s.items} items failed"
                         + (f"; most frequent error ({top.count}×): {top.message}" if top else ""))
    if comparisons is not None:
        for mc in comparisons.metrics:
            for system, standing in mc.versus_best.items():
                if standing == "too_few_items":
                    n = too_few_n(summary, mc, system, comparisons.min_items)
                    shared = summary.systems[system].metrics[mc.metric].n >= comparisons.min_items and mc.best
                    lines.append(f"{mc.metric}: {system}{f' with {mc.best}' if shared else ''}: {too_few_text(n)}")
        for metric, why in comparisons.not_compared.items():
            if why == NOT_RECORDED and len(summary.systems) > 1:
                lines.append(f"{metric}: {why}")
    return lines


def leaderboard_view(run: Run, title: Optional[str] = None) -> Group:
    """The leaderboard of a run and its notes, ready for ``console.print`` (marks from its comparisons)."""
    comparisons = run.comparisons
    notes = leaderboard_notes(run.summary, comparisons) + run.notes
    return Group(leaderboard_table(run.summary, comparisons, title), *(Text(visible_controls(n)) for n in notes))
