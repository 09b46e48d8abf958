"""Benchmark: what the Python API costs.

1. ``import evalkit`` and touching the API names (``evalkit.evaluate``, ``evalkit.Run``, the
   record types) in a fresh interpreter, against ``python -c pass`` (interleaved rounds,
   medians): the API must not make ``import evalkit`` heavy (pandas, numpy, scipy are imported
   when a run is computed).
2. The same evaluation held in memory (``out=None``) and written as a run directory
   (``out=DIR``: journal, scores, details, summary, comparisons, report.md, report.html), medians
   of ``--repeat`` runs each, interleaved: what writing costs.

    python benchmarks/bench_api.py [--repeat 5] [--limit 44]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT = ("import evalkit\n"
          "evalkit.evaluate, evalkit.score, evalkit.load_run, evalkit.load_gold, evalkit.Run, evalkit.GoldItem\n")


def wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--limit", type=int, default=44, help="gold items (the shipped set has 44)")
    args = ap.parse_args()

    bare, api = [], []
    for _ in range(max(args.repeat, 5)):
        bare.append(wall("pass"))
        api.append(wall(IMPORT))
    b, a = statistics.median(bare), statistics.median(api)
    print(f"import evalkit + API names: {a:.3f} s vs python -c pass {b:.3f} s: +{a - b:.3f} s")

    import evalkit

    systems = {"lead": "lead", "textrank": "textrank", "oracle": "oracle"}
    evalkit.evaluate(None, systems, metrics="rouge,quotes,numbers", limit=3)  # warm up imports and models
    memory, disk = [], []
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            evalkit.evaluate(None, systems, metrics="rouge,quotes,numbers", limit=args.limit)
            memory.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            evalkit.evaluate(None, systems, metrics="rouge,quotes,numbers", limit=args.limit, out=Path(tmp) / f"r{i}")
            disk.append(time.perf_counter() - t0)
    m, d = statistics.median(memory), statistics.median(disk)
    print(f"evaluate 3 systems x {args.limit} items, rouge+quotes+numbers: in memory {m:.2f} s, "
          f"written to a run directory {d:.2f} s ({d / m:.2f}x; writing costs {d - m:.2f} s)")


if __name__ == "__main__":
    main()
