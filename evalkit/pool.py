"""Both cores for CPU-bound Python: a process pool for work large enough to pay for it.

Used for sentence splitting here (:func:`prime_sentences`: the texts of a run that are still
unsplit, e.g. the articles an extractive backend is about to read) and for the per-pair
metrics (quotes, numbers, extractiveness: evalkit/metrics/parallel.py).

The decision is measured, not guessed. Starting a pool and shipping the work costs about
0.25 s on a 2-core machine (fork; benchmarks/bench_parallel.py, docs/performance.md), so work
goes to the pool only when its expected serial time is above :data:`MIN_PARALLEL_SECONDS`
(twice that, for a margin). Splitting is estimated from the characters still to split
(:data:`SPLIT_SECONDS_PER_CHAR`, measured on news articles); a metric times its first pairs.
Results are identical to the serial path (tests/test_parallel.py).

Workers are forked (Linux/macOS: no re-import, the parent's loaded modules are shared) or,
where fork is not available, spawned. ``EVALKIT_WORKERS`` sets the number of processes
(``1`` turns the pool off); the default is the CPUs this process may use minus those other
processes keep busy (1-minute load average): on a machine whose cores are taken a pool only
adds its start-up cost.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Optional, TypeVar

from evalkit.text import TextStore, _compute_spans

T = TypeVar("T")

WORKERS_ENV = "EVALKIT_WORKERS"
#: expected serial seconds from which a pool pays (break-even ~0.25 s: see the module docstring)
MIN_PARALLEL_SECONDS = 0.5
#: serial pysbd cost per character still to split (measured on SummEval news articles)
SPLIT_SECONDS_PER_CHAR = 2.5e-6
#: chunks per worker (smaller chunks balance better, larger ones ship less)
CHUNKS_PER_WORKER = 4


def workers() -> int:
    """Processes to use: ``$EVALKIT_WORKERS``, else the CPUs this process may use that are not
    busy already (the 1-minute load average, this process included, counts as busy CPUs)."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        busy = max(0, round(os.getloadavg()[0]) - 1)  # the load other processes put on the machine
    except OSError:
        busy = 0
    return max(1, cpus - busy)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def pool_map(fn: Callable[[Any], T], tasks: Sequence[Any], n_workers: int) -> list[T]:
    """``[fn(t) for t in tasks]`` over ``n_workers`` processes, in order. Where no pool can be
    had (no process may be started, a worker died), the same calls run here instead."""
    try:
        with ProcessPoolExecutor(max_workers=min(n_workers, len(tasks)), mp_context=_context()) as pool:
            return list(pool.map(fn, tasks))
    except (BrokenProcessPool, OSError, PermissionError):
        return [fn(t) for t in tasks]


def _balanced(groups: Sequence[list[int]], n_chunks: int) -> list[list[int]]:
    """Contiguous runs of groups with about the same number of items each."""
    total = sum(len(g) for g in groups)
    target = max(1, -(-total // n_chunks))
    chunks: list[list[int]] = [[]]
    for g in groups:
        if chunks[-1] and len(chunks[-1]) + len(g) > target:
            chunks.append([])
        chunks[-1].extend(g)
    return [c for c in chunks if c]


# --- sentence splitting --------------------------------------------------------------------------

def _split_task(texts: list[str]) -> list[tuple[tuple[int, int], ...]]:
    return [tuple(_compute_spans(t)) for t in texts]


def prime_sentences(texts: Sequence[str], store: TextStore, *, n_workers: Optional[int] = None,
                    min_seconds: Optional[float] = None) -> int:
    """Split the texts the store has not split yet, in a process pool when there is enough of
    them; returns how many were split in the pool (0: left to be split on demand)."""
    n_workers = workers() if n_workers is None else n_workers
    threshold = MIN_PARALLEL_SECONDS if min_seconds is None else min_seconds
    todo = [t for t in dict.fromkeys(texts) if not store.has_spans(t)]
    if n_workers < 2 or len(todo) < 2 or sum(map(len, todo)) * SPLIT_SECONDS_PER_CHAR < threshold:
        return 0
    order = sorted(range(len(todo)), key=lambda i: -len(todo[i]))  # longest first: balanced chunks
    n_chunks = min(len(todo), n_workers * CHUNKS_PER_WORKER)
    chunks = [[todo[i] for i in order[k::n_chunks]] for k in range(n_chunks)]
    spans = pool_map(_split_task, chunks, n_workers)
    store.add_spans({t: s for chunk, got in zip(chunks, spans) for t, s in zip(chunk, got)})
    return len(todo)
