"""The terminal leaderboard (rich): one row per system, headline metrics with CI brackets."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from evalkit.records import RunSummary


def headline_metrics(summary: RunSummary) -> list[str]:
    names = [h for m in summary.metrics for h in (m.headline or m.outputs)]
    present = {k for s in summary.systems.values() for k in s.metrics}
    return [n for n in dict.fromkeys(names) if n in present]


def leaderboard_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """The leaderboard as plain data (also what ``--json`` prints)."""
    metrics = headline_metrics(summary)
    rows = []
    for name, s in summary.systems.items():
        row: dict[str, Any] = {"system": name, "items": s.items, "ok": s.ok, "failed": s.failed, "cached": s.cached}
        for m in metrics:
            st = s.metrics.get(m)
            row[m] = None if st is None else {"mean": st.mean, "ci_low": st.ci_low, "ci_high": st.ci_high,
                                               "n": st.n, "n_not_applicable": st.n_not_applicable}
        rows.append(row)
    return rows


def leaderboard_table(summary: RunSummary, title: str | None = None) -> Table:
    metrics = headline_metrics(summary)
    best = {}
    for m in metrics:
        means = [s.metrics[m].mean for s in summary.systems.values() if m in s.metrics and s.metrics[m].mean is not None]
        best[m] = max(means) if means else None
    table = Table(title=title, caption=f"mean [{summary.confidence:.0%} bootstrap CI]; * best in column; "
                  "n/a = not applicable (e.g. no quotes)", caption_justify="left")
    table.add_column("system", style="bold")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("ok", justify="right")
    table.add_column("failed", justify="right")
    for name, s in summary.systems.items():
        cells = [name]
        for m in metrics:
            st = s.metrics.get(m)
            if st is None or st.mean is None:
                cells.append("n/a")
                continue
            mark = "*" if best[m] is not None and st.mean == best[m] and len(summary.systems) > 1 else " "
            ci = f" [{st.ci_low:.3f}, {st.ci_high:.3f}]" if st.ci_low is not None else ""
            cells.append(f"{st.mean:.3f}{ci}{mark}")
        cells.append(str(s.ok))
        cells.append(f"[red]{s.failed}[/]" if s.failed else "0")
        table.add_row(*cells)
    return table
