"""What runs on Ray workers; ``ray_executor.py`` wraps these with ``ray.remote`` on the driver.

Nothing here imports ray. A worker builds a system from the spec the driver sends, checks
that it has the identity the driver recorded (same files, model, library versions: a node
that differs would write other summaries under the run's identity), and runs it with the
local executor's own code over the items it was given, so a row is produced on a worker
exactly as it would be in-process. Rows go back to the driver as values; the driver
journals them.
"""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from evalkit.errors import UsageError
from evalkit.identity import BuiltSystem, build_systems, close_systems, identity_changes
from evalkit.metrics import ItemScore, Metric, Pair, ScoringContext
from evalkit.records import GoldItem, SystemSpec
from evalkit.scoring import Scorer, ScoringResult

#: systems built in this worker process, by identity digest (a few; the oldest is closed)
_BUILT: OrderedDict[str, BuiltSystem] = OrderedDict()
_KEEP_BUILT = 4


@dataclass(frozen=True)
class RowResult:
    """One row's backend result: ``output`` (a str or ``Completion``) or the row's ``error`` message."""

    gold_id: str
    output: Any = None
    error: Optional[str] = None
    latency_s: float = 0.0


def worker_system(spec: SystemSpec, identity: dict[str, Any], digest: str) -> BuiltSystem:
    """The system ``spec`` built in this process (once), refused if its identity is not the driver's."""
    built = _BUILT.get(digest)
    if built is not None:
        _BUILT.move_to_end(digest)
        return built
    [built] = build_systems([spec])
    if built.digest != digest:
        close_systems([built])
        changed = ", ".join(identity_changes(identity, built.identity)[:5]) or "its identity"
        raise UsageError(f"system {spec.name!r} on Ray node {socket.gethostname()} is not the driver's ({changed} "
                         f"differ): every node needs the same files, models and library versions as the driver")
    _BUILT[digest] = built
    while len(_BUILT) > _KEEP_BUILT:
        close_systems([_BUILT.popitem(last=False)[1]])
    return built


def summarize_items(spec: SystemSpec, identity: dict[str, Any], digest: str,
                    items: Sequence[GoldItem]) -> list[RowResult]:
    """Run the system over ``items`` with the local executor's code (one ``summarize_batch`` call
    for a batching backend's chunk, ``concurrency`` requests in flight for an async one)."""
    from evalkit.executors.local import LocalExecutor
    from evalkit.runner import error_message

    system = worker_system(spec, identity, digest)
    rows: list[RowResult] = []

    def collect(item: GoldItem, output: Any, error: Optional[BaseException], latency: float) -> None:
        rows.append(RowResult(item.id, None if error is not None else output,
                              None if error is None else error_message(error), latency))

    LocalExecutor().generate(system, items, collect)
    return rows


class RowActor:
    """A worker process that keeps one system (and the model it loads) for a whole run."""

    def run(self, index: int, spec: SystemSpec, identity: dict[str, Any], digest: str,
            items: Sequence[GoldItem]) -> tuple[int, list[RowResult]]:
        return index, summarize_items(spec, identity, digest, items)


def _no_pool() -> None:
    """A Ray worker holds one CPU of the cluster's: it starts no process pool of its own
    (evalkit/pool.py); Ray spreads the batches instead."""
    from evalkit.pool import WORKERS_ENV

    os.environ[WORKERS_ENV] = "1"


def score_batch(pairs: Sequence[Pair], scorers: Sequence[Scorer]) -> list[ScoringResult]:
    """Item-local metric families over one batch of pairs: one part per family."""
    from evalkit.scoring_split import score_families

    _no_pool()
    return score_families(pairs, scorers)


def compute_batch(metric: Metric, pairs: Sequence[Pair]) -> list[ItemScore]:
    """An item-local metric's per-pair results over one batch of pairs (``Metric.compute``)."""
    _no_pool()
    return metric.compute(pairs, ScoringContext())


class ModelScorer:
    """The model-based metric families of a run, over all its pairs, in one context (one encoder)."""

    def __init__(self) -> None:
        self.context = ScoringContext()  # kept across calls: every model metric shares its encoder

    def compute(self, metric: Metric, pairs: Sequence[Pair]) -> list[ItemScore]:
        """A model metric's per-pair results (``Metric.compute``), in the actor's one context."""
        _no_pool()
        return metric.compute(pairs, self.context)

    def score(self, pairs: Sequence[Pair], scorers: Sequence[Scorer]) -> list[ScoringResult]:
        from evalkit.scoring_split import score_families

        _no_pool()
        return score_families(pairs, scorers, ScoringContext())
