"""The local executor: backends run in this process, as ``evalkit run`` always ran them.

Per system, the rows the cache did not answer go to the backend: in ``summarize_batch``
chunks of ``batch_size`` when it batches, through ``asummarize`` with ``concurrency`` items in
flight when it is async, else one by one. A failing row (``BackendError`` or any other
exception from the backend) is handed to ``finish`` with its error and the run goes on; an
``EvalkitError`` (bad configuration, a missing model) stops the run, since every row would
fail the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from evalkit.aio import run_coroutine
from evalkit.errors import BackendError, EvalkitError
from evalkit.executors import Executor, Finish

if TYPE_CHECKING:
    from evalkit.identity import BuiltSystem
    from evalkit.records import GoldItem, GoldSet, Prediction
    from evalkit.score_cache import ScoreCache
    from evalkit.scoring import OnMetric, Scorer, ScoringResult


class LocalExecutor(Executor):
    name = "local"

    def generate(self, system: BuiltSystem, items: Sequence[GoldItem], finish: Finish) -> None:
        backend = system.backend
        backend.prepare(items)
        if backend.batch_size > 1:
            run_batches(backend, items, finish)
        elif backend.is_async:
            run_coroutine(_run_async(backend, items, finish))
        else:
            for item in items:
                t0 = time.perf_counter()
                result: Any = None
                error: Optional[BaseException] = None
                try:
                    result = backend.summarize(item)
                except EvalkitError:
                    raise
                except Exception as e:
                    error = e
                finish(item, result, error, time.perf_counter() - t0)

    def score_predictions(self, gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                          source: str = "predictions", cache: Optional[ScoreCache] = None, *,
                          on_metric: Optional[OnMetric] = None) -> ScoringResult:
        from evalkit.scoring import score_predictions

        return score_predictions(gold, predictions, scorers, source=source, cache=cache, on_metric=on_metric)


def run_batches(backend: Any, items: Sequence[GoldItem], finish: Finish) -> None:
    """``summarize_batch`` over consecutive chunks of ``batch_size`` items (the chunks every
    executor uses: a batched model's outputs may depend on what shares its batch)."""
    size = backend.batch_size
    for start in range(0, len(items), size):
        chunk = list(items[start:start + size])
        t0 = time.perf_counter()
        try:
            results: list[Any] = list(backend.summarize_batch(chunk))
            if len(results) != len(chunk):
                raise BackendError(f"summarize_batch returned {len(results)} results for {len(chunk)} items")
        except EvalkitError:
            raise
        except Exception as e:
            results = [e] * len(chunk)
        each = (time.perf_counter() - t0) / len(chunk)
        for item, res in zip(chunk, results):
            if isinstance(res, BaseException):
                finish(item, None, res, each)
            else:
                finish(item, res, None, each)


async def _run_async(backend: Any, items: Sequence[GoldItem], finish: Finish) -> None:
    """``concurrency`` workers pull items in gold order; each row is recorded as it finishes."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:  # one shared iterator: each item is taken by exactly one worker
            t0 = time.perf_counter()
            try:
                summary, error = await backend.asummarize(item), None
            except EvalkitError:
                raise
            except Exception as e:
                summary, error = None, e
            finish(item, summary, error, time.perf_counter() - t0)

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(backend.concurrency, len(items))))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    finally:
        aclose = getattr(backend, "aclose", None)
        if aclose is not None:
            await aclose()
