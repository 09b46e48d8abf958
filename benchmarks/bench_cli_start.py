"""Benchmark: how long the ``evalkit`` command takes to start, against a bare interpreter.

Each round runs, one after the other, ``python -c pass`` and every measured command in a
fresh process (interleaved, so load on a shared machine hits both sides alike); the medians
over ``--repeat`` rounds are compared. The headline is ``evalkit --help`` minus
``python -c pass``: the cost of evalkit's own imports (goal: at most 0.3 s). The commands
run as ``python -m evalkit`` with the interpreter given (default: this one), so no console
script wrapper is timed; ``--exe`` times the installed ``evalkit`` script instead.

    python benchmarks/bench_cli_start.py [--repeat 7] [--python .venv/bin/python] [--exe .venv/bin/evalkit]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.3
COMMANDS = (["--help"], ["--version"], ["backends"], ["metrics"],
            ["gold", "validate", str(ROOT / "evalkit" / "data" / "gold" / "news-v1.jsonl")])


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="rounds (at least 5)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with evalkit installed")
    ap.add_argument("--exe", default=None, help="time this evalkit console script instead of `python -m evalkit`")
    args = ap.parse_args()
    if args.repeat < 5:
        ap.error("--repeat must be at least 5")
    os.environ.setdefault("COLUMNS", "100")
    evalkit = [args.exe] if args.exe else [args.python, "-m", "evalkit"]
    baseline = [args.python, "-c", "pass"]
    runs: dict[str, list[float]] = {"python -c pass": []} | {" ".join(["evalkit", *c]): [] for c in COMMANDS}
    wall(baseline), wall(evalkit + ["--help"])  # warm the file cache once, untimed
    for _ in range(args.repeat):
        runs["python -c pass"].append(wall(baseline))
        for c in COMMANDS:
            runs[" ".join(["evalkit", *c])].append(wall(evalkit + c))
    base = statistics.median(runs["python -c pass"])
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'over python -c pass':>20}   ({args.repeat} interleaved rounds)")
    for name, times in runs.items():
        med = statistics.median(times)
        print(f"{name:<34} {med:>9.3f} {min(times):>7.3f} {med - base:>+19.3f}s")
    help_over = statistics.median(runs["evalkit --help"]) - base
    verdict = "within" if help_over <= GOAL_S else "OVER"
    print(f"\nevalkit --help costs {help_over:.3f} s above python -c pass: {verdict} the {GOAL_S} s goal")


if __name__ == "__main__":
    main()
