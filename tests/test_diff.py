"""The diff report (issue 15): ``evalkit compare BASE NEW --html diff.html --markdown diff.md``.

Real runs (diff_fixtures.py): what got worse item by item — the quote whose verdict went from
verbatim to altered, the quotation NEW invented, the figure newly unsupported, the key point
newly missed, the row that failed in NEW — items worst first, the word diff, the Markdown under
60 KB with no link or mention, the HTML escaped and strictly valid. The browser tests are in
test_diff_browser.py.
"""

from __future__ import annotations

import json
import re

import html5lib
import pytest
from diff_fixtures import FAILED_NEW, news_runs, small_runs
from report_fixtures import XSS_SYSTEM
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.diff import diff_runs, word_diff
from evalkit.report.diff_html import render_diff_html
from evalkit.report.diff_markdown import MAX_BYTES, render_diff_markdown


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    base, new = small_runs(tmp_path_factory.mktemp("diff-small"))
    return base, new, diff_runs(base, new, base.compare(new))


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    base, new = news_runs(tmp_path_factory.mktemp("diff-news"))
    return base, new, diff_runs(base, new, base.compare(new))


def _item(diff, system, gold_id):
    s = next(s for s in diff.systems if s.system_a == system)
    return next(i for i in s.items if i.gold_id == gold_id)


def test_what_got_worse_in_an_item(small):
    _, _, diff = small
    item = _item(diff, "faithful", "econ-01")
    changes = {(q.verdict_a, q.verdict_b): q for q in item.quotes}
    altered = changes[("verbatim", "altered")]  # the same quotation, one word changed
    assert altered.text_a.startswith("Inflation is still too high") and altered.text_b.startswith("Inflation is far too high")
    assert "still" in (altered.differs or "") and "far" in (altered.differs or "")
    invented = changes[(None, "not_found")]  # a quotation NEW added, in no article
    assert invented.text_b == "Rates will fall next year."
    assert [(f.text, f.was) for f in item.figures] == [("5.25%", "absent")]
    assert item.worse and item.severity <= -3  # two quotes and a figure, and lower ROUGE
    # NEW no longer mentions inflation: the key point BASE covered is missed
    assert [k.key_point for k in item.key_points] == ["Inflation was 6.2% against a 2% target."]
    assert item.key_points[0].similarity_a > item.key_points[0].similarity_b
    # a new unsupported figure makes an item worse even where the other metrics rose
    world = _item(diff, "faithful", "world/02 ü")
    assert [(f.text, f.was) for f in world.figures] == [("4", "absent")] and world.worse
    ops = {(o.op, o.a.strip(), o.b.strip()) for o in item.words}
    assert ("replace", "still", "far") in ops
    # the row that failed in NEW comes first, whatever the severities
    faithful = next(s for s in diff.systems if s.system_a == "faithful")
    assert faithful.items[0].gold_id == FAILED_NEW[1] and faithful.items[0].status == "failed_new"
    assert faithful.items[0].error_b == FAILED_NEW[2]


def test_items_are_sorted_worst_first(news):
    _, _, diff = news
    for s in diff.systems:
        assert len(s.items) == 44
        sev = [i.severity for i in s.items]
        assert sev == sorted(sev)
        assert s.counts["worse"] == sum(i.severity < 0 or i.problems > 0 for i in s.items) > 30
    oracle = next(s for s in diff.systems if s.system_a == "oracle")
    worst = oracle.items[0]
    assert {(q.verdict_a, q.verdict_b) for q in worst.quotes} >= {("verbatim", "altered"), (None, "not_found")}


def test_word_diff_keeps_every_word_once():
    a = "The bank raised rates to 4.75% on Thursday.\nPrices rose."
    b = "The central bank raised rates to 5.25% on Thursday. Prices rose sharply."
    ops = word_diff(a, b)
    assert "".join(o.a for o in ops) == a and "".join(o.b for o in ops) == b
    assert ("insert", "", "central ") in {(o.op, o.a, o.b) for o in ops}


