"""Regenerate the README screenshots of the HTML report (docs/report.png, docs/report-article.png).

Scores four systems on the shipped gold set: the ``lead``, ``textrank`` and ``oracle``
baselines, and ``sloppy-demo`` — the oracle's summary passed through a deterministic corruption that
imitates a careless abstractive model (it swaps a word inside the first quotation, invents a
quotation on every third article and bumps the first figure), so the drill-down has altered
and not-found quotes and unsupported numbers to show. The scoring, the report and the browser
are the real ones: ``evalkit.score``, ``render_run_html``, Debian's Chromium
through Playwright with the network blocked.

    python scripts/report_screenshot.py [--out docs] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
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
                rows.append({"gold_id": item.id, "system": name, "summary": backend.summarize(item)})
        finally:
            backend.close()
    base = {r["gold_id"]: r["summary"] for r in rows if r["system"] == "oracle"}
    rows += [{"gold_id": item.id, "system": "sloppy-demo", "summary": sloppy(base[item.id], n)}
             for n, item in enumerate(items)]
    return rows


def shoot(html: Path, out: Path, article_anchor: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1500}, device_scale_factor=1)
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://")
                      else (blocked.append(r.request.url), r.abort()))
        page = context.new_page()
        page.goto(html.resolve().as_uri() + "#leaderboard")
        top = out / "report.png"
        page.screenshot(path=str(top))
        page.set_viewport_size({"width": 1480, "height": 1500})  # the four summaries side by side
        page.goto(html.resolve().as_uri() + "#" + article_anchor)
        page.add_style_tag(content="header.top { position: static; }")  # not over the clipped article
        item = page.locator("#" + article_anchor)
        item.locator(".item-body").wait_for()
        box = item.bounding_box()
        scroll_y = page.evaluate("window.scrollY")
        article = out / "report-article.png"
        page.screenshot(path=str(article), full_page=True, clip={
            "x": box["x"], "y": box["y"] + scroll_y, "width": box["width"], "height": min(box["height"], 1500)})
        browser.close()
    if blocked:
        raise SystemExit(f"the report tried to load {blocked}")
    return [top, article]


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
        preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in predictions(items)), encoding="utf-8")
        run = score(gold_path, preds, METRICS, out=args.keep or work / "run")
        html = run.path / "report.html"
        print(f"report: {html} ({html.stat().st_size / 1e6:.2f} MB, {len(items)} items x 4 systems)")
        # the article shown: the first one where the demo system altered a quote and invented one
        quotes = run.details_df().query("system == 'sloppy-demo' and kind == 'quote'")
        verdicts = {g: set(v) for g, v in quotes.groupby("gold_id", sort=False)["verdict"]}
        chosen = next((g for g, v in verdicts.items() if {"altered", "not_found"} <= v), None) or \
            next(g for g, v in verdicts.items() if "altered" in v or "not_found" in v)
        anchor = anchor_for(chosen, 0, set())
        args.out.mkdir(parents=True, exist_ok=True)
        for path in shoot(html, args.out, anchor):
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
