"""Every text step is linear in its input (issue 9, item 13): one long paragraph scored.

A summary that is one paragraph of 0.25, 0.5 and 1 MB (real sentences: the 100 SummEval
articles joined and repeated, with no " ." a tokenized-text rule would cut at) is scored with ``rouge``, ``quotes`` and ``numbers`` against
an ordinary article and its key points; key points are parsed from it; an article of the
same sizes (plus 5 MB) is indexed for quotes and figures, and a 0.2 MB summary is scored
against the 5 MB article (quotation and figure look-ups are bounded per item, not a scan). For each step the script prints the
seconds and the growth ratio from one size to the next: about 2.0 when the step is linear
(it was 2.6-6 before: pysbd's abbreviation pass and the figure bookkeeping were quadratic).
A figure-dense text (a date, a count, a percentage every 60 characters) checks the numbers
extractor on its worst case.

Run: .venv/bin/python benchmarks/bench_long_text.py [--sizes 0.25,0.5,1] [--article-mb 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from summeval_data import summeval_articles  # noqa: E402

from evalkit.gold import SHIPPED_GOLD, load_gold  # noqa: E402
from evalkit.metrics import Pair, ScoringContext, build_metric  # noqa: E402
from evalkit.numbers import extract_figures  # noqa: E402
from evalkit.quote_match import ArticleIndex  # noqa: E402
from evalkit.quotes import extract_quotes  # noqa: E402
from evalkit.text import parse_key_points  # noqa: E402

MB = 1_000_000
FIGURES = "In 2015 about 1,250 staff, 15.6% of them, met 3 times on March 3. "


def paragraph(chars: int, source: str) -> str:
    return (source * (chars // len(source) + 1))[:chars]


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.25,0.5,1", help="summary sizes in MB")
    ap.add_argument("--article-mb", type=float, default=5.0, help="largest article to index, in MB")
    args = ap.parse_args()
    sizes = [float(x) for x in args.sizes.split(",")]
    # caption ends (" .") taken out: the tokenized-stop rule would cut the paragraph there
    text = " ".join(summeval_articles("source_raw")).replace(" .", ".")
    item = load_gold(SHIPPED_GOLD).items[0]
    metrics = {name: build_metric(name) for name in ("rouge", "quotes", "numbers")}
    steps: dict[str, list[float]] = {}
    warm = Pair("warm", item.id, "A short summary. It has two sentences.", item.article, (item.key_points[0],))
    for metric in metrics.values():  # one-time costs (pysbd and stemmer set-up) out of the timings
        metric.score([warm], ScoringContext())

    def record(name: str, seconds: float) -> None:
        steps.setdefault(name, []).append(seconds)

    for mb in sizes:
        summary = paragraph(int(mb * MB), text)
        pair = Pair("long", item.id, summary, item.article, ("\n".join(item.key_points),), tuple(item.key_points))
        for name, metric in metrics.items():
            record(f"score {name} (summary)", timed(metric.score, [pair], ScoringContext()))
        record("parse key points (summary)", timed(parse_key_points, summary))
        record("extract quotes (article)", timed(extract_quotes, summary))
        record("extract figures (article)", timed(extract_figures, summary))
        record("index article for quotes", timed(ArticleIndex, summary))
        record("extract figures (figure-dense)", timed(extract_figures, paragraph(int(mb * MB), FIGURES)))

    print(f"one paragraph of {', '.join(f'{s:g}' for s in sizes)} MB; seconds, then growth ratio per step")
    for name, secs in steps.items():
        ratios = [b / a if a > 0 else float("nan") for a, b in zip(secs, secs[1:])]
        print(f"  {name:<32}" + "".join(f"{s:8.2f}" for s in secs) + "   ratios " + " ".join(f"{r:.2f}" for r in ratios))
    total = sum(secs[-1] for name, secs in steps.items() if name.startswith("score"))
    print(f"scoring {sizes[-1]:g} MB of one paragraph (rouge + quotes + numbers): {total:.1f} s")
    if args.article_mb:
        article = paragraph(int(args.article_mb * MB), text)
        seconds = {name: timed(fn, article) for name, fn in (("quotes", extract_quotes), ("figures", extract_figures),
                                                              ("index", ArticleIndex))}
        print(f"an article of {args.article_mb:g} MB: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
              + f"; total {sum(seconds.values()):.1f} s")
        # a 0.2 MB summary (about 400 quotations, 800 figures; a word changed in some) against it
        summary = " ".join(summeval_articles("source_raw")[::-1])[:200_000].replace("would", "could")
        pair = Pair("long", "big", summary, article, ("x",))
        print("a 0.2 MB summary scored against it: " + ", ".join(
            f"{name} {timed(metrics[name].score, [pair], ScoringContext()):.1f} s" for name in ("quotes", "numbers")))


if __name__ == "__main__":
    main()
