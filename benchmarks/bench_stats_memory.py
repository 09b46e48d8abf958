"""Benchmark: peak memory of one paired comparison (BCa bootstrap CI of the mean difference and
the paired permutation test of ``evalkit.stats.paired_test``) with resampling in bounded batches
(at most ``stats.BATCH_ELEMENTS`` values at a time, what evalkit does) against drawing every
resample at once.

Unbatched, the resamples x items matrices grow with n; batched they stay flat (the jackknife
of evalkit/resample.py is computed in closed form, O(n)). The numbers (p-value, CI) must be identical: the script checks it.
Peak memory is what ``tracemalloc`` sees (numpy reports its buffers to it). Each setting runs
in its own process so that one measurement cannot inherit another's allocations.

    python benchmarks/bench_stats_memory.py [--items 5000 10000] [--resamples 999]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
from evalkit import stats
n, resamples, batched = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "batched"
if not batched:
    stats.BATCH_ELEMENTS = 10 ** 12  # every resample in one batch
rng = np.random.default_rng(0)
a = rng.random(n)
b = a + rng.normal(0.001, 0.1, n)
tracemalloc.start()
t = time.perf_counter()
r = stats.paired_test(a, b, n_resamples=resamples, rng=stats.stable_rng(1, "bench"))
print(json.dumps({{"peak": tracemalloc.get_traced_memory()[1], "seconds": time.perf_counter() - t,
                  "p": r.p_value, "ci": [r.ci_low, r.ci_high]}}))
"""


def measure(n: int, resamples: int, mode: str) -> dict:
    code = CHILD.format(root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, str(n), str(resamples), mode], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, nargs="+", default=[5000, 10000])
    ap.add_argument("--resamples", type=int, default=999)
    args = ap.parse_args()
    for n in args.items:
        batched, whole = measure(n, args.resamples, "batched"), measure(n, args.resamples, "unbatched")
        same = batched["p"] == whole["p"] and batched["ci"] == whole["ci"]
        print(f"n={n}: batched peak {batched['peak'] / 2**20:.0f} MiB ({batched['seconds']:.1f} s), "
              f"unbatched {whole['peak'] / 2**20:.0f} MiB ({whole['seconds']:.1f} s); "
              f"{whole['peak'] / batched['peak']:.1f}x less memory; same p and CI: {same}")
        if not same:
            raise SystemExit("batching changed a number")


if __name__ == "__main__":
    main()
