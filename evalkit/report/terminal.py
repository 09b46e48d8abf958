"""The terminal leaderboard (rich): one row per system, headline metrics with CI brackets."""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd
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


def worse_than_best(summary: RunSummary, scores: Optional[pd.DataFrame], alpha: float = 0.05) -> dict[str, set[str]]:
    """Per metric, the systems significantly worse than the column's best (paired permutation
    test of each system against the best, Holm-adjusted across those comparisons)."""
    from evalkit.compare import compare_frame, higher_is_better

    marks: dict[str, set[str]] = {}
    if scores is None or len(summary.systems) < 2:
        return marks
    for m in headline_metrics(summary):
        means = [(st.mean, s) for s, ss in summary.systems.items()
                 if (st := ss.metrics.get(m)) is not None and st.mean is not None]
        if len(means) < 2:
            continue
        best = (max if higher_is_better(m, summary.metrics) else min)(means, key=lambda t: t[0])[1]
        pairs = [(best, s) for _, s in means if s != best]
        comparisons = compare_frame(scores, pairs, [m], summary.metrics, run_id=summary.run_id, alpha=alpha,
                                    confidence=summary.confidence, n_resamples=2000, seed=summary.seed)
        marks[m] = {p.system_b for p in comparisons for x in p.metrics if x.metric == m and x.significant}
    return marks


def leaderboard_table(summary: RunSummary, title: str | None = None, scores: Optional[pd.DataFrame] = None) -> Table:
    """Rows: systems; cells: mean ± half-width of the CI; ▼ = significantly worse than the best."""
    metrics = headline_metrics(summary)
    worse = worse_than_best(summary, scores)
    caption = f"mean ± half-width of the {summary.confidence:.0%} bootstrap CI; n/a = not applicable (e.g. no quotes)"
    if worse:
        caption += "; ▼ significantly worse than the column's best (paired permutation test, Holm, α = 0.05)"
    table = Table(title=title, caption=caption, caption_justify="left")
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
            ci = f" ±{(st.ci_high - st.ci_low) / 2:.3f}" if st.ci_low is not None and st.ci_high is not None else ""
            cells.append(f"{st.mean:.3f}{ci}" + (" ▼" if name in worse.get(m, set()) else ""))
        cells.append(str(s.ok))
        cells.append(f"[red]{s.failed}[/]" if s.failed else "0")
        table.add_row(*cells)
    return table
