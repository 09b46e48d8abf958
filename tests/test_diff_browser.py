"""diff.html in a real browser (Debian's Chromium through Playwright, network blocked): items
sorted by regression, a fabricated quote in NEW shown as a verdict change, payloads from both
runs escaped and never executed, no console errors, no request, under 3 MB for 44 items × 2
systems, the nav landing below the sticky header (issue 15)."""

from __future__ import annotations

import pytest
from browser_fixtures import ARTIFACTS, Page, browser  # noqa: F401 - fixture
from diff_fixtures import FAILED_NEW, XSS_NEW, news_runs, small_runs
from playwright.sync_api import expect
from report_fixtures import PAYLOADS, SUMMARIES, XSS_SYSTEM

from evalkit.diff import diff_runs
from evalkit.report import write_diff_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    """diff.html of 44 items × lead and oracle, and the diff behind it."""
    folder = tmp_path_factory.mktemp("diff-news")
    base, new = news_runs(folder)
    diff, _ = write_diff_files(base, new, base.compare(new), html=folder / "diff.html")
    return folder / "diff.html", diff


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff-small")
    base, new = small_runs(folder)
    write_diff_files(base, new, base.compare(new), html=folder / "diff.html")
    return folder / "diff.html"


@pytest.fixture(scope="module")
def news_view(browser, news):
    view = Page(browser, news[0].resolve().as_uri(), width=1400)
    yield view
    view.close()


def test_loads_offline_without_errors_and_under_3_mb(news, news_view):
    path, diff = news
    assert sum(len(s.items) for s in diff.systems) == 88 and len(diff.systems) == 2
    assert path.stat().st_size < 3_000_000
    v = news_view
    assert v.page.title().startswith("evalkit diff")
    assert v.errors == [] and v.dialogs == [] and v.blocked == []
    assert [c for c in v.console if c[0] in ("error", "warning")] == []
    assert set(v.requests) == {path.resolve().as_uri()}
    assert v.page.locator("#filters").is_visible()


def test_items_are_sorted_by_regression(news, news_view):
    _, diff = news
    p = news_view.page
    severity = {(s.label, i.gold_id): (0 if i.status == "failed_new" else 1, i.severity) for s in diff.systems
                for i in s.items}
    shown = p.locator("details.diff-item").evaluate_all(
        "els => els.map(e => [e.querySelector('.sys').textContent, e.querySelector('.item-id').textContent])")
    assert len(shown) == 88
    order = [severity[(s, g)] for s, g in shown]
    assert order == sorted(order)  # worst first, in the page as in the data
    index = p.locator("#index tbody tr td:nth-child(3) a").all_inner_texts()
    assert index == [g for _, g in shown]
    worst = p.locator("details.diff-item").first
    assert worst.locator(".sevtag").inner_text() == f"severity {min(o[1] for o in order):+.3f}"
    p.locator("#f-worse").check()
    count = p.locator("#f-count").inner_text()
    assert count.startswith(f"{sum(s.counts['worse'] for s in diff.systems)} of 88")
    p.locator("#f-worse").uncheck()


def test_a_fabricated_quote_in_new_shows_as_a_verdict_change(news_view):
    p = news_view.page
    item = p.locator("details.diff-item").first
    item.locator("summary").click()
    changes = item.locator("li.quote-change")
    texts = [" ".join(t.split()) for t in changes.all_inner_texts()]
    assert any(t.startswith("NOT IN BASE → NOT FOUND") and "We expect a full recovery by next spring" in t
               for t in texts), texts
    assert any(t.startswith("VERBATIM → ALTERED") and "truly" in t for t in texts), texts
    assert item.locator(".sides .new ins", has_text="truly").first.is_visible()
    assert item.locator(".sides .base del").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    item.screenshot(path=str(ARTIFACTS / "diff-item.png"))


def test_nav_lands_below_the_sticky_header(news_view):
    p = news_view.page
    for section in ("metrics", "items", "overview"):
        p.locator(f'header.top nav a[href="#{section}"]').click()
        p.wait_for_function(f"location.hash === '#{section}'")
        box = p.evaluate("""(sel) => [document.querySelector(sel).getBoundingClientRect().top,
                                     document.querySelector('header.top').getBoundingClientRect().bottom]""",
                         f"#{section} h2")
        assert box[0] >= box[1], (section, box)


def test_payloads_of_both_runs_render_as_text_and_never_run(browser, small):
    view = Page(browser, small.resolve().as_uri())
    try:
        p = view.page
        p.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        p.mouse.move(300, 300)
        p.keyboard.press("Tab")
        p.wait_for_timeout(300)
        assert p.evaluate("typeof window.__pwned") == "undefined"
        assert not [c for c in view.console if "PWNED" in c[1]]
        assert view.errors == [] and view.dialogs == [] and view.blocked == []
        assert p.locator("img, iframe, textarea, svg[onload], input[autofocus]").count() == 0
        item = p.locator("details.diff-item").filter(has=p.locator(".sys", has_text=XSS_SYSTEM)).filter(
            has=p.locator(".item-id", has_text="econ-01"))
        assert item.count() == 1
        base_text = item.locator(".side.base .summary").inner_text()
        new_text = item.locator(".side.new .summary").inner_text()
        assert " ".join(base_text.split()) == " ".join(SUMMARIES[XSS_SYSTEM]["econ-01"].split())  # BASE's payloads
        assert " ".join(new_text.split()) == " ".join(XSS_NEW["econ-01"].split())  # NEW's payloads
        assert PAYLOADS[0] in base_text
        failed = p.locator("details.diff-item").filter(has=p.locator(".item-id", has_text=FAILED_NEW[1])).filter(
            has=p.locator(".sys", has_text=FAILED_NEW[0]))
        expect(failed.locator(".side.new .bad code")).to_have_text(FAILED_NEW[2])
        assert p.locator("details.diff-item").first.locator(".item-id").inner_text() == FAILED_NEW[1]
        ARTIFACTS.mkdir(exist_ok=True)
        item.screenshot(path=str(ARTIFACTS / "diff-xss.png"))
    finally:
        view.close()


def test_diff_of_the_runs_in_memory_equals_the_written_one(news):
    path, diff = news
    base, new = news_runs(path.parent)
    assert diff_runs(base, new, base.compare(new)) == diff
