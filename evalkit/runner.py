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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from evalkit.backends.base import Completion
from evalkit.cache import PredictionCache, cache_key, default_cache
from evalkit.errors import BackendError, EvalkitError, UsageError
from evalkit.identity import BuiltSystem, build_systems, close_systems
from evalkit.journal import Journal
from evalkit.records import GoldItem, GoldSet, Prediction, SystemSpec, Usage
from evalkit.redact import redact_text
from evalkit.rundir import RunDir
from evalkit.text import parse_key_points

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "RunAborted", "default_cache", "run_built", "run_systems"]

_MAX_ERROR_CHARS = 2000
#: a backend output longer than this is recorded as the row's error, never parsed or scored
DEFAULT_MAX_OUTPUT_CHARS = 200_000


class RunAborted(EvalkitError):
    """``--max-errors`` was reached; the finished rows are in the journal (``--resume`` goes on)."""


@dataclass
class _Tally:
    cached: int = 0
    errors: int = 0


def run_systems(gold: GoldSet, systems: list[SystemSpec], rundir: RunDir, *, cache: PredictionCache | None,
                **options: Any) -> list[Prediction]:
    """Build the systems' backends, run them (``run_built``, which takes the same ``options``)
    and close them."""
    built = build_systems(systems)
    try:
        return run_built(gold, built, rundir, cache=cache, **options)
    finally:
        close_systems(built)


def run_built(
    gold: GoldSet,
    systems: Sequence[BuiltSystem],
    rundir: RunDir,
    *,
    cache: PredictionCache | None,
    max_errors: int | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    console: Console | None = None,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> list[Prediction]:
    """Produce one Prediction per (system, item), in (system order, gold order).

    Rows already in ``rundir``'s ``predictions.jsonl`` are kept (``--resume``: never redone,
    never duplicated); with ``retry_failed`` the failed ones are dropped and redone. Every
    row in the journal must have been made by one of ``systems`` under the same identity
    digest, for an item of ``gold``: anything else is refused (a run directory has one
    identity). ``cache=None`` neither reads nor writes a cache. ``max_errors`` aborts with
    ``RunAborted`` once that many rows have failed in this call.
    """
    if max_errors is not None and max_errors < 1:
        raise UsageError("--max-errors must be at least 1")
    if max_output_chars < 1:
        raise UsageError("--max-output-chars must be at least 1")
    journal = Journal(rundir.predictions_path)
    done = _journaled_rows(journal, gold, systems, rundir, retry_failed)

    console = console or Console(stderr=True)
    errors = {"n": 0}
    try:
        with Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
            TextColumn("cached {task.fields[cached]}"), TextColumn("errors {task.fields[errors]}"),
            TimeRemainingColumn(), console=console, disable=not (progress and console.is_terminal),
        ) as bars:
            tasks = {}
            for system in systems:
                have = sum((system.name, it.id) in done for it in gold.items)
                tasks[system.name] = bars.add_task(escape(system.name), total=len(gold.items), completed=have,
                                                   cached=0, errors=0)
            for system in systems:
                todo = [it for it in gold.items if (system.name, it.id) not in done]
                if not todo:
                    continue
                tally = _Tally()
                task = tasks[system.name]

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
                                f"Finished rows are kept in {rundir.predictions_path}; fix the cause, then "
                                f"redo the failed rows and finish the run with: "
                                f"evalkit run --resume {rundir.path} --retry-failed"
                            )

                _run_system(system, todo, journal, cache, on_row, max_output_chars)
    finally:
        journal.close()
    return [done[(s.name, it.id)] for s in systems for it in gold.items]


