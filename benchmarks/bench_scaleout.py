"""Benchmark: one 4-system run over a 300-item gold set three ways on this machine — local,
``--executor ray`` (a local Ray instance the run starts), and 2 shards run at once then
merged — as ratios to the local run; and the overhead Ray adds per row.

The gold set is synthetic, built from the 100 SummEval articles in tests/data/summeval.jsonl.gz:
each article three times under different ids (copies 1 and 2 get a short prefix, so every
article text is distinct), its key points the sentences of its first reference summary.
Systems: lead, textrank, lexrank, oracle; metrics: the defaults (rouge, quotes, numbers);
``--no-cache`` everywhere. Every run is the ``evalkit`` command in a subprocess, timed from
start to exit (start-up, Ray's included). The three runs must give byte-identical
scores.csv, details.jsonl, summary.json and comparisons.json (checked and printed).

Per-row overhead of Ray: ``N`` rows of a backend that does almost nothing (lead:k=1 over
one-sentence articles) through ``LocalExecutor.generate`` and ``RayExecutor.generate`` in
this process (Ray already started; its start-up and shutdown timed apart). The difference
per row is what the driver pays to dispatch a row to a worker and journal its result.

The paper estimate for a cluster: rows/s of one worker measured here (the local run's rows
per second of wall time: generation and scoring) times the workers, with the driver's
per-row cost as the floor of time per row.

    python benchmarks/bench_scaleout.py [--items 300] [--repeat 1] [--rows 2000] [--nodes 16 --node-cpus 16]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.text import split_sentences  # noqa: E402

SUMMEVAL = ROOT / "tests" / "data" / "summeval.jsonl.gz"
SYSTEMS = ("lead", "textrank", "lexrank", "oracle")
RESULTS = ("scores.csv", "details.jsonl", "summary.json", "comparisons.json")


def build_gold(path: Path, items: int) -> Path:
    """``items`` gold items from the SummEval articles (each article repeated under new ids)."""
    docs: dict[str, dict] = {}
    with gzip.open(SUMMEVAL, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            docs.setdefault(row["doc_id"], row)
    rows = []
    copy = 0
    while len(rows) < items:
        for doc_id, row in docs.items():
            if len(rows) == items:
                break
            points = [s for s in split_sentences(row["references"][0]) if s.strip()] or [row["references"][0]]
            article = row["source"] if copy == 0 else f"(Copy {copy}.) {row['source']}"
            rows.append({"id": f"{doc_id[-12:]}-{copy}", "article": article, "key_points": points})
        copy += 1
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def evalkit_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "evalkit", *map(str, args)]


def timed(*commands: list[str], env: dict[str, str]) -> float:
    """Wall seconds from starting every command at once until the last one exits (each must exit 0)."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in commands]
    for p, c in zip(procs, commands):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"failed ({p.returncode}): {' '.join(c)}\n{err[-2000:]}")
    return time.perf_counter() - start


def full_runs(work: Path, gold: Path, repeat: int, env: dict[str, str]) -> dict[str, float]:
    base = ["run", "--gold", gold, *[a for s in SYSTEMS for a in ("-s", s)], "--no-cache", "--quiet", "--overwrite"]
    times: dict[str, list[float]] = {"local": [], "ray": [], "shards": [], "merge": []}
    for _ in range(repeat):
        times["local"].append(timed(evalkit_cmd(*base, "--out", work / "local" / "run"), env=env))
        times["ray"].append(timed(evalkit_cmd(*base, "--executor", "ray", "--out", work / "ray" / "run"), env=env))
        times["shards"].append(timed(*[evalkit_cmd(*base, "--shard", f"{i}/2", "--out", work / f"shard{i}")
                                       for i in range(2)], env=env))
        times["merge"].append(timed(evalkit_cmd("merge", work / "shard0", work / "shard1", "--overwrite",
                                                "--out", work / "merged" / "run"), env=env))
    return {k: statistics.median(v) for k, v in times.items()}


