"""Benchmark: a warm re-run of ``evalkit run`` (issue 12). The shipped gold set, the default
systems and metrics, in fresh processes: *cold* = an empty cache (every summary generated,
every score computed), *warm* = the same command again (summaries and scores read from the
cache; statistics, comparisons and reports redone). Each round starts from an empty cache
directory; ``--repeat`` rounds, median and min-max.

Also in one process (imports paid once, as a library user or a long-lived service would
see it): ``evalkit.evaluate`` cold then warm.

Goal: warm <= 5% of cold.

    python benchmarks/bench_warm.py [--repeat 3] [--gold PATH] [--systems lead,textrank,oracle]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import load, run_cli


def in_process(root: Path, gold: str | None, systems: list[str], repeat: int) -> tuple[list[float], list[float]]:
    import evalkit

    cold, warm = [], []
    for r in range(repeat + 1):
        cache = root / f"inproc-cache-{r}"
        times = []
        for kind in ("cold", "warm"):
            t = time.perf_counter()
            evalkit.evaluate(gold, systems, out=root / f"inproc-{r}-{kind}", cache=cache)
            times.append(time.perf_counter() - t)
        if r:  # the first round pays the imports: untimed
            cold.append(times[0])
            warm.append(times[1])
        shutil.rmtree(cache)
    return cold, warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gold", default=None)
    ap.add_argument("--systems", default="lead,textrank,oracle")
    args = ap.parse_args()
    systems = args.systems.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gold = ["-g", args.gold] if args.gold else []
        cold, warm = [], []
        print(f"evalkit run {' '.join(gold)} -s {' -s '.join(systems)} (default metrics); {load()}")
        for r in range(args.repeat):
            env = {"EVALKIT_CACHE_DIR": str(root / f"cache-{r}")}
            args_ = ["run", "--quiet", *gold, *[x for s in systems for x in ("-s", s)]]
            cold.append(run_cli([*args_, "--out", str(root / f"cold-{r}")], cwd=root, env=env)["process_wall"])
            warm.append(run_cli([*args_, "--out", str(root / f"warm-{r}")], cwd=root, env=env)["process_wall"])
            print(f"  round {r + 1}: cold {cold[-1]:.2f}s, warm {warm[-1]:.2f}s; {load()}", flush=True)
        base = min(run_cli(["--version"], cwd=root)["process_wall"] for _ in range(3))
        print(f"fresh processes: cold {statistics.median(cold):.2f}s ({min(cold):.2f}-{max(cold):.2f}), "
              f"warm {statistics.median(warm):.2f}s ({min(warm):.2f}-{max(warm):.2f}): "
              f"warm = {100 * statistics.median(warm) / statistics.median(cold):.1f}% of cold (goal <= 5%); "
              f"`evalkit --version` alone takes {base:.2f}s")
        ic, iw = in_process(root, args.gold, systems, args.repeat)
        print(f"one process (imports paid): cold {statistics.median(ic):.2f}s ({min(ic):.2f}-{max(ic):.2f}), "
              f"warm {statistics.median(iw):.2f}s ({min(iw):.2f}-{max(iw):.2f}): "
              f"warm = {100 * statistics.median(iw) / statistics.median(ic):.1f}% of cold")


if __name__ == "__main__":
    main()
