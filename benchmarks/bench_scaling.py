"""Benchmark: linear time and memory (issue 12). ``evalkit run --no-cache`` with 5 systems (lead,
lead:k=1, textrank, lexrank, oracle) and the default metrics (rouge, quotes, numbers) over a
synthetic gold set of N = 250 and N = 1000 articles (SummEval's 100 articles, sentences
rotated so that every text is distinct: benchmarks/synthetic_gold.py).

Each run is a fresh process (imports included), the two sizes interleaved, ``--repeat``
rounds. Printed: wall time (median, min-max), time(1000) / time(250) (linear = 4.0; goal <= 4.2),
N=1000 wall (goal <= 60 s) and peak RSS of the evalkit process and of its largest worker
(goal <= 1 GB).

    python benchmarks/bench_scaling.py [--repeat 3] [--sizes 250,1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import load, run_cli
from synthetic_gold import write_gold

SYSTEMS = ["-s", "lead", "-s", "lead1=lead:k=1", "-s", "textrank", "-s", "lexrank", "-s", "oracle"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="250,1000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        golds = {n: write_gold(root / f"gold-{n}.jsonl", n) for n in sizes}
        results: dict[int, list[dict]] = {n: [] for n in sizes}
        print(f"5 systems x N articles, metrics rouge,quotes,numbers, --no-cache; {load()}")
        for r in range(args.repeat):
            for n in sizes:
                out = root / f"run-{n}-{r}"
                results[n].append(run_cli(["run", "--quiet", "--no-cache", "-g", str(golds[n]), *SYSTEMS,
                                           "--metrics", "rouge,quotes,numbers", "--out", str(out)], cwd=root))
                print(f"  round {r + 1} N={n}: {results[n][-1]['process_wall']:.1f}s, "
                      f"RSS {results[n][-1]['rss_mib']:.0f} MiB; {load()}", flush=True)
    walls = {n: [x["process_wall"] for x in results[n]] for n in sizes}
    for n in sizes:
        rss = [x["rss_mib"] for x in results[n]]
        child = [x["child_rss_mib"] for x in results[n]]
        print(f"N={n:>5}: wall {statistics.median(walls[n]):.1f}s ({min(walls[n]):.1f}-{max(walls[n]):.1f}), "
              f"peak RSS {max(rss):.0f} MiB (largest worker {max(child):.0f} MiB)")
    if len(sizes) == 2:
        a, b = sizes
        per_round = [y / x for x, y in zip(walls[a], walls[b])]
        print(f"time({b}) / time({a}) = {statistics.median(walls[b]) / statistics.median(walls[a]):.2f} "
              f"(rounds {min(per_round):.2f}-{max(per_round):.2f}; linear {b / a:.1f}, goal <= {1.05 * b / a:.1f})")


if __name__ == "__main__":
    main()
