"""Regenerate the screenshots of the HTML reports in docs/: report.html at 1400 px
(docs/report.png) and on a phone, 390 px (docs/report-phone.png), one article
(docs/report-article.png), and the diff report at 1400 px (docs/diff.png, docs/diff-item.png)
and on a phone (docs/diff-phone.png).

Scores four systems on the shipped gold set: the ``lead``, ``textrank`` and ``oracle``
baselines, and ``sloppy-demo`` — the oracle's summary passed through a deterministic corruption that
imitates a careless abstractive model (it swaps a word inside the first quotation, invents a
quotation on every third article and bumps the first figure), so the drill-down has altered
and not-found quotes and unsupported numbers to show. The diff report compares a BASE run
(lead and oracle as they are) with a NEW run (the same summaries through the same corruption).
The scoring, the reports and the browser are the real ones: ``evalkit.score``,
``render_run_html``, ``evalkit compare --html``'s writer, Debian's Chromium through Playwright
with the network blocked.

    python scripts/report_screenshot.py [--out docs] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from evalkit.api import score
from evalkit.backends.registry import build_backend
from evalkit.gold import default_gold_path, load_gold
from evalkit.records import GoldItem, SystemSpec
from evalkit.report.drilldown import anchor_for

ROOT = Path(__file__).resolve().parents[1]
METRICS = "rouge,quotes,numbers,keypoints,extractiveness"
BASELINES = ("lead", "textrank", "oracle")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
_QUOTE = re.compile(r"[\"“]([^\"”]{12,}?)[\"”]")
_NUMBER = re.compile(r"(?<![\w.,])(\d{2,3})(?![\d,.]\d)")


def sloppy(summary: str, n: int) -> str:
    """Deterministic damage: one word changed inside the first quotation, a figure bumped,
    an invented quotation every third article."""
    m = _QUOTE.search(summary)
    if m:
        words = m.group(1).split()
        i = max(range(len(words)), key=lambda k: (len(words[k].strip(".,;:!?")), -k))
        words[i] = "truly" if words[i][:1].islower() else "Truly"
        summary = summary[:m.start(1)] + " ".join(words) + summary[m.end(1):]
    summary = _NUMBER.sub(lambda x: str(int(x.group(1)) + 1), summary, count=1)
    if n % 3 == 0:
        summary += " “We expect a full recovery by next spring,” a spokesperson added."
    return summary


def predictions(items: list[GoldItem]) -> list[dict]:
    rows = []
    for name in BASELINES:
        backend = build_backend(SystemSpec(name=name, backend=name))
        try:
            for item in items:
                start = time.perf_counter()
                summary = backend.summarize(item)
                rows.append({"gold_id": item.id, "system": name, "summary": summary,
                             "latency_s": round(time.perf_counter() - start, 6)})  # measured: the usage table
        finally:
            backend.close()
    base = {r["gold_id"]: r["summary"] for r in rows if r["system"] == "oracle"}
    rows += [{"gold_id": item.id, "system": "sloppy-demo", "summary": sloppy(base[item.id], n)}
             for n, item in enumerate(items)]
    return rows


PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 1000}


def shoot(html: Path, diff: Path, out: Path, article_anchor: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    shots: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def page(viewport: dict, url: str):
            context = browser.new_context(viewport=viewport, device_scale_factor=1)
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://")
                          else (blocked.append(r.request.url), r.abort()))
            pg = context.new_page()
            pg.goto(url)
            return pg

        def shot(pg, name: str, **kwargs) -> None:
            shots.append(out / name)
            pg.screenshot(path=str(out / name), **kwargs)

        report, diffpage = html.resolve().as_uri(), diff.resolve().as_uri()
        pg = page(WIDE, report)
        pg.locator('header.top nav a[href="#leaderboard"]').click()  # as a reader gets there: below the header
        pg.wait_for_timeout(200)
        shot(pg, "report.png")
        pg = page({"width": 1400, "height": 1500}, report + "#" + article_anchor)
        item = pg.locator("#" + article_anchor)
        item.locator(".item-body").wait_for()
        pg.add_style_tag(content="header.top { position: static; }")  # not over the clipped article
        shot(pg, "report-article.png", full_page=True, clip=_box(pg, item, 2600))
        shot(page(PHONE, report), "report-phone.png")
        pg = page(WIDE, diffpage)
        shot(pg, "diff.png")
        first = pg.locator("details.diff-item").first
        first.locator("summary").click()
        pg.add_style_tag(content="header.top { position: static; }")
        shot(pg, "diff-item.png", full_page=True, clip=_box(pg, first, 1600))
        pg = page(PHONE, diffpage + "#items")
        pg.locator("details.diff-item").first.locator("summary").click()
        pg.locator("details.diff-item").first.scroll_into_view_if_needed()
        shot(pg, "diff-phone.png")
        browser.close()
    if blocked:
        raise SystemExit(f"the reports tried to load {blocked}")
    return shots


def _box(pg, locator, most: int) -> dict:
    """The page area of ``locator`` (at most ``most`` px tall), for a full-page clip."""
    box = locator.bounding_box()
    scroll_y = pg.evaluate("window.scrollY")
    return {"x": box["x"], "y": box["y"] + scroll_y, "width": box["width"], "height": min(box["height"], most)}


def diff_runs(items: list[GoldItem], rows: list[dict], work: Path) -> Path:
    """diff.html of BASE (lead and oracle as they are) against NEW (their summaries made sloppy)."""
    from evalkit.report import write_diff_files

    base = [r for r in rows if r["system"] in ("lead", "oracle")]
    new = [dict(r, summary=sloppy(r["summary"], n)) for n, r in enumerate(base)]
    runs = []
    for label, part in (("base", base), ("new", new)):
        path = work / f"{label}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        runs.append(score(default_gold_path(), path, METRICS, out=work / label))
    html = work / "diff.html"
    write_diff_files(runs[0], runs[1], runs[0].compare(runs[1]), html=html, markdown=work / "diff.md")
    print(f"diff: {html} ({html.stat().st_size / 1e6:.2f} MB, {len(items)} items x 2 systems); "
          f"diff.md {(work / 'diff.md').stat().st_size / 1e3:.1f} kB")
    return html


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    ap.add_argument("--keep", type=Path, help="keep the run directory here")
    args = ap.parse_args(argv)
    gold_path = default_gold_path()
    items = load_gold(gold_path).items
    with tempfile.TemporaryDirectory(prefix="evalkit-shot-") as tmp:
        work = Path(tmp)
        preds = work / "predictions.jsonl"
        rows = predictions(items)
        preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        run = score(gold_path, preds, METRICS, out=args.keep or work / "run")
        diff = diff_runs(items, rows, work)
        html = run.path / "report.html"
        print(f"report: {html} ({html.stat().st_size / 1e6:.2f} MB, {len(items)} items x 4 systems)")
        # the article shown: the first one where the demo system altered a quote and invented one
        quotes = run.details_df().query("system == 'sloppy-demo' and kind == 'quote'")
        verdicts = {g: set(v) for g, v in quotes.groupby("gold_id", sort=False)["verdict"]}
        chosen = next((g for g, v in verdicts.items() if {"altered", "not_found"} <= v), None) or \
            next(g for g, v in verdicts.items() if "altered" in v or "not_found" in v)
        anchor = anchor_for(chosen, 0, set())
        args.out.mkdir(parents=True, exist_ok=True)
        for path in shoot(html, diff, args.out, anchor):
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
