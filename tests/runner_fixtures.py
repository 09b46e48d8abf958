"""Small gold sets and ad-hoc backends (loaded as ``runner_fixtures:Class``) for runner tests.

These are real backends going through the real ``module:Class`` loading path; each one
appends a line per call to ``calls_file`` so tests can count backend calls, even across
processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Optional, Union

from evalkit.backends.base import Backend, BackendOptions
from evalkit.errors import BackendError
from evalkit.records import GoldItem, GoldSet


def make_item(i: int, *, prefix: str = "Story") -> GoldItem:
    return GoldItem(
        id=f"g{i:03d}",
        title=f"{prefix} {i}",
        article=(f"The council of town {i} approved a budget of {i + 2} million dollars on Monday. "
                 f"Residents said the plan \"changes everything\" for {i * 10} families. "
                 "Work starts next spring."),
        key_points=[f"Town {i} approved a {i + 2} million dollar budget."],
    )


def make_gold(n: int, *, prefix: str = "Story") -> GoldSet:
    return GoldSet(name="test-gold", source="test", items=[make_item(i, prefix=prefix) for i in range(n)])


def write_gold_jsonl(path: Path, gold: GoldSet) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for it in gold.items:
            f.write(json.dumps(it.model_dump(mode="json", exclude_none=True)) + "\n")
    return path


def _summary(item: GoldItem, tag: str = "") -> str:
    return f"{item.title}: {item.article.split('. ')[0]}.{tag}\nKey Points:\n- Budget: {item.key_points[0]}"


def _record(calls_file: Optional[str], entry: dict) -> None:
    if calls_file:
        with open(calls_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def read_calls(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Flaky(Backend):
    """Synchronous; fails the listed ids in the chosen way."""

    name = "flaky"

    class Options(BackendOptions):
        calls_file: Optional[str] = None
        fail_ids: list[str] = []
        mode: Literal["backend_error", "exception", "empty", "nonstring"] = "backend_error"
        tag: str = ""
        delay: float = 0.0

    def summarize(self, item: GoldItem) -> Union[str, int]:
        _record(self.options.calls_file, {"id": item.id})
        time.sleep(self.options.delay)
        if item.id in self.options.fail_ids:
            if self.options.mode == "backend_error":
                raise BackendError(f"scripted failure for {item.id}")
            if self.options.mode == "exception":
                raise ZeroDivisionError("division by zero")
            if self.options.mode == "empty":
                return "   "
            return 42
        return _summary(item, self.options.tag)


class Batcher(Backend):
    """Batches; one chunk (containing ``fail_batch_with``) raises as a whole."""

    name = "batcher"

    class Options(BackendOptions):
        calls_file: Optional[str] = None
        size: int = 3
        fail_batch_with: Optional[str] = None
        fail_ids: list[str] = []

    def __init__(self, options=None):
        super().__init__(options)
        self.batch_size = self.options.size

    def summarize_batch(self, items: Sequence[GoldItem]) -> list[Union[str, BackendError]]:
        ids = [it.id for it in items]
        _record(self.options.calls_file, {"batch": ids})
        if self.options.fail_batch_with in ids:
            raise RuntimeError("GPU fell over")
        return [BackendError(f"bad {it.id}") if it.id in self.options.fail_ids else _summary(it) for it in items]


class AsyncSleeper(Backend):
    """Async; sleeps ``delay`` per item and records how many were in flight at once."""

    name = "async-sleeper"
    in_flight = 0
    peak = 0
    closed = 0

    class Options(BackendOptions):
        calls_file: Optional[str] = None
        delay: float = 0.05
        concurrency: int = 4
        fail_ids: list[str] = []

    def __init__(self, options=None):
        super().__init__(options)
        self.concurrency = self.options.concurrency

    async def asummarize(self, item: GoldItem) -> str:
        cls = type(self)
        cls.in_flight += 1
        cls.peak = max(cls.peak, cls.in_flight)
        try:
            _record(self.options.calls_file, {"id": item.id})
            await asyncio.sleep(self.options.delay)
            if item.id in self.options.fail_ids:
                raise BackendError(f"async failure {item.id}")
            return _summary(item)
        finally:
            cls.in_flight -= 1

    async def aclose(self) -> None:
        type(self).closed += 1


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Secretive(Backend):
    """Takes an ``api_key`` option. Records a hash of the key it was given (never the key), so a
    test can tell the real key from ``***``; puts the key in the error of ``fail_id`` (at the
    2,000-character cut of row errors) and in the summary of ``echo_id``."""

    name = "secretive"
    reads = ("id", "article")

    class Options(BackendOptions):
        api_key: str
        calls_file: Optional[str] = None
        fail_id: Optional[str] = None
        echo_id: Optional[str] = None

    def summarize(self, item: GoldItem) -> str:
        key = self.options.api_key
        _record(self.options.calls_file, {"id": item.id, "key": key_hash(key)})
        if item.id == self.options.fail_id:
            raise BackendError("x" * 1972 + f" rejected key {key}")  # the key across the cut at 2,000
        text = _summary(item)
        return f"{text}\nDebug: key={key}" if item.id == self.options.echo_id else text
