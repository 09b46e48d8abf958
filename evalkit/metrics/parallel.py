"""A metric's pairs computed over both cores when there are enough of them (see evalkit/pool.py).

A metric that declares ``parallel = True`` (quotes, numbers, extractiveness: pure Python,
each pair's result its own) computes its first :data:`PROBE_PAIRS` pairs here, timing them;
the rest go to the process pool only when their expected serial time is above
``pool.MIN_PARALLEL_SECONDS``, chunked so that an article's pairs stay together (its index
is built once per chunk). The results are those of the serial path, in order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Optional

from evalkit.metrics.base import ItemScore, Metric, Pair, ScoringContext
from evalkit.pool import CHUNKS_PER_WORKER, MIN_PARALLEL_SECONDS, _balanced, pool_map, workers
from evalkit.text import TextStore

#: pairs a parallel metric computes here first, to time itself
PROBE_PAIRS = 24


def _compute_task(task: tuple[Metric, list[Pair]]) -> list[ItemScore]:
    metric, pairs = task
    return metric.compute(pairs, ScoringContext(texts=TextStore()))


def compute_pairs(metric: Metric, pairs: Sequence[Pair], context: ScoringContext, *,
                  n_workers: Optional[int] = None, min_seconds: Optional[float] = None) -> list[ItemScore]:
    """``metric.compute(pairs, context)``, the bulk in a process pool when it pays."""
    n_workers = workers() if n_workers is None else n_workers
    threshold = MIN_PARALLEL_SECONDS if min_seconds is None else min_seconds
    if not metric.parallel or n_workers < 2 or len(pairs) <= 2 * PROBE_PAIRS:
        return metric.compute(pairs, context)
    start = time.perf_counter()
    head = metric.compute(pairs[:PROBE_PAIRS], context)
    per_pair = (time.perf_counter() - start) / PROBE_PAIRS
    rest = pairs[PROBE_PAIRS:]
    if per_pair * len(rest) < threshold:
        return head + metric.compute(rest, context)
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(rest):  # an article's pairs stay together: its index is built once
        by_source.setdefault(p.source, []).append(i)
    chunks = _balanced(list(by_source.values()), n_workers * CHUNKS_PER_WORKER)
    results = pool_map(_compute_task, [(metric, [rest[i] for i in c]) for c in chunks], n_workers)
    out: list[Optional[ItemScore]] = [None] * len(rest)
    for chunk, got in zip(chunks, results):
        for i, r in zip(chunk, got):
            out[i] = r
    return head + [r for r in out if r is not None]
