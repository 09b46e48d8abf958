"""The runner: one ``Prediction`` per (system, gold item), produced once and never lost.

For each system, the items not yet in the run's journal are looked up in the prediction
cache; the misses go to the backend: in ``summarize_batch`` chunks when it batches
(``batch_size > 1``), through ``asummarize`` with ``concurrency`` items in flight when it is
async, else one by one. A failing row (``BackendError`` or any other exception from the
backend) is recorded with its error and the run goes on; an ``EvalkitError`` (bad
configuration, a missing model) stops the run, since every row would fail the same way.
Every finished row is appended to ``predictions.jsonl`` and flushed at once, so
``--resume`` continues a killed run without redoing or duplicating a row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from evalkit.backends.base import Backend
from evalkit.backends.registry import build_backend
from evalkit.cache import PredictionCache, cache_key, default_cache, identity_digest, output_identity
from evalkit.errors import BackendError, EvalkitError, UsageError
from evalkit.journal import Journal
from evalkit.records import GoldItem, GoldSet, Prediction, SystemSpec
from evalkit.rundir import RunDir
from evalkit.text import parse_key_points

__all__ = ["RunAborted", "default_cache", "run_systems"]

_MAX_ERROR_CHARS = 2000


class RunAborted(EvalkitError):
    """``--max-errors`` was reached; the finished rows are in the journal (``--resume`` goes on)."""


@dataclass
class _Tally:
    cached: int = 0
    errors: int = 0


def run_systems(
    gold: GoldSet,
    systems: list[SystemSpec],
    rundir: RunDir,
    *,
    cache: PredictionCache | None,
    max_errors: int | None = None,
    progress: bool = True,
    redo_errors: bool = False,
    console: Console | None = None,
) -> list[Prediction]:
    """Produce one Prediction per (system, item), in (system order, gold order).

    Rows already in ``rundir``'s ``predictions.jsonl`` are kept (``--resume``: never redone,
    never duplicated); with ``redo_errors`` the failed ones among them are dropped and redone.
    ``cache=None`` neither reads nor writes a cache. ``max_errors`` aborts with
    ``RunAborted`` once that many rows have failed in this call.
    """
    if max_errors is not None and max_errors < 1:
        raise UsageError("--max-errors must be at least 1")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise UsageError(f"system names must be unique, got {names}")
    journal = Journal(rundir.predictions_path)
    existing = journal.load()
    wanted = set(names)
    if redo_errors and any(p.error is not None and p.system in wanted for p in existing):
        existing = [p for p in existing if p.error is None or p.system not in wanted]
        journal.rewrite(existing)
    done: dict[tuple[str, str], Prediction] = {}
    for p in existing:
        done.setdefault((p.system, p.gold_id), p)

    console = console or Console(stderr=True)
    errors = {"n": 0}
    backends: dict[str, Backend] = {}
    try:
        for spec in systems:  # build every system first: a bad spec fails before any work
            backends[spec.name] = build_backend(spec)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("cached {task.fields[cached]}"), TextColumn("errors {task.fields[errors]}"),
            TimeRemainingColumn(), console=console, disable=not (progress and console.is_terminal),
        ) as bars:
            tasks = {}
            for spec in systems:
                have = sum((spec.name, it.id) in done for it in gold.items)
                tasks[spec.name] = bars.add_task(spec.name, total=len(gold.items), completed=have, cached=0, errors=0)
            for spec in systems:
                todo = [it for it in gold.items if (spec.name, it.id) not in done]
                if not todo:
                    continue
                tally = _Tally()
                task = tasks[spec.name]

                def on_row(row: Prediction, tally: _Tally = tally, task: Any = task) -> None:
                    done[(row.system, row.gold_id)] = row
                    tally.cached += row.cached
                    tally.errors += row.error is not None
                    bars.update(task, advance=1, cached=tally.cached, errors=tally.errors)
                    if row.error is not None:
                        errors["n"] += 1
                        if max_errors is not None and errors["n"] >= max_errors:
                            raise RunAborted(
                                f"aborted after {errors['n']} failed rows (--max-errors {max_errors}); "
                                f"last: system {row.system!r}, item {row.gold_id!r}: {row.error}. "
                                f"Finished rows are kept in {rundir.predictions_path}; fix the cause and "
                                f"continue with: evalkit run --resume {rundir.path}"
                            )

                _run_system(spec, backends[spec.name], todo, journal, cache, on_row)
    finally:
        for backend in backends.values():
            try:
                backend.close()
            except Exception:
                pass
        journal.close()
    return [done[(s.name, it.id)] for s in systems for it in gold.items]


def _run_system(spec: SystemSpec, backend: Backend, todo: list[GoldItem], journal: Journal,
                cache: Optional[PredictionCache], on_row: Callable[[Prediction], None]) -> None:
    backend_name = spec.backend
    id_hash = identity_digest(output_identity(backend)) if cache is not None else ""
    keys: dict[str, str] = {}

    def finish(item: GoldItem, summary: Optional[str], error: Optional[BaseException], latency: float,
               cached: bool = False) -> None:
        text, err = _check(summary, error)
        row = Prediction(gold_id=item.id, system=spec.name, summary=text,
                         key_points=parse_key_points(text) if text is not None else [],
                         latency_s=round(latency, 6), error=err, cached=cached)
        journal.append(row)
        if cache is not None and err is None and not cached:
            cache.put(keys[item.id], backend_name, text, row.latency_s)
        on_row(row)

    misses: list[GoldItem] = []
    for item in todo:
        if cache is not None:
            keys[item.id] = cache_key(id_hash, item)
            hit = cache.get(keys[item.id])
            if hit is not None:
                finish(item, hit.summary, None, hit.latency_s or 0.0, cached=True)
                continue
        misses.append(item)
    if not misses:
        return
    if backend.batch_size > 1:
        _run_batches(backend, misses, finish)
    elif backend.is_async:
        asyncio.run(_run_async(backend, misses, finish))
    else:
        for item in misses:
            t0 = time.perf_counter()
            try:
                summary, error = backend.summarize(item), None
            except EvalkitError:
                raise
            except Exception as e:
                summary, error = None, e
            finish(item, summary, error, time.perf_counter() - t0)


def _run_batches(backend: Backend, items: Sequence[GoldItem], finish: Callable[..., None]) -> None:
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


async def _run_async(backend: Backend, items: Sequence[GoldItem], finish: Callable[..., None]) -> None:
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


def _check(summary: Any, error: Optional[BaseException]) -> tuple[Optional[str], Optional[str]]:
    """(summary, error message) for a row: a non-string or blank summary is an error too."""
    if error is not None:
        msg = str(error) if isinstance(error, BackendError) else f"{type(error).__name__}: {error}"
        msg = msg.strip() or type(error).__name__
        return None, msg if len(msg) <= _MAX_ERROR_CHARS else msg[:_MAX_ERROR_CHARS] + "..."
    if not isinstance(summary, str):
        return None, f"backend returned {type(summary).__name__}, not a string"
    if not summary.strip():
        return None, "backend returned an empty summary"
    return summary, None
