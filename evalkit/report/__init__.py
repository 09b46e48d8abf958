"""Reports: terminal leaderboard (terminal.py), Markdown (markdown.py), HTML (html.py), JUnit (junit.py).

``write_reports`` writes every file report of a finished run into its run directory.
"""

from __future__ import annotations

from typing import Optional

from evalkit.fsutil import write_text_atomic
from evalkit.records import GoldSet, Manifest, RunSummary
from evalkit.rundir import RunDir


def write_reports(rundir: RunDir, *, manifest: Manifest, summary: RunSummary, gold: Optional[GoldSet] = None) -> None:
    from evalkit.report import markdown
    from evalkit.report.html import write_run_html

    write_text_atomic(rundir.report_md, markdown.render_run(rundir))
    write_run_html(rundir, gold=gold)
