"""The run directory: every stage's output persisted, so any stage can be re-run alone.

    reports/runs/<run_id>/
        manifest.json       what was run (Manifest)
        predictions.jsonl   the journal: one Prediction per (system, gold_id), appended as finished
        scores.parquet      tidy table: system, gold_id, metric, value (NaN = not applicable)
        scores.csv          the same as CSV
        details.jsonl       per-item diagnostics (ItemDetail: quote verdicts, missed key points, ...)
        summary.json        per system and metric: mean, ci_low, ci_high, n (RunSummary)
        report.md           leaderboard for humans / PR comments
        report.html         the self-contained HTML report
        .evalkit.lock       present while a process writes the directory (see lock.py)

A run directory holds one run: its manifest binds the gold hash, each system's identity
digest and the metric configs, and every journal row carries the digest it was made under.
The manifest's ``complete`` flag is False while the directory is being written and set
last; readers (``RunDir.open``) refuse an incomplete run with a clear message.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError

from evalkit.errors import InputError, UsageError
from evalkit.fsutil import atomic_path, write_json_atomic
from evalkit.lock import LOCK_NAME, RunLock, current_holder, describe_holder
from evalkit.records import SCHEMA_VERSION, ItemDetail, Manifest, Prediction, RunSummary

if TYPE_CHECKING:
    from evalkit.journal import Journal

R = TypeVar("R", bound=BaseModel)
DEFAULT_RUNS_ROOT = Path("reports") / "runs"
SCORE_COLUMNS = ["system", "gold_id", "metric", "value"]
#: every file evalkit writes into a run directory (``--overwrite`` removes these and no others)
#: where ``--overwrite`` keeps the replaced run's files until the new run has written a row
ASIDE = ".overwritten"
RUN_FILES = ("manifest.json", "predictions.jsonl", "scores.parquet", "scores.csv", "details.jsonl", "summary.json",
             "comparisons.json", "report.md", "report.html")


#: the files that are a run's record (its reports can be rendered again from them, they cannot)
RECORD_FILES = (*(f for f in RUN_FILES if not f.startswith("report.")), LOCK_NAME)


def refuse_run_record(path: Path | str, what: str) -> None:
    """Refuse to write ``path`` (a report, a baseline, JUnit XML...) when it is one of the files
    that hold a run (its manifest, journal, scores...): the run would be lost to a typo in
    ``--markdown``/``--html``/``--junit``/``--to``. Nothing is written."""
    p = Path(path)
    if p.name in RECORD_FILES and (p.parent / "manifest.json").is_file():
        raise UsageError(f"{what} {p} would replace the {p.name} of run directory {p.parent}, losing the run; "
                         f"write it elsewhere")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, out: Path | None = None, *, root: Path | None = None, run_id: str | None = None) -> RunDir:
        """``out`` is the run directory itself; by default ``<root>/<new id>`` (root: reports/runs).

        Only makes the directory: ``check_new_location`` first, then ``lock()`` it.
        """
        path = new_run_path(out, root=root, run_id=run_id)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create the run directory: {e.strerror or e}", path=str(path)) from None
        return cls(path)

    @classmethod
    def open(cls, path: Path | str, *, require_complete: bool = True) -> RunDir:
        """An existing run directory; one still being written (or interrupted) is refused
        unless ``require_complete=False`` (resume, re-scoring)."""
        p = Path(path)
        if not (p / "manifest.json").is_file():
            raise UsageError(f"{p} is not a run directory (no manifest.json)")
        run = cls(p)
        if require_complete and run.read_manifest().complete is False:
            holder = current_holder(p)
            if holder is not None:
                raise UsageError(f"run {p} is incomplete: it is being written by {describe_holder(holder)}; "
                                 f"wait for it to finish")
            raise UsageError(f"run {p} is incomplete (interrupted before it finished); finish it with: "
                             f"evalkit run --resume {p}")
        return run

    def lock(self) -> RunLock:
        """The directory's writer lock (``with rundir.lock(): ...``)."""
        return RunLock(self.path)

    @contextmanager
    def replacing(self) -> Iterator[None]:
        """``--overwrite``: the run files are moved aside (into ``.overwritten/``, the manifest
        first) for the block, which writes the new run. If the block fails before the new run
        has journaled a row (a model that will not load, a usage error found at the first
        call, Ctrl-C), the new files are removed and the old run is put back as it was: a
        replacement that never started loses nothing. Otherwise (the block finished, or rows
        were written: a partial run to ``--resume``) the old files are deleted. A folder left
        by a process killed in the block is deleted by the next replacement."""
        aside = self.path / ASIDE
        if aside.exists():
            shutil.rmtree(aside)
        aside.mkdir()
        moved = [name for name in RUN_FILES if (self.path / name).exists()]
        for name in moved:  # the manifest first: a crash half-way leaves no directory that looks like a run
            (self.path / name).rename(aside / name)
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink()
        try:
            yield
        except BaseException:
            if not self._has_rows():
                self.clear()
                for name in reversed(moved):  # the manifest last
                    (aside / name).rename(self.path / name)
            raise
        finally:
            shutil.rmtree(aside, ignore_errors=True)

    def _has_rows(self) -> bool:
        try:
            return self.predictions_path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def clear(self) -> None:
        """Remove every run file (``--overwrite``; the caller holds the lock): the manifest first,
        so that a crash half-way leaves no directory that looks like a run."""
        for name in RUN_FILES:
            try:
                (self.path / name).unlink()
            except FileNotFoundError:
                pass
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink()

    @property
    def run_id(self) -> str:
        return self.path.name

    # --- paths ------------------------------------------------------------------------------
    manifest_path = property(lambda self: self.path / "manifest.json")
    predictions_path = property(lambda self: self.path / "predictions.jsonl")
    scores_parquet = property(lambda self: self.path / "scores.parquet")
    scores_csv = property(lambda self: self.path / "scores.csv")
    details_path = property(lambda self: self.path / "details.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    report_md = property(lambda self: self.path / "report.md")
    report_html = property(lambda self: self.path / "report.html")

    # --- manifest and summary -------------------------------------------------------------
    def write_manifest(self, manifest: Manifest) -> None:
        write_json_atomic(self.manifest_path, manifest.model_dump(mode="json"))

    def mark_complete(self, manifest: Manifest) -> None:
        """The last write of a finished run: its manifest with ``complete: true``."""
        manifest.complete = True
        self.write_manifest(manifest)

    def read_manifest(self) -> Manifest:
        return _read_record(self.manifest_path, Manifest)

    def write_summary(self, summary: RunSummary) -> None:
        write_json_atomic(self.summary_path, summary.model_dump(mode="json"))

    def read_summary(self) -> RunSummary:
        return _read_record(self.summary_path, RunSummary)

    # --- predictions (the journal is appended by the runner; see journal.py) ---------------
    def journal(self) -> Journal:
        """The run's ``predictions.jsonl`` journal (the runner appends to it)."""
        from evalkit.journal import Journal

        return Journal(self.predictions_path)

    def read_predictions(self, manifest: Optional[Manifest] = None) -> list[Prediction]:
        """The run's rows: journal rows of the manifest's systems (made under the identity the
        manifest records, when it records one), one per (system, item), in journal order."""
        manifest = manifest or (self.read_manifest() if self.manifest_path.is_file() else None)
        return run_rows(iter_predictions(self.predictions_path), manifest)

    # --- scores ---------------------------------------------------------------------------
    def write_scores(self, scores: pd.DataFrame) -> None:
        scores = scores[SCORE_COLUMNS]
        with atomic_path(self.scores_parquet) as tmp:
            scores.to_parquet(tmp, index=False)
        with atomic_path(self.scores_csv) as tmp:
            scores.to_csv(tmp, index=False, float_format="%.10g")

    def read_scores(self) -> pd.DataFrame:
        if not self.scores_parquet.is_file():
            raise UsageError(f"{self.path} has no scores.parquet: score it first (evalkit score)")
        return pd.read_parquet(self.scores_parquet)

    def write_details(self, details: Iterable[ItemDetail]) -> None:
        with atomic_path(self.details_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for d in details:
                f.write(d.model_dump_json() + "\n")

    def read_details(self) -> list[ItemDetail]:
        if not self.details_path.is_file():
            return []
        out = []
        with open(self.details_path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(ItemDetail.model_validate_json(line))
        return out


def new_run_path(out: Path | str | None = None, *, root: Path | str | None = None, run_id: str | None = None) -> Path:
    return Path(out) if out is not None else Path(root or DEFAULT_RUNS_ROOT) / (run_id or new_run_id())


def check_new_location(path: Path, *, overwrite: bool = False, locked: bool = False) -> None:
    """Refuse, before anything is written, a place a new run cannot go.

    ``path`` must not be a file; it must be creatable (its nearest existing ancestor a
    writable directory); if it exists it must be empty, or with ``overwrite`` hold nothing
    but run files; and no other process may be writing it (``locked``: this process holds
    the lock already, checked again under it).
    """
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a directory; --out names a run directory", path=str(path))
    ancestor = path
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"cannot create the run directory: {ancestor} is not a directory", path=str(path))
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the run directory: {ancestor} is not writable", path=str(path))
    if not path.is_dir():
        return
    holder = None if locked else current_holder(path)
    if holder is not None:
        raise UsageError(f"run directory {path} is being written by another evalkit process, "
                         f"{describe_holder(holder)}; wait for it to finish")
    entries = sorted(e.name for e in path.iterdir() if e.name != LOCK_NAME)
    if not entries:
        return
    if not overwrite:
        what = "a run" if "manifest.json" in entries or "predictions.jsonl" in entries else f"files ({entries[0]}, ...)"
        raise UsageError(f"--out {path} already holds {what}; continue it with --resume {path}, "
                         f"replace it with --overwrite, or choose a new --out")
    foreign = [e for e in entries if e not in RUN_FILES and e != ASIDE and not (e.startswith(".") and e.endswith(".tmp"))]
    if foreign:
        raise UsageError(f"--overwrite: {path} holds {foreign[0]!r}, which is not a run file; "
                         f"refusing to delete it (choose a new --out)")


def run_rows(rows: Iterable[Prediction], manifest: Optional[Manifest]) -> list[Prediction]:
    """The rows that belong to the run ``manifest`` describes (first one per key)."""
    if manifest is None:
        return list(rows)
    systems = {s.name for s in manifest.systems}
    digests = manifest.identity.digests() if manifest.identity is not None else None
    out: dict[tuple[str, str], Prediction] = {}
    for p in rows:
        if p.system not in systems or (digests is not None and p.system_digest != digests.get(p.system)):
            continue
        out.setdefault((p.system, p.gold_id), p)
    return list(out.values())


def iter_predictions(path: Path) -> Iterator[Prediction]:
    """Rows of a predictions journal. A torn last line (a killed run) is skipped, not fatal."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Prediction.model_validate_json(line)
        except ValidationError as e:
            if n == len(lines) and not line.endswith("\n"):
                return  # the row in flight when the run was killed
            raise InputError(str(e.errors()[0]["msg"]), path=str(path), line=n) from None


def _read_record(path: Path, model: type[R]) -> R:
    if not path.is_file():
        raise UsageError(f"missing {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not valid JSON: {e}", path=str(path)) from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version is not None and version > SCHEMA_VERSION:
        raise InputError(
            f"written by a newer evalkit (schema_version {version} > {SCHEMA_VERSION}); upgrade evalkit",
            path=str(path),
        )
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(err["msg"], path=str(path), field=".".join(str(x) for x in err["loc"])) from None
