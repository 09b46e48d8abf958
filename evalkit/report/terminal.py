"""The terminal leaderboard (rich): one row per system, headline metrics with CI half-widths and
n, marks from the run's comparisons.json, and below it what a reader must not miss (items too
few to compare, each failing system's most frequent error, metrics whose direction is unknown),
then each system's usage (tokens, latency p50/p95, cost). The table is laid out for the width
it is printed at, so a header is never cut (see ``Leaderboard``).

Nothing here computes statistics: means and CIs come from summary.json, every mark from
comparisons.json (see evalkit/comparisons.py). All user text is escaped for Rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from evalkit.comparison_records import RunComparisons
from evalkit.comparisons import NOT_RECORDED, too_few_n, too_few_text
from evalkit.records import MetricStat, RunSummary, recorded_direction
from evalkit.report.textsafe import rich_safe, visible_controls
from evalkit.subset import describe, describe_merge
from evalkit.usage import fmt_cost, fmt_latency, fmt_tokens, has_usage

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


def format_stat(st: MetricStat, *, lines: bool = False) -> str:
    """``0.352 ±0.021 n=44`` (``(40 n/a)`` appended when items were not applicable); ``lines``:
    the n on a second line."""
    ci = f" ±{(st.ci_high - st.ci_low) / 2:.3f}" if st.ci_low is not None and st.ci_high is not None else ""
    na = f" ({st.n_not_applicable} n/a)" if st.n_not_applicable else ""
    return f"{st.mean:.3f}{ci}{chr(10) if lines else ' '}n={st.n}{na}"


def _cell(summary: RunSummary, comparisons: Optional[RunComparisons], name: str, metric: str, lines: bool) -> str:
    st = summary.systems[name].metrics.get(metric)
    if st is None or st.mean is None:
        na = st.n_not_applicable if st else 0
        return "n/a" + (f"{chr(10) if lines else ' '}({na} n/a)" if na else "")
    mc = comparisons.get(metric) if comparisons else None
    mark = MARKS[mc.versus_best[name]] if mc and name in mc.versus_best else ""
    text = format_stat(st, lines=lines)
    first, sep, rest = text.partition("\n")
    return first + mark + sep + rest if sep else text.replace(f" n={st.n}", f"{mark} n={st.n}", 1)


def _header(metric: str, descriptive: bool) -> str:
    return rich_safe(metric) + ("\n(descriptive)" if descriptive else "")


def _width(texts: list[str]) -> int:
    return max((cell_len(line) for t in texts for line in t.split("\n")), default=0)


class Leaderboard:
    """The leaderboard table, laid out for the width it is printed at: one row per system, one
    line per cell when that fits; else the n on a second line; else the metric columns in
    several tables (each with the system column), so that no header is ever cut."""

    def __init__(self, summary: RunSummary, comparisons: Optional[RunComparisons] = None,
                 title: Optional[str] = None) -> None:
        self.summary, self.comparisons, self.title = summary, comparisons, title
        self.metrics = headline_metrics(summary)

    def caption(self) -> str:
        summary, comparisons = self.summary, self.comparisons
        caption = (f"mean ± half-width of the {summary.confidence:.0%} bootstrap CI, n = items scored "
                   "(n/a: not applicable, e.g. no quotes)")
        if comparisons is not None and comparisons.metrics and len(summary.systems) > 1:
            caption += (f"; ★ best of the column, ▼ significantly worse than it (paired permutation test, Holm across "
                        f"the system pairs, α = {comparisons.alpha:g}), † too few items to compare "
                        f"(fewer than {comparisons.min_items})")
        if any(recorded_direction(m, summary.metrics) == "none" for m in self.metrics):
            caption += "; (descriptive) columns are never ranked"
        return caption

    def _columns(self, lines: bool) -> list[tuple[str, list[str]]]:
        """(header, cells) per metric column."""
        out = []
        for m in self.metrics:
            header = _header(m, recorded_direction(m, self.summary.metrics) == "none")
            out.append((header, [_cell(self.summary, self.comparisons, s, m, lines) for s in self.summary.systems]))
        return out

    def tables(self, width: int) -> list[Table]:
        names = [visible_controls(n) for n in self.summary.systems]
        fixed = _width(["system", *names]) + 3 + len("failed") + 3 + len("ok") + 3 + 1
        for lines in (False, True):
            columns = self._columns(lines)
            if fixed + sum(_width([h, *c]) + 3 for h, c in columns) <= width:
                return [self._table(columns, first=True)]
        chunks: list[list[tuple[str, list[str]]]] = [[]]
        used = fixed
        for col in columns:  # how many tables are needed, filling each in turn
            need = _width([col[0], *col[1]]) + 3
            if chunks[-1] and used + need > width:
                chunks.append([])
                used = fixed
            chunks[-1].append(col)
            used += need
        size = -(-len(columns) // len(chunks))  # then as many columns in each as can be
        even = [columns[i:i + size] for i in range(0, len(columns), size)]
        if len(even) == len(chunks) and all(fixed + sum(_width([h, *c]) + 3 for h, c in chunk) <= width
                                            for chunk in even):
            chunks = even
        return [self._table(c, first=i == 0) for i, c in enumerate(chunks)]

    def _table(self, columns: list[tuple[str, list[str]]], *, first: bool) -> Table:
        table = Table(title=rich_safe(self.title) if self.title and first else None)
        table.add_column("system", style="bold", no_wrap=True)
        for header, _ in columns:
            table.add_column(header, justify="right")
        table.add_column("ok", justify="right")
        table.add_column("failed", justify="right")
        for i, (name, s) in enumerate(self.summary.systems.items()):
            cells: list[Any] = [Text(visible_controls(name))] + [c[i] for _, c in columns]
            cells += [str(s.ok), f"[red]{s.failed}[/]" if s.failed else "0"]
            table.add_row(*cells)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.tables(options.max_width)
        yield Text(self.caption())


def leaderboard_table(summary: RunSummary, comparisons: Optional[RunComparisons] = None,
                      title: Optional[str] = None) -> Leaderboard:
    """Rows: systems; cells: mean ± CI half-width, n, and the mark against the column's best
    (laid out for the width it is printed at: see ``Leaderboard``)."""
    return Leaderboard(summary, comparisons, title)


def usage_table(summary: RunSummary) -> Optional[Group]:
    """Per system: tokens in and out, latency p50 / p95 and cost, and what they mean (None when
    no system has usage recorded)."""
    if not has_usage(summary):
        return None
    priced = ", ".join(f"{m} ${p.input:g}/${p.output:g}" for m, p in summary.prices.items())
    caption = ("tokens as the server or the model's tokenizer counted them (— : the backend reports none); latency "
               "over the rows that returned a summary" + (f"; prices per million tokens in/out: {priced}" if priced
                                                          else ""))
    table = Table(title="usage", title_justify="left")
    table.add_column("system", style="bold", no_wrap=True)
    for col in ("tokens in", "tokens out", "latency p50", "latency p95", "cost"):
        table.add_column(col, justify="right")
    for name, s in summary.systems.items():
        u = s.usage
        table.add_row(Text(visible_controls(name)), fmt_tokens(u.prompt_tokens if u else None),
                      fmt_tokens(u.completion_tokens if u else None), fmt_latency(u.latency_p50 if u else None),
                      fmt_latency(u.latency_p95 if u else None), rich_safe(fmt_cost(u)))
    return Group(table, Text(visible_controls(caption)))


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
    """The leaderboard of a run, its usage table and its notes, ready for ``console.print``
    (marks from its comparisons)."""
    comparisons = run.comparisons
    notes = leaderboard_notes(run.summary, comparisons) + run.notes
    part = describe(run.manifest.selection)
    if part:
        notes.insert(0, f"this run holds {part}")
    merged = describe_merge(run.manifest.merged_from)
    if merged:
        notes.insert(0, f"this run was {merged}")
    usage = usage_table(run.summary)
    return Group(leaderboard_table(run.summary, comparisons, title), *(Text(visible_controls(n)) for n in notes),
                 *([usage] if usage is not None else []))
