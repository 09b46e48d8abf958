"""The predictions journal: ``predictions.jsonl``, one row per finished (system, gold_id).

Rows are appended and flushed the moment they finish, so a run killed at any instant
(SIGKILL included) loses only the rows in flight. A kill in the middle of a write leaves a
torn last line; opening the journal repairs it (a complete row missing only its newline is
kept, a fragment is cut off) so that appended rows never glue onto it.

A run held in memory (``evalkit.evaluate(..., out=None)``) gets a :class:`MemoryJournal`: the
same interface (:class:`PredictionJournal`), the same runner, no file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Optional, Protocol

from pydantic import ValidationError

from evalkit.fsutil import atomic_path
from evalkit.records import Prediction
from evalkit.rundir import iter_predictions


class PredictionJournal(Protocol):
    """Where the runner puts each finished row (a file, or a list in memory)."""

    @property
    def path(self) -> Optional[Path]: ...

    def load(self) -> list[Prediction]: ...

    def append(self, row: Prediction) -> None: ...

    def rewrite(self, rows: Iterable[Prediction]) -> None: ...

    def close(self) -> None: ...


class MemoryJournal:
    """The journal of a run held in memory: rows in a list, nothing written anywhere."""

    def __init__(self, rows: Iterable[Prediction] = ()):
        self.rows: list[Prediction] = list(rows)

    @property
    def path(self) -> Optional[Path]:
        return None

    def load(self) -> list[Prediction]:
        return list(self.rows)

    def append(self, row: Prediction) -> None:
        self.rows.append(row)

    def rewrite(self, rows: Iterable[Prediction]) -> None:
        self.rows = list(rows)

    def close(self) -> None:
        pass


class Journal:
    """Append-only JSONL of ``Prediction`` rows."""

    def __init__(self, path: Path | str):
        self._path = Path(path)
        self._f: Optional[IO[str]] = None

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> list[Prediction]:
        """Rows already written (after repairing a torn tail)."""
        self.repair()
        return list(iter_predictions(self.path))

    def repair(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if not data or data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            try:
                Prediction.model_validate_json(tail)
            except (ValidationError, ValueError):
                f.truncate(cut)  # a fragment of the row that was being written
            else:
                f.seek(0, os.SEEK_END)
                f.write(b"\n")  # the row was complete; only its newline was lost

    def append(self, row: Prediction) -> None:
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a", encoding="utf-8")
        self._f.write(row.model_dump_json() + "\n")
        self._f.flush()

    def rewrite(self, rows: Iterable[Prediction]) -> None:
        """Replace the journal atomically (used to drop failed rows before redoing them)."""
        self.close()
        write_rows_atomic(self.path, rows)

    def close(self) -> None:
        if self._f is not None:
            try:
                os.fsync(self._f.fileno())
            except OSError:
                pass
            self._f.close()
            self._f = None


def write_rows_atomic(path: Path | str, rows: Iterable[Prediction]) -> None:
    """A whole predictions file, written atomically (``evalkit score`` and journal rewrites)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(row.model_dump_json() + "\n")