def per_row_overhead(rows: int) -> dict[str, float]:
    """Seconds per row through the local and the Ray executor for a backend that does almost nothing."""
    from evalkit.executors.local import LocalExecutor
    from evalkit.executors.ray_executor import RayExecutor
    from evalkit.identity import build_systems
    from evalkit.records import GoldItem, SystemSpec

    items = [GoldItem(id=f"r{i}", article=f"Row {i} is one short sentence.", key_points=["x"]) for i in range(rows)]
    [system] = build_systems([SystemSpec(name="lead1", backend="lead", options={"k": 1})])
    got: list[str] = []

    def finish(item, output, error, latency) -> None:
        got.append(item.id)

    t0 = time.perf_counter()
    LocalExecutor().generate(system, items, finish)
    local = time.perf_counter() - t0
    t0 = time.perf_counter()
    executor = RayExecutor(None).__enter__()
    start = time.perf_counter() - t0
    try:
        executor.generate(system, items[:200], finish)  # warm: worker processes up, functions exported
        t0 = time.perf_counter()
        executor.generate(system, items, finish)
        ray = time.perf_counter() - t0
        cpus = executor.resources()[0]
    finally:
        t0 = time.perf_counter()
        executor.close()
        stop = time.perf_counter() - t0
    assert len(got) == 2 * rows + 200
    return {"local": local / rows, "ray": ray / rows, "start": start, "stop": stop, "cpus": cpus}


#: what summary.json measures rather than computes (each run's own latencies)
MEASURED = re.compile(r'("latency_p(?:50|95)": )(?:[0-9.e+-]+|null)')


def differing(a: Path, b: Path) -> list[str]:
    """The result files that differ, but for the latencies summary.json measures."""
    def read(path: Path) -> str:
        return MEASURED.sub(r"\1<measured>", path.read_text(encoding="utf-8"))
    return [n for n in RESULTS if read(a / n) != read(b / n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--rows", type=int, default=2000, help="rows for the per-row overhead")
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--node-cpus", type=int, default=16, help="workers per node in the estimate")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    gold = build_gold(work / "gold.jsonl", args.items)
    rows = args.items * len(SYSTEMS)
    print(f"machine: {os.cpu_count()} CPUs; gold: {args.items} items x {len(SYSTEMS)} systems = {rows} rows; "
          f"work dir {work}")

    t = full_runs(work, gold, args.repeat, env)
    same_ray = differing(work / "local" / "run", work / "ray" / "run")
    same_merge = differing(work / "local" / "run", work / "merged" / "run")
    sharded = t["shards"] + t["merge"]
    print(f"\nwall time, median of {args.repeat} (seconds; ratio to local):")
    print(f"  local                          {t['local']:7.1f}   1.00")
    print(f"  --executor ray (local Ray)     {t['ray']:7.1f}   {t['ray'] / t['local']:.2f}")
    print(f"  2 shards at once + merge       {sharded:7.1f}   {sharded / t['local']:.2f}   "
          f"(shards {t['shards']:.1f} + merge {t['merge']:.1f})")
    print(f"  byte-identical to local: ray {'yes' if not same_ray else 'NO ' + str(same_ray)}, "
          f"merged {'yes' if not same_merge else 'NO ' + str(same_merge)}")

    o = per_row_overhead(args.rows)
    overhead = o["ray"] - o["local"]
    print(f"\nper row, {args.rows} rows of lead:k=1 over one-sentence articles ({o['cpus']} Ray workers):")
    print(f"  local executor {o['local'] * 1e3:.3f} ms, Ray executor {o['ray'] * 1e3:.3f} ms: "
          f"Ray adds {overhead * 1e3:.3f} ms per row (driver wall time)")
    print(f"  Ray start {o['start']:.1f} s, shutdown {o['stop']:.1f} s (a local instance)")

    per_worker = rows / t["local"]
    workers = args.nodes * args.node_cpus
    floor = o["ray"]  # the driver dispatches and journals every row: at best one row per this many seconds
    estimate = 1 / max(1 / (per_worker * workers), floor)
    print(f"\npaper estimate, {args.nodes} nodes x {args.node_cpus} workers = {workers} workers:")
    print(f"  one worker here: {per_worker:.1f} rows/s (the local run: generation and scoring)")
    print(f"  x {workers} workers = {per_worker * workers:,.0f} rows/s; the driver's floor is {floor * 1e3:.3f} ms/row "
          f"= {1 / floor:,.0f} rows/s; estimate {estimate:,.0f} rows/s")
    cnn = 11_490 * len(SYSTEMS)
    print(f"  CNN/DailyMail test split x {len(SYSTEMS)} systems = {cnn:,} rows: {cnn / estimate:,.0f} s on the cluster "
          f"vs {cnn / per_worker:,.0f} s on one worker")


if __name__ == "__main__":
    main()
