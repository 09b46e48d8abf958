"""Benchmark: where a process pool pays (issue 12: "use both cores"), to set evalkit/pool.py's
thresholds from a measurement.

For growing amounts of work it times, interleaved, the serial path and the pool (forced on,
2 workers): a per-pair metric (quotes, numbers, extractiveness over SummEval pairs: summary
and raw article) and sentence splitting (distinct synthetic news articles). Printed per size:
the serial time, the pool's time, their ratio, and the break-even: the serial work (seconds)
above which the pool is faster. evalkit sends work to the pool from twice that
(``MIN_PARALLEL_SECONDS``); ``SPLIT_SECONDS_PER_CHAR`` is the serial splitting cost measured here.

Meaningful only when the machine's cores are free: the load average is printed with each size.

    python benchmarks/bench_parallel.py [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import interleaved, load
from summeval_data import summeval_rows
from synthetic_gold import synthetic_items

from evalkit import pool
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.parallel import compute_pairs
from evalkit.text import TextStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = summeval_rows()
    # 3 x 1,600 pairs (as three runs' worth of systems) over SummEval's 100 articles
    pairs = [Pair(f"{r['system_id']}-{k}", r["doc_id"], r["summary"], r["source_raw"], (r["references"][0],))
             for k in range(3) for r in rows]
    print(f"pool of {args.workers} forked workers vs serial; {args.repeat} interleaved rounds (medians)")
    for family in ("quotes", "numbers", "extractiveness"):
        metric = build_metric(family)
        print(f"\n{family}:")
        for n in (200, 800, 1600, 4800):
            ps = pairs[:n]
            times = interleaved({
                "serial": lambda ps=ps, metric=metric: metric.compute(ps, ScoringContext(texts=TextStore())),
                "pool": lambda ps=ps, metric=metric: compute_pairs(metric, ps, ScoringContext(texts=TextStore()),
                                                                   n_workers=args.workers, min_seconds=0.0),
            }, args.repeat)
            s, p = statistics.median(times["serial"]), statistics.median(times["pool"])
            print(f"  {n:>5} pairs: serial {s:.3f}s, pool {p:.3f}s, serial/pool {s / p:.2f}; {load()}", flush=True)
    articles = [it["article"] for it in synthetic_items(800)]
    print("\nsentence splitting (distinct articles):")
    for n in (25, 50, 100, 200, 400, 800):
        texts = articles[:n]
        chars = sum(map(len, texts))
        times = interleaved({
            "serial": lambda texts=texts: [TextStore().spans(t) for t in texts],
            "pool": lambda texts=texts: pool.prime_sentences(texts, TextStore(), n_workers=args.workers, min_seconds=0.0),
        }, args.repeat)
        s, p = statistics.median(times["serial"]), statistics.median(times["pool"])
        print(f"  {n:>5} articles ({chars:,} chars): serial {s:.3f}s ({1e6 * s / chars:.2f} us/char), "
              f"pool {p:.3f}s, serial/pool {s / p:.2f}; {load()}", flush=True)
    print(f"\nthresholds in evalkit/pool.py: MIN_PARALLEL_SECONDS={pool.MIN_PARALLEL_SECONDS}, "
          f"SPLIT_SECONDS_PER_CHAR={pool.SPLIT_SECONDS_PER_CHAR}")


if __name__ == "__main__":
    main()
