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
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from evalkit.errors import InputError, UsageError
from evalkit.fsutil import atomic_path, write_json_atomic
from evalkit.records import SCHEMA_VERSION, ItemDetail, Manifest, Prediction, RunSummary

DEFAULT_RUNS_ROOT = Path("reports") / "runs"
SCORE_COLUMNS = ["system", "gold_id", "metric", "value"]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, out: Path | None = None, *, root: Path | None = None, run_id: str | None = None) -> RunDir:
        """``out`` is the run directory itself; by default ``<root>/<new id>`` (root: reports/runs)."""
        path = Path(out) if out is not None else Path(root or DEFAULT_RUNS_ROOT) / (run_id or new_run_id())
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open(cls, path: Path | str) -> RunDir:
        p = Path(path)
        if not (p / "manifest.json").is_file():
            raise UsageError(f"{p} is not a run directory (no manifest.json)")
        return cls(p)

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

    def read_manifest(self) -> Manifest:
        return _read_record(self.manifest_path, Manifest)

    def write_summary(self, summary: RunSummary) -> None:
        write_json_atomic(self.summary_path, summary.model_dump(mode="json"))

    def read_summary(self) -> RunSummary:
        return _read_record(self.summary_path, RunSummary)

    # --- predictions (the journal is appended by the runner; see journal.py) ---------------
    def read_predictions(self) -> list[Prediction]:
        return list(iter_predictions(self.predictions_path))

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


def _read_record(path: Path, model):
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
