"""Computing a metric's pairs (serial for now; a process pool for large CPU-bound batches follows)."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.metrics.base import ItemScore, Metric, Pair, ScoringContext


def compute_pairs(metric: Metric, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
    return metric.compute(pairs, context)
