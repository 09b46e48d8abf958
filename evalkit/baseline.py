"""The committed CI baseline: a run's summary, gold hash, metric configuration and per-item
scores, promoted to one JSON file (default ``reports/baseline.json``).

The per-item scores are what make the gate's regression check paired: a pull request's run
is compared with the baseline item by item, so a drop can be tested for significance rather
than read off two means.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional

import pandas as pd
from pydantic import Field, ValidationError

from evalkit.errors import InputError, UsageError
from evalkit.fsutil import write_json_atomic
from evalkit.records import SCHEMA_VERSION, GoldRef, GoldSelection, MetricSpec, Record, RunSummary, SystemSpec
from evalkit.rundir import SCORE_COLUMNS, refuse_run_record

if TYPE_CHECKING:
    from evalkit.run import Run

DEFAULT_BASELINE = Path("reports") / "baseline.json"


class Baseline(Record):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["evalkit-baseline"] = "evalkit-baseline"
    run_id: str
    created: str  # when the promoted run was made (not when it was promoted: promoting is reproducible)
    gold: GoldRef
    #: the part of the gold set the promoted run held (None: all of it); see subset.py
    selection: Optional[GoldSelection] = None
    metrics: list[MetricSpec]
    systems: list[SystemSpec] = Field(default_factory=list)
    summary: RunSummary
    #: system -> metric -> gold_id -> value (null: not applicable)
    scores: dict[str, dict[str, dict[str, Optional[float]]]]

    def scores_frame(self) -> pd.DataFrame:
        rows = [(s, g, m, math.nan if v is None else float(v))
                for s, by_metric in self.scores.items() for m, by_id in by_metric.items() for g, v in by_id.items()]
        df = pd.DataFrame(rows, columns=SCORE_COLUMNS)
        df["value"] = df["value"].astype("float64")
        return df


def make_baseline(run: Run) -> Baseline:
    """The baseline record of a run: its summary, metric specs and per-item scores."""
    manifest, summary, scores = run.manifest, run.summary, run.scores
    if summary.gold.hash != manifest.gold.hash:
        where = str(run.path / "summary.json") if run.path is not None else "the run's summary"
        raise InputError("summary.json and manifest.json disagree on the gold hash; re-run `evalkit report`",
                         path=where)
    nested: dict[str, dict[str, dict[str, Optional[float]]]] = {}
    ordered = scores.sort_values(["system", "metric", "gold_id"], kind="mergesort")
    for system, gold_id, metric, value in ordered[SCORE_COLUMNS].itertuples(index=False):
        v = float(value)
        nested.setdefault(str(system), {}).setdefault(str(metric), {})[str(gold_id)] = v if math.isfinite(v) else None
    return Baseline(run_id=manifest.run_id, created=manifest.created, gold=manifest.gold, selection=manifest.selection,
                    metrics=manifest.metrics, systems=manifest.systems, summary=summary, scores=nested)


def promote(run: Run, to: Path | str = DEFAULT_BASELINE) -> Baseline:
    """Write ``run``'s baseline to ``to`` (folders created) and return it."""
    refuse_run_record(to, "--to")
    baseline = make_baseline(run)
    to = Path(to)
    if to.exists() and to.is_dir():
        raise UsageError(f"{to} is a directory; give the baseline file path (e.g. {to / 'baseline.json'})")
    to.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to, baseline.model_dump(mode="json"))
    return baseline


def load_baseline(path: Path | str) -> Baseline:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"baseline file {path} not found; create it with `evalkit baseline RUN --to {path}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not valid JSON: {e}", path=str(path)) from None
    if not isinstance(data, dict) or data.get("kind") != "evalkit-baseline":
        raise InputError("not an evalkit baseline (no \"kind\": \"evalkit-baseline\"); "
                         "create one with `evalkit baseline RUN`", path=str(path))
    if isinstance(data.get("schema_version"), int) and data["schema_version"] > SCHEMA_VERSION:
        raise InputError(f"written by a newer evalkit (schema_version {data['schema_version']}); upgrade evalkit",
                         path=str(path))
    try:
        return Baseline.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(err["msg"], path=str(path), field=".".join(str(x) for x in err["loc"])) from None