def test_markdown_is_a_pr_comment_under_60_kb_without_links_or_mentions(news, small):
    _, _, diff = news
    text = render_diff_markdown(diff, html_hint="diff.html")
    assert len(text.encode("utf-8")) <= MAX_BYTES
    assert "### Metrics" in text and "| oracle | rougeLsum |" in text and "🔻 worse" in text
    assert text.count("<details>") >= 5
    assert "more item(s) got worse than the word diffs shown here" in text  # 86 items do not fit: said so
    assert "](" not in text and "http" not in text.replace("http\u200b", "")
    head = text.split("### Word diffs", 1)[0]
    assert "verbatim → altered" in head and "(not in BASE) → not found" in head and "newly unsupported" in head
    small_md = render_diff_markdown(small[2])
    assert "@\u200beveryone" in small_md and "#\u200b12" in small_md and "http\u200b://evil" in small_md
    assert re.search(r"(?<!\\)<(script|img|svg|iframe|a )", small_md) is None  # every tag from a model escaped
    assert "\\<script\\>" in small_md
    assert re.search(r"<summary>\d+\. x&quot;&gt;&lt;svg onload=window\.__pwned=20&gt; · econ-01", small_md)
    tiny = render_diff_markdown(diff, max_bytes=8_000)
    assert len(tiny.encode("utf-8")) <= 8_000 and ("more item(s)" in tiny or "Cut here" in tiny)


def test_html_is_strict_escaped_and_sorted(small):
    base, new, diff = small
    page = render_diff_html(diff)
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(page)
    assert parser.errors == []
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=window.__pwned=40&gt;" in page
    assert 'x&#34;&gt;&lt;svg onload=window.__pwned=20&gt;' in page or "x&quot;&gt;&lt;svg" in page
    assert page.count('class="item diff-item') == 6  # 3 items x 2 systems


def test_cli_writes_both_and_refuses_a_single_run(small, tmp_path):
    base, new, _ = small
    res = invoke("compare", base.path, new.path, "--html", tmp_path / "d.html", "--markdown", tmp_path / "d.md")
    assert res.exit_code == 0, res.output
    assert f"wrote {tmp_path / 'd.html'}" in " ".join(res.output.split())
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")
    md = (tmp_path / "d.md").read_text()
    assert md.startswith("## evalkit diff · BASE `base` → NEW `new`") and "faithful" in md
    res = invoke("compare", base.path, "--html", tmp_path / "x.html")
    assert res.exit_code == 2 and "give BASE and NEW run directories" in res.output
    res = invoke("compare", base.path, new.path, "--json", "--markdown", tmp_path / "j.md")
    assert res.exit_code == 0 and json.loads(res.stdout)["kind"] == "runs" and (tmp_path / "j.md").is_file()
    assert XSS_SYSTEM in json.loads(res.stdout)["pairs"][1]["system_a"]


def test_a_metric_scored_in_both_runs_is_compared_even_when_no_item_had_a_detail():
    """quotes scored over summaries that quote nobody keeps no detail row; the diff must not
    say the metric "was not scored in both runs" (fails on main before this fix)."""
    from evalkit.api import score
    from evalkit.gold import SHIPPED_GOLD, load_gold

    items = load_gold(SHIPPED_GOLD).items[:3]
    rows = [{"gold_id": it.id, "system": "s", "summary": it.article.split(". ")[0] + "."} for it in items]
    base = score(SHIPPED_GOLD, rows, "rouge,quotes,numbers")
    new = score(SHIPPED_GOLD, [dict(r, summary=r["summary"] + " More.") for r in rows], "rouge,quotes")
    assert not any(d.metric == "quotes" for d in [*base.details, *new.details])
    notes = diff_runs(base, new, base.compare(new)).notes
    assert not any("quotation verdicts" in n for n in notes)
    assert any("figures not compared" in n for n in notes)  # numbers: scored in BASE only