def _journaled_rows(journal: Journal, gold: GoldSet, systems: Sequence[BuiltSystem], rundir: RunDir,
                    retry_failed: bool) -> dict[tuple[str, str], Prediction]:
    """The journal's rows by (system, gold_id), after checking they belong to this run."""
    existing = journal.load()
    digests = {s.name: s.digest for s in systems}
    ids = {it.id for it in gold.items}
    for n, p in enumerate(existing, 1):
        if p.system not in digests:
            why = f"system {p.system!r}, which is not one of this run's systems ({', '.join(digests)})"
        elif p.system_digest != digests[p.system]:
            why = f"system {p.system!r} under another configuration (identity {str(p.system_digest)[:12]}, now {digests[p.system][:12]})"
        elif p.gold_id not in ids:
            why = f"item {p.gold_id!r}, which is not in gold set {gold.name!r}"
        else:
            continue
        raise UsageError(f"{journal.path}: row {n} is a prediction of {why}; a run directory holds one run: "
                         f"continue it unchanged (evalkit run --resume {rundir.path}) or start clean (--overwrite)")
    done: dict[tuple[str, str], Prediction] = {}
    for p in existing:
        done.setdefault((p.system, p.gold_id), p)
    keep = {k: p for k, p in done.items() if not (retry_failed and p.error is not None)}
    if len(keep) != len(existing):  # failed rows to redo (or duplicates): rewrite without them
        journal.rewrite([p for p in existing if keep.get((p.system, p.gold_id)) is p])
    return keep


def _run_system(system: BuiltSystem, todo: list[GoldItem], journal: Journal, cache: Optional[PredictionCache],
                on_row: Callable[[Prediction], None], max_output_chars: int) -> None:
    backend = system.backend
    keys: dict[str, str] = {}

    def finish(item: GoldItem, output: Any, error: Optional[BaseException], latency: float,
               cached: bool = False) -> None:
        row = make_row(item.id, system.name, system.digest, output, error, latency, cached=cached,
                       max_output_chars=max_output_chars)
        journal.append(row)
        if cache is not None and not cached and row.ok and row.finish_reason != "length":
            meta = {"model": row.model, "usage": row.usage.model_dump() if row.usage else None}
            cache.put(keys[item.id], system.spec.backend, row.summary or "", row.latency_s,
                      {k: v for k, v in meta.items() if v is not None})
        on_row(row)

    misses: list[GoldItem] = []
    for item in todo:
        if cache is not None:
            keys[item.id] = cache_key(system.digest, backend.cache_inputs(item))
            hit = cache.get(keys[item.id])
            if hit is not None:
                usage = hit.meta.get("usage")
                output = Completion(hit.summary, model=hit.meta.get("model"),
                                    usage=Usage.model_validate(usage) if isinstance(usage, dict) else None)
                finish(item, output, None, hit.latency_s or 0.0, cached=True)
                continue
        misses.append(item)
    if not misses:
        return
    backend.prepare(misses)
    if backend.batch_size > 1:
        _run_batches(backend, misses, finish)
    elif backend.is_async:
        asyncio.run(_run_async(backend, misses, finish))
    else:
        for item in misses:
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


def _run_batches(backend: Any, items: Sequence[GoldItem], finish: Callable[..., None]) -> None:
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


async def _run_async(backend: Any, items: Sequence[GoldItem], finish: Callable[..., None]) -> None:
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


def make_row(gold_id: str, system: str, digest: Optional[str], output: Any, error: Optional[BaseException],
             latency: float, *, cached: bool = False, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> Prediction:
    """The journal row for one backend result: secrets redacted (before any cut), too-long,
    blank or non-string outputs turned into errors, key points parsed from what is kept."""
    base: dict[str, Any] = {"gold_id": gold_id, "system": system, "system_digest": digest,
                            "latency_s": round(latency, 6), "cached": cached}
    if error is not None:
        msg = str(error) if isinstance(error, BackendError) else f"{type(error).__name__}: {error}"
        msg = redact_text(msg).strip() or type(error).__name__
        return Prediction(**base, error=msg if len(msg) <= _MAX_ERROR_CHARS else msg[:_MAX_ERROR_CHARS] + "...")
    meta: dict[str, Any] = {}
    if isinstance(output, Completion):
        meta = {"model": redact_text(output.model) if output.model else None, "usage": output.usage,
                "finish_reason": output.finish_reason}
        output = output.text
    if not isinstance(output, str):
        return Prediction(**base, **meta, error=f"backend returned {type(output).__name__}, not a string")
    if len(output) > max_output_chars:
        return Prediction(**base, **meta, error=f"backend output of {len(output):,} characters is longer than "
                          f"max_output_chars={max_output_chars:,} (not scored; raise --max-output-chars if it is real)")
    text = redact_text(output)
    if not text.strip():
        return Prediction(**base, **meta, error="backend returned an empty summary")
    return Prediction(**base, **meta, summary=text, key_points=parse_key_points(text))
