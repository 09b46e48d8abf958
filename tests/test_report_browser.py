"""The HTML report in a real browser: Debian's Chromium driven by Playwright, the page opened
from a file:// URL with every non-file request aborted and recorded.

Asserts: no console errors, no request leaves the page, the leaderboard sorts on click, the
drill-down shows quote verdicts, the filters work, no XSS payload runs, the page reads with
JavaScript disabled; a screenshot is kept under test-artifacts/. If Chromium cannot start,
these tests fail (they never skip): install it with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import re

import pytest
from browser_fixtures import ARTIFACTS, Page, browser  # noqa: F401 - fixture
from playwright.sync_api import expect
from report_fixtures import FAILED, PAYLOADS, SUMMARIES, XSS_SYSTEM, shared_report_run

from evalkit.rundir import RunDir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunDir:
    return shared_report_run(tmp_path_factory)


@pytest.fixture(scope="module")
def view(browser, run):
    page = Page(browser, run.report_html.resolve().as_uri())
    yield page
    page.close()


def _column(page, table_id: str) -> list[str]:
    return page.locator(f"#{table_id} tbody th[scope=row]").evaluate_all("els => els.map(e => e.getAttribute('data-v'))")


def _means(run: RunDir, metric: str) -> dict[str, float]:
    summary = run.read_summary()
    return {s: st.metrics[metric].mean for s, st in summary.systems.items() if metric in st.metrics}


def test_loads_offline_without_console_errors_or_requests(view, run):
    p = view.page
    assert p.title().startswith("evalkit report")
    assert p.locator("#leaderboard").is_visible()
    assert view.errors == [] and view.dialogs == []
    assert [c for c in view.console if c[0] in ("error", "warning")] == []
    assert view.blocked == []
    assert [u for u in view.requests if not u.startswith("file://")] == []
    assert set(view.requests) == {run.report_html.resolve().as_uri()}  # the page itself and nothing else
    assert p.locator("#filters").is_visible()  # JS ran: the controls are shown


def test_leaderboard_sorts_on_click(view, run):
    p = view.page
    means = _means(run, "rouge1")
    def header(name: str):
        exact = re.compile(rf"^\s*{re.escape(name)}\s*$")
        return p.locator("#board thead th").filter(has=p.locator("button.sort", has_text=exact))

    header("rouge1").locator("button").click()
    desc = sorted(means, key=lambda s: -means[s])
    assert _column(p, "board") == desc
    assert header("rouge1").get_attribute("aria-sort") == "descending"
    header("rouge1").locator("button").click()
    assert _column(p, "board") == desc[::-1]
    assert header("rouge1").get_attribute("aria-sort") == "ascending"
    header("system").locator("button").click()
    assert _column(p, "board") == sorted(means, key=str)  # text columns sort A→Z first
    assert header("rouge1").get_attribute("aria-sort") == "none"
    header("errors").locator("button").click()
    assert _column(p, "board")[0] == FAILED[0]  # the only system with a failure


def test_drilldown_shows_quote_verdicts(view):
    p = view.page
    p.locator("#index a", has_text="econ-01").click()
    item = p.locator("#item-econ-01")
    expect(item).to_have_attribute("open", "")  # opened by following the link
    card = item.locator("article.card", has=p.locator("h4", has_text="sloppy"))
    verdicts = card.locator(".quote .verdict").all_inner_texts()
    assert [v.lower() for v in verdicts] == ["altered", "not found"]
    assert card.locator(".quote .verdict").first.is_visible()
    assert "closest in article" in card.locator(".quote").first.inner_text()
    assert "5.25% not in article" in card.locator(".numbers").inner_text()
    assert card.locator("mark.number-bad", has_text="5.25%").is_visible()
    faithful = item.locator("article.card", has=p.locator("h4", has_text="faithful"))
    assert faithful.locator(".quote .verdict").all_inner_texts() == ["VERBATIM"]  # CSS upper-cases the word
    # in the article: faithful's verbatim quote and sloppy's altered one cover the same span (the more
    # severe verdict colours it, the tooltip names both) and each gets its own labelled reference
    mark = item.locator(".article .text mark", has_text="Inflation is still too high")
    assert mark.count() >= 1
    assert "faithful Q1: verbatim" in mark.first.get_attribute("title")
    assert "sloppy Q1: altered" in mark.first.get_attribute("title")
    assert item.locator(".article .text sup.ref.verbatim").all_inner_texts() == ["faithful Q1"]
    assert item.locator(".article .text sup.ref.altered").all_inner_texts() == ["sloppy Q1"]
    assert item.locator("table.coverage td.covered").count() >= 1 and item.locator("table.coverage td.missed").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    item.screenshot(path=str(ARTIFACTS / "report-item.png"))


def test_filters(view, run):
    p = view.page
    visible = lambda: [e for e in p.locator("details.item").evaluate_all(  # noqa: E731
        "els => els.filter(e => e.offsetParent !== null).map(e => e.id)")]
    assert len(visible()) == 3
    p.locator("#f-fab").check()
    fab = visible()
    assert "item-econ-01" in fab and "item-sci-03" not in fab  # sloppy altered/invented quotes in econ-01 only
    p.locator("#f-fab-system").select_option("faithful")
    assert visible() == []
    assert "0 of 3" in p.locator("#f-count").inner_text()
    p.locator("#f-fab").uncheck()
    # items where faithful lost to sloppy on rouge1
    scores = run.read_scores()
    r1 = scores[scores.metric == "rouge1"].pivot(index="gold_id", columns="system", values="value")
    expected = sorted(g for g in r1.index if r1.loc[g, "faithful"] < r1.loc[g, "sloppy"])
    p.locator("#f-lost").check()
    p.locator("#f-lost-x").select_option("faithful")
    p.locator("#f-lost-y").select_option("sloppy")
    p.locator("#f-lost-metric").select_option("rouge1")
    shown = p.locator("#index tbody tr").evaluate_all(
        "rows => rows.filter(r => r.offsetParent !== null).map(r => r.cells[0].innerText)")
    assert sorted(shown) == expected
    p.locator("#f-lost-x").select_option("sloppy")
    p.locator("#f-lost-y").select_option("faithful")
    shown = p.locator("#index tbody tr").evaluate_all(
        "rows => rows.filter(r => r.offsetParent !== null).map(r => r.cells[0].innerText)")
    assert sorted(shown) == sorted(g for g in r1.index if r1.loc[g, "sloppy"] < r1.loc[g, "faithful"])
    p.locator("#f-lost").uncheck()
    p.locator("#f-search").fill("PROBE")  # title search, case-insensitive
    assert visible() == ["item-sci-03"]
    p.locator("#f-search").fill("world/02")  # id search
    assert visible() == ["item-world_02_"]
    p.locator("#f-search").fill("")
    assert len(visible()) == 3
    p.locator("#f-jump").select_option("item-sci-03")
    assert p.evaluate("location.hash") == "#item-sci-03"
    expect(p.locator("#item-sci-03")).to_have_attribute("open", "")


def test_xss_payloads_render_as_text_and_never_run(browser, run):
    view = Page(browser, run.report_html.resolve().as_uri())
    try:
        p = view.page
        p.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # fire ontoggle, if any
        p.mouse.move(300, 300)
        for anchor in ("item-econ-01", "item-world_02_", "item-sci-03"):
            p.locator(f"#{anchor}").scroll_into_view_if_needed()
        p.keyboard.press("Tab")
        p.wait_for_timeout(300)
        assert p.evaluate("typeof window.__pwned") == "undefined"
        assert not [c for c in view.console if "PWNED" in c[1]]
        assert view.errors == [] and view.dialogs == [] and view.blocked == []
        card = p.locator("#item-econ-01 article.card").filter(has=p.locator("h4", has_text=XSS_SYSTEM))
        shown = card.locator(".summary").evaluate(
            "el => { const c = el.cloneNode(true); c.querySelectorAll('sup').forEach(s => s.remove()); return c.textContent; }")
        assert shown == SUMMARIES[XSS_SYSTEM]["econ-01"]  # every payload is visible text, exactly as written
        assert card.locator(".summary").is_visible()
        assert len(PAYLOADS) >= 10
        assert p.locator("#item-world_02_ .item-title").inner_text() == "Talks <b>collapse</b> & ministers walk out"
        assert FAILED[2] in p.locator("#item-world_02_").inner_text()
        assert p.locator("img, iframe, textarea, svg[onload]").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        card.screenshot(path=str(ARTIFACTS / "report-xss.png"))
    finally:
        view.close()


def test_reads_without_javascript(browser, run):
    view = Page(browser, run.report_html.resolve().as_uri(), javascript=False)
    try:
        p = view.page
        assert p.locator("#filters").is_hidden()  # controls that need JS are not offered
        assert _column(p, "board") == list(run.read_summary().systems)
        assert p.locator("svg.chart").count() >= 2
        p.locator("#item-econ-01 > summary").click()  # <details> opens natively
        assert p.locator("#item-econ-01 .article .text").is_visible()
        assert p.locator("#item-econ-01 .quote .verdict").count() >= 3
        assert view.blocked == []
    finally:
        view.close()


def test_screenshot(view):
    p = view.page
    p.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "report.png"
    p.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 20_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# layout (issue 15): the sticky header, the leaderboard's width, five systems side by side
# --------------------------------------------------------------------------------------------

HEADING_BELOW_HEADER = """(sel) => { const h = document.querySelector(sel).getBoundingClientRect();
  const top = document.querySelector('header.top').getBoundingClientRect();
  return {heading: h.top, header: top.bottom, inView: h.top >= 0 && h.bottom <= innerHeight}; }"""


def test_a_nav_click_lands_the_heading_below_the_sticky_header(browser, run):
    """On main before this commit the header covered the heading it had jumped to."""
    view = Page(browser, run.report_html.resolve().as_uri(), width=1400)
    try:
        p = view.page
        for section in ("leaderboard", "charts", "significance", "articles", "overview"):
            p.locator(f'header.top nav a[href="#{section}"]').click()
            p.wait_for_function(f"location.hash === '#{section}'")
            box = p.evaluate(HEADING_BELOW_HEADER, f"#{section} h2")
            assert box["heading"] >= box["header"] and box["inView"], (section, box)
        p.locator("#index a", has_text="sci-03").click()  # an article from the index
        box = p.evaluate(HEADING_BELOW_HEADER, "#item-sci-03 > summary")
        assert box["heading"] >= box["header"], box
    finally:
        view.close()


def test_the_leaderboard_does_not_scroll_sideways_at_1400_px(browser, run):
    """On main before this commit the headline table was wider than the page (density cut)."""
    view = Page(browser, run.report_html.resolve().as_uri(), width=1400)
    try:
        widths = view.page.evaluate("""() => { const box = document.querySelector('#board').closest('.scroll');
            return [box.scrollWidth, box.clientWidth, document.documentElement.scrollWidth, innerWidth]; }""")
        assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
        header = view.page.locator("#board thead th").last
        assert header.is_visible()
    finally:
        view.close()


def test_no_sideways_scroll_on_a_phone(browser, run):
    view = Page(browser, run.report_html.resolve().as_uri(), width=390, height=844)
    try:
        p = view.page
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        assert p.evaluate("getComputedStyle(document.querySelector('header.top')).position") == "static"
    finally:
        view.close()


def test_five_systems_are_all_shown_in_an_article(browser, tmp_path):
    from report_fixtures import write_inputs

    from evalkit.api import score

    gold, preds = write_inputs(tmp_path)
    rows = [line for line in preds.read_text().splitlines() if line.strip()]
    extra = [line.replace('"system": "faithful"', '"system": "fifth-system"') for line in rows if '"faithful"' in line]
    preds.write_text("\n".join(rows + extra) + "\n", encoding="utf-8")
    run = score(gold, preds, "rouge,quotes,numbers", out=tmp_path / "five")
    assert len(run.systems) == 5
    view = Page(browser, (tmp_path / "five" / "report.html").resolve().as_uri() + "#item-econ-01", width=1400)
    try:
        p = view.page
        cards = p.locator("#item-econ-01 article.card")
        assert cards.count() == 5
        names = []
        for i in range(5):
            card = cards.nth(i)
            card.scroll_into_view_if_needed()
            expect(card).to_be_visible()
            box = card.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1400 and box["height"] > 50
            names.append(card.locator("h4").inner_text().strip())
        assert sorted(names) == sorted(run.systems)
        for sel in ("#item-econ-01 .item-scores", "#board"):
            sw, cw = p.evaluate(f"(() => {{ const b = document.querySelector('{sel}').closest('.scroll'); "
                                "return [b.scrollWidth, b.clientWidth]; })()")
            assert sw <= cw, (sel, sw, cw)
    finally:
        view.close()


def test_right_to_left_text_is_laid_out_right_to_left(browser, tmp_path):
    """An Arabic article, its key points and a summary of it read right to left (``dir="auto"``),
    while the English ones beside them stay left to right."""
    import json

    from evalkit.api import score

    arabic = "قال المجلس إن الميزانية ارتفعت بنسبة 5 في المئة هذا العام. وأضاف أن المدارس ستستفيد."
    gold = tmp_path / "gold.jsonl"
    items = [{"id": "ar-1", "title": "ميزانية", "article": arabic, "key_points": ["ارتفعت الميزانية بنسبة 5 في المئة."]},
             {"id": "en-1", "title": "Budget", "article": "The council raised the budget by 5 percent this year.",
              "key_points": ["The budget rose 5 percent."]}]
    gold.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    preds = tmp_path / "preds.jsonl"
    rows = [{"gold_id": "ar-1", "system": "s", "summary": arabic.split(". ")[0] + "."},
            {"gold_id": "en-1", "system": "s", "summary": "The council raised the budget by 5 percent."}]
    preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    score(gold, preds, "rouge:tokenizer=unicode,numbers", out=tmp_path / "run")
    view = Page(browser, (tmp_path / "run" / "report.html").resolve().as_uri(), width=1400)
    try:
        direction = ("(sel) => Array.from(document.querySelectorAll(sel)).map("
                     "e => getComputedStyle(e).direction)")
        for item, want in (("ar-1", "rtl"), ("en-1", "ltr")):
            for part in (".article .text", ".text.summary", "ol li"):
                got = view.page.evaluate(direction, f"#item-{item} {part}")
                assert got and set(got) == {want}, (item, part, got)
    finally:
        view.close()
