"""Where a run's work happens: on this machine (``local``, the default) or on a Ray cluster (``ray``).

An executor does two things for the runner and the scoring stage, and nothing else:

* ``generate(system, items, finish)`` produces each item's backend output and hands it to
  ``finish(item, output, error, latency_s)`` **on the driver**, one row at a time, as it
  arrives. The runner owns everything around it: the journal (``finish`` appends the row and
  flushes it), the prediction cache (consulted before ``generate`` is called, filled by
  ``finish``), progress bars and ``--max-errors``. So a killed run resumes with ``--resume``
  whatever executor ran it, and a row is journaled once, when its result reaches the driver.
* ``score_predictions(gold, predictions, scorers, source, cache)`` returns the
  :class:`~evalkit.scoring.ScoringResult` the scoring stage writes; it must equal, byte for
  byte once written, what :func:`evalkit.scoring.score_predictions` returns on this machine.
  ``cache`` is the score cache (evalkit/score_cache.py), read and filled on the driver by
  both executors: only what it lacks is computed (here, or on the cluster).

Executors are context managers: ``__enter__`` connects (Ray: starts or joins a cluster),
``__exit__`` disconnects. :func:`open_executor` builds the one a run asked for, checking the
name and the extra it needs before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional

from evalkit.errors import UsageError
from evalkit.extras import require_extra

if TYPE_CHECKING:
    from evalkit.config import Config
    from evalkit.identity import BuiltSystem
    from evalkit.records import GoldItem, GoldSet, Prediction
    from evalkit.score_cache import ScoreCache
    from evalkit.scoring import OnMetric, Scorer, ScoringResult

__all__ = ["EXECUTORS", "Executor", "Finish", "open_executor"]

#: the executors ``--executor`` / ``[run] executor`` accept
EXECUTORS = ("local", "ray")

#: ``finish(item, output, error, latency_s)``: called on the driver for every finished row
Finish = Callable[["GoldItem", Any, Optional[BaseException], float], None]


class Executor:
    """Base class: see the module doc. Subclasses set ``name`` and implement both methods."""

    name: str = ""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what ``__enter__`` took (connections, worker processes)."""

    def generate(self, system: BuiltSystem, items: Sequence[GoldItem], finish: Finish) -> None:
        raise NotImplementedError

    def score_predictions(self, gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                          source: str = "predictions", cache: Optional[ScoreCache] = None, *,
                          on_metric: Optional[OnMetric] = None) -> ScoringResult:
        raise NotImplementedError


def open_executor(name: Optional[str], *, address: Optional[str] = None,
                  config: Optional[Config] = None) -> Executor:
    """The executor a run asked for (``--executor``, else ``[run] executor``, else local), not yet entered.

    ``address`` (``--ray-address``), else the ``RAY_ADDRESS`` environment variable, else
    ``[run] ray_address``, names the Ray cluster to join; none: a local Ray instance is started.
    Only ``ray`` needs the ``[ray]`` extra: without it this is one line naming the install (exit 2).
    """
    run = config.run if config is not None else None
    chosen = name or (run.executor if run is not None else None) or "local"
    if chosen not in EXECUTORS:
        raise UsageError(f"--executor {chosen!r}: use one of {', '.join(EXECUTORS)}")
    if chosen == "local":
        if address:
            raise UsageError("--ray-address goes with --executor ray")
        from evalkit.executors.local import LocalExecutor

        return LocalExecutor()
    require_extra("ray", "--executor ray")
    from evalkit.executors.ray_executor import RayExecutor

    return RayExecutor(address or os.environ.get("RAY_ADDRESS") or (run.ray_address if run is not None else None))
