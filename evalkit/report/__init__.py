"""Reports: terminal leaderboard (terminal.py), Markdown (markdown.py), HTML (html.py), JUnit (junit.py).

``write_reports`` writes every file report of a finished run into its run directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from evalkit.fsutil import write_text_atomic

if TYPE_CHECKING:  # rundir pulls pandas; report.textsafe must stay importable by `evalkit --help`
    from evalkit.records import GoldSet, Manifest, RunSummary
    from evalkit.rundir import RunDir


def write_reports(rundir: RunDir, *, manifest: Manifest, summary: RunSummary, gold: Optional[GoldSet] = None) -> None:
    from evalkit.report import markdown
    from evalkit.report.html import write_run_html

    write_text_atomic(rundir.report_md, markdown.render_run(rundir))
    write_run_html(rundir, gold=gold)


def rerender_run(rundir: RunDir, *, markdown: Optional[Path] = None, html: Optional[Path] = None,
                 min_items: Optional[int] = None) -> tuple[list[Path], Optional[str]]:
    """``evalkit report``: store the run's comparisons.json when it is missing, stale or asked for
    with another ``min_items`` (a note says which), then re-render report.md and report.html."""
    from evalkit.comparisons import comparisons_path, load_comparisons
    from evalkit.report.html import write_run_html
    from evalkit.report.markdown import write_run_markdown

    comparisons, note = load_comparisons(rundir, min_items=min_items, store=True)
    written = [comparisons_path(rundir)] if note else []
    written += [write_run_markdown(rundir, markdown, comparisons), write_run_html(rundir, html, comparisons=comparisons)]
    return written, note
