"""Benchmark: every text split once per run (issue 12).

1. N=257 vs N=256 articles, two lead systems (lead, lead:k=1) in one run's text store: time
   ratio and how many splits each article cost. (Before issue 12 a 256-entry LRU thrashed
   once a gold set outgrew it: 2.05x the time, 514 splits for 257 articles; linear is 1.004x.)
2. Splitting SummEval texts (summaries, references, tokenized and raw articles): the fast path
   (a piece pysbd could not cut skips it) and evalkit.sbd (pysbd's segmenter without a regex
   compiled per sentence) against pysbd.Segmenter on every piece: same sentences, ratio.

    python benchmarks/bench_split_once.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import interleaved, load, ratio, spread
from summeval_data import summeval_rows
from synthetic_gold import synthetic_items

import evalkit.text as text_module
from evalkit.backends.extractive import Lead
from evalkit.records import GoldItem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(load())
    items = [GoldItem(id=it["id"], article=it["article"], key_points=it["key_points"]) for it in synthetic_items(257)]
    lead3, lead1 = Lead(Lead.Options(k=3)), Lead(Lead.Options(k=1))
    splits: dict[int, int] = {}

    def run(n: int) -> None:
        with text_module.text_store() as store:
            for backend in (lead3, lead1):  # system after system, as the runner goes
                for it in items[:n]:
                    backend.summarize(it)
        splits[n] = store.splits

    times = interleaved({"256": lambda: run(256), "257": lambda: run(257)}, args.repeat)
    print(f"lead + lead:k=1 over N articles: N=256 {spread(times['256'])}, N=257 {spread(times['257'])}; "
          f"time(257)/time(256) = {ratio(times['257'], times['256'])} (linear 1.004x); "
          f"splits: {splits[256]} for 256 articles, {splits[257]} for 257")

    rows = summeval_rows()
    texts = list(dict.fromkeys([r["summary"] for r in rows] + [x for r in rows for x in r["references"]]
                               + [r["source"] for r in rows] + [r["source_raw"] for r in rows]))
    import pysbd

    reference = pysbd.Segmenter(language="en", clean=False)

    def pysbd_every_piece() -> list:
        # the old path: every piece (line, or run between tokenized stops) through pysbd.Segmenter
        saved_one, saved_segment = text_module._one_sentence, text_module.segment
        text_module._one_sentence = lambda *a: False
        text_module.segment = reference.segment
        try:
            return [text_module._compute_spans(t) for t in texts]
        finally:
            text_module._one_sentence, text_module.segment = saved_one, saved_segment

    out: dict[str, list] = {}
    times = interleaved({"pysbd on every piece (before)": lambda: out.__setitem__("old", pysbd_every_piece()),
                         "fast path + evalkit.sbd (now)": lambda: out.__setitem__("new", [text_module._compute_spans(t)
                                                                                            for t in texts])},
                        args.repeat)
    print(f"\nsplitting {len(texts)} distinct SummEval texts ({sum(map(len, texts)):,} chars):")
    for name, ts in times.items():
        print(f"  {name:<32} {spread(ts)}")
    print(f"  speed-up {ratio(times['pysbd on every piece (before)'], times['fast path + evalkit.sbd (now)'])}; "
          f"same sentences: {out['old'] == out['new']}")
    print(f"  median per text now: {1000 * statistics.median(times['fast path + evalkit.sbd (now)']) / len(texts):.3f} ms")


if __name__ == "__main__":
    main()
