"""Where report.html and report.md put what a reader must know (issue 15): a warning (text a
metric dropped, a gold file that changed) in the highlighted box at the top; an informational
note (BERTScore's throughput, how work was shared) in the overview, not styled as a warning;
a run on part of the gold set says which part in both reports and in the terminal.
"""

from __future__ import annotations

import io

from rich.console import Console

import evalkit
from evalkit.report.html import render_run_html
from evalkit.report.markdown import render_run

THROUGHPUT = "bertscore: 88 distinct texts embedded once for 88 pairs (3,100 tokens/s)"
DROPPED = "rouge: the default tokenizer dropped every letter of 3 of 12 scored texts; use rouge:tokenizer=unicode"


def _run():
    run = evalkit.evaluate(None, ["lead", "textrank"], metrics="rouge,quotes", sample=12, seed=3)
    run.summary.notes = [THROUGHPUT, DROPPED]
    run.summary.warnings = [DROPPED]
    return run


def test_a_throughput_note_is_not_a_warning():
    """On main before this commit every note, throughput included, was in the warning box."""
    page = render_run_html(_run())
    box = page.split('<section class="notes"', 1)[1].split("</section>", 1)[0]
    overview = page.split('<section id="overview">', 1)[1].split("</section>", 1)[0]
    assert DROPPED in box and THROUGHPUT not in box
    assert THROUGHPUT in overview.split('class="info-notes"', 1)[1]
    md = render_run(_run())
    warnings, notes = md.split("## Warnings", 1)[1].split("## Notes", 1)
    assert DROPPED in warnings and THROUGHPUT not in warnings and THROUGHPUT in notes


def test_a_summary_that_does_not_say_which_notes_are_warnings_keeps_them_all_in_view():
    run = _run()
    run.summary.warnings = None  # written by an older evalkit
    box = render_run_html(run).split('<section class="notes"', 1)[1].split("</section>", 1)[0]
    assert DROPPED in box and THROUGHPUT in box


def test_a_run_on_part_of_the_gold_set_says_which_part_everywhere():
    run = _run()
    part = "12 of 44 items (seeded sample, seed 3)"
    assert part in render_run(run) and part in render_run_html(run)
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(run.leaderboard())
    assert f"this run holds {part}" in console.export_text()
