"""Shared helpers of the benchmarks: interleaved repeats, medians and spread, child-process RSS."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def interleaved(variants: dict[str, Callable[[], object]], repeat: int, warmup: bool = True) -> dict[str, list[float]]:
    """Wall seconds of each variant, ``repeat`` rounds, the variants one after the other in each
    round (so load on a shared machine hits every variant alike). One untimed round first."""
    if warmup:
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def spread(xs: list[float]) -> str:
    """``median (min-max)``."""
    return f"{statistics.median(xs):.3f}s ({min(xs):.3f}-{max(xs):.3f})"


def ratio(num: list[float], den: list[float]) -> str:
    """Median ratio, with the range of the per-round ratios."""
    rs = [a / b for a, b in zip(num, den)]
    return f"{statistics.median(num) / statistics.median(den):.2f}x (rounds {min(rs):.2f}-{max(rs):.2f})"


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average n/a"


RSS_WRAPPER = """
import json, os, resource, runpy, sys, time
report = sys.argv[1]
sys.argv = ["evalkit", *sys.argv[2:]]
start = time.perf_counter()
code = 0
try:
    runpy.run_module("evalkit", run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 0
wall = time.perf_counter() - start
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(report, "w") as f:
    json.dump({"code": code, "wall": wall, "rss_mib": self_kb / 1024, "child_rss_mib": child_kb / 1024}, f)
"""


_COMPILED = False


def ensure_bytecode() -> None:
    """Compile evalkit's modules once, as pip does for an installed wheel. An editable install
    has no ``.pyc`` until a first import writes them, and with ``PYTHONDONTWRITEBYTECODE`` set
    (as on this project's machines) none is ever written: every fresh process would compile
    ~70 modules (0.15-0.3 s) that no user's installed evalkit compiles."""
    global _COMPILED
    if not _COMPILED:
        import compileall

        compileall.compile_dir(str(ROOT / "evalkit"), quiet=1)
        _COMPILED = True


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    """``evalkit ARGS`` in a fresh interpreter: exit code, wall seconds (process start to exit,
    imports included, measured outside), its peak RSS and its largest child's. evalkit's
    bytecode is compiled first (``ensure_bytecode``)."""
    ensure_bytecode()
    report = cwd / f".rss-{time.time_ns()}.json"
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", RSS_WRAPPER, str(report), *args], cwd=cwd,
                         env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if not report.is_file():
        raise SystemExit(f"evalkit {' '.join(args)} failed: {res.stderr[-2000:]}")
    data = json.loads(report.read_text())
    report.unlink()
    if data["code"] != 0:
        raise SystemExit(f"evalkit {' '.join(args)} exited {data['code']}: {res.stderr[-2000:]}")
    data["process_wall"] = wall
    return data
