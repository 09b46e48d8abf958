"""Reports: terminal leaderboard (terminal.py), Markdown (markdown.py), HTML (html.py), JUnit (junit.py).

Every renderer takes a :class:`evalkit.run.Run` (held in memory or read from a run directory)
and computes no statistics. ``rerender_run`` is ``evalkit report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pandas comes with the run; report.textsafe must stay importable by `evalkit --help`
    from evalkit.compare import Comparison
    from evalkit.diff import RunDiff
    from evalkit.gate import GateReport
    from evalkit.run import Run


def write_gate_files(report: GateReport, *, junit: Optional[Path] = None, markdown: Optional[Path] = None) -> list[Path]:
    """``evalkit gate``'s files: JUnit XML (if asked) and the Markdown summary (if asked; also
    appended to ``$GITHUB_STEP_SUMMARY`` when that is set)."""
    from evalkit.report.junit import write_gate_junit
    from evalkit.report.markdown import write_gate_markdown
    from evalkit.rundir import refuse_run_record

    for path, what in ((junit, "--junit"), (markdown, "--markdown")):
        if path is not None:
            refuse_run_record(path, what)

    written = []
    if junit is not None:
        write_gate_junit(report, Path(junit))
        written.append(Path(junit))
    return written + write_gate_markdown(report, Path(markdown) if markdown is not None else None)


def write_diff_files(base: Run, new: Run, comparison: Comparison, *, html: Optional[Path] = None,
                     markdown: Optional[Path] = None, progress: bool = False) -> tuple[RunDiff, list[Path]]:
    """``evalkit compare BASE NEW --html diff.html --markdown diff.md``: what changed item by item
    (evalkit/diff.py) written as the HTML diff report and/or the Markdown for a PR comment."""
    from evalkit.diff import diff_runs
    from evalkit.fsutil import write_text_atomic
    from evalkit.progress import Steps
    from evalkit.report.diff_html import render_diff_html
    from evalkit.report.diff_markdown import render_diff_markdown
    from evalkit.rundir import refuse_run_record

    for out, what in ((html, "--html"), (markdown, "--markdown")):
        if out is not None:
            refuse_run_record(out, what)
    written: list[Path] = []
    with Steps("diff report", enabled=progress, total=1 + (html is not None) + (markdown is not None)) as steps:
        with steps.step("pairing the items of the two runs"):
            diff = diff_runs(base, new, comparison)
        for path, render in ((html, render_diff_html), (markdown, None)):
            if path is None:
                continue
            with steps.step(Path(path).name):
                text = (render_diff_html(diff) if render is not None
                        else render_diff_markdown(diff, html_hint=str(html) if html is not None else None))
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(Path(path), text)
                written.append(Path(path))
    return diff, written


def rerender_run(run: Run, *, markdown: Optional[Path] = None, html: Optional[Path] = None,
                 min_items: Optional[int] = None, progress: bool = False) -> tuple[list[Path], Optional[str]]:
    """``evalkit report``: store the run's comparisons.json when it is missing, stale or asked for
    with another ``min_items`` (a note says which), then re-render report.md and report.html
    (default: into the run directory)."""
    from evalkit.comparisons import comparisons_path, load_comparisons
    from evalkit.rundir import RunDir, refuse_run_record

    if run.path is None:
        raise ValueError("rerender_run renders a run directory; use run.to_markdown() / run.to_html()")
    for out, what in ((markdown, "--markdown"), (html, "--html")):
        if out is not None:
            refuse_run_record(out, what)
    rundir = RunDir(run.path)
    comparisons, note = load_comparisons(rundir, run.summary, min_items=min_items, store=True)
    fresh = run.with_comparisons(comparisons)
    written = [comparisons_path(rundir)] if note else []
    md, page = Path(markdown) if markdown else rundir.report_md, Path(html) if html else rundir.report_html
    from evalkit.progress import Steps

    with Steps("rendering", enabled=progress, total=2) as steps:
        with steps.step(md.name):
            fresh.to_markdown(md)
        with steps.step(page.name):
            fresh.to_html(page)
    return [*written, md, page], note
