"""Benchmark: 200 items through the ``openai`` backend at concurrency 1 and 16.

The server is the loopback chat-completions server of the tests (tests/openai_server.py),
run as a separate process with 100 ms latency per reply so that it does not share the
client's interpreter. Each measurement is the full runner path (``run_systems``: backend,
journal appends, key-point parsing) with the cache off. The ideal speed-up is 16x (16
requests in flight instead of 1); the goal is >= 12x.

    python benchmarks/bench_openai.py [--items 200] [--latency 0.1] [--concurrency 16] [--repeat 3]

Each setting runs ``--repeat`` times; the median is the headline (the best is shown too),
because a shared machine adds noise that only ever makes a run slower.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.records import GoldItem, GoldSet, SystemSpec  # noqa: E402
from evalkit.rundir import RunDir  # noqa: E402
from evalkit.runner import run_systems  # noqa: E402


def gold(n: int) -> GoldSet:
    items = [GoldItem(id=f"b{i:04d}", title=f"Story {i}", key_points=[f"Point {i}."],
                      article=f"Item {i} opened on Monday. It cost {i} dollars. " * 20) for i in range(n)]
    return GoldSet(name="bench", source="bench", items=items)


def start_server(latency: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if not line or line[0] != "PORT":
        proc.kill()
        raise SystemExit("the loopback server did not start")
    return proc, int(line[1])


def timed_run(port: int, items: GoldSet, concurrency: int) -> float:
    spec = SystemSpec(name=f"c{concurrency}", backend="openai", options={
        "model": "bench", "base_url": f"http://127.0.0.1:{port}/v1", "concurrency": concurrency})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        preds = run_systems(items, [spec], RunDir.create(Path(tmp) / "run"), cache=None, progress=False)
        elapsed = time.perf_counter() - t0
    failed = [p for p in preds if not p.ok]
    if failed:
        raise SystemExit(f"{len(failed)} rows failed, e.g. {failed[0].error}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    server, port = start_server(args.latency)
    try:
        items = gold(args.items)
        timed_run(port, gold(4), 2)  # warm-up: imports, first connection
        serial = [timed_run(port, items, 1) for _ in range(args.repeat)]
        parallel = [timed_run(port, items, args.concurrency) for _ in range(args.repeat)]
    finally:
        server.kill()
        server.wait()
    floor = args.items * args.latency
    s_med, p_med = statistics.median(serial), statistics.median(parallel)
    print(f"{args.items} items, {args.latency * 1000:.0f} ms server latency (loopback, server in its own process), "
          f"{args.repeat} runs each")
    print(f"concurrency  1: median {s_med:6.2f} s, best {min(serial):6.2f} s  "
          f"({args.items / s_med:6.1f} items/s; latency floor {floor:.2f} s)")
    print(f"concurrency {args.concurrency:2d}: median {p_med:6.2f} s, best {min(parallel):6.2f} s  "
          f"({args.items / p_med:6.1f} items/s; floor {math.ceil(args.items / args.concurrency) * args.latency:.2f} s)")
    ratio = s_med / p_med
    verdict = "meets" if ratio >= 12 else "misses"
    print(f"speed-up (median/median): {ratio:.1f}x; best/best: {min(serial) / min(parallel):.1f}x "
          f"(ideal {args.concurrency}x; goal >= 12x: {verdict})")


if __name__ == "__main__":
    main()
