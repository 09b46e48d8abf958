"""Reading predictions produced elsewhere (``evalkit score``): JSONL or CSV with
``gold_id, system, summary`` (optional ``key_points``, ``error``, ``latency_s``; and the
fields a run's own ``predictions.jsonl`` rows carry, so a journal can be scored again).

Every problem is one ``InputError`` naming the file, the line (row) and the field.

A (system, gold item) pair missing from the file becomes a failed row ("no prediction"),
so a system that skipped items cannot look better than one that did not.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import InputError
from evalkit.gold import decode_lines, read_jsonl
from evalkit.records import GoldSet, Prediction
from evalkit.text import parse_key_points

REQUIRED = ("gold_id", "system", "summary")
OPTIONAL = ("key_points", "error", "latency_s")
#: written by evalkit itself into a run's predictions.jsonl; accepted (``cached`` and the
#: identity digest are not carried over: the scored run did not make these rows)
RUN_FIELDS = ("cached", "schema_version", "system_digest", "model", "usage", "finish_reason")


def read_predictions_file(path: Path, gold: GoldSet) -> list[Prediction]:
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory; give a .jsonl or .csv predictions file", path=str(path))
    if not path.is_file():
        raise InputError("no such file", path=str(path))
    try:
        if path.suffix.lower() in (".csv", ".tsv"):
            text = "\n".join(decode_lines(path))
            reader = csv.DictReader(io.StringIO(text), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            rows = [(n, dict(r)) for n, r in enumerate(reader, 2)]
            label = "row"
        else:
            rows, label = read_jsonl(path), "line"
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=str(path)) from None
    except csv.Error as e:
        raise InputError(f"invalid CSV: {e}", path=str(path)) from None
    if not rows:
        raise InputError("the file holds no predictions", path=str(path))
    return predictions_from_rows(rows, gold, source=str(path), label=label, missing=f"no prediction in {path.name}")


def predictions_from_rows(rows: list[tuple[int, Any]], gold: GoldSet, *, source: str, label: str = "row",
                          missing: str = "no prediction") -> list[Prediction]:
    """Validated ``Prediction`` rows, one per (system, gold item): ``rows`` are ``(line or row
    number, record)`` pairs (a file's, a DataFrame's, a list's); a pair with no row is a failed
    row with the error ``missing``."""
    if not rows:
        raise InputError("no predictions", path=source)
    items = gold.by_id()
    seen: dict[tuple[str, str], int] = {}
    out: list[Prediction] = []
    for n, row in rows:
        pred = _to_prediction(row, source, n, label)
        if pred.gold_id not in items:
            raise InputError(f"gold_id {pred.gold_id!r} is not in gold set {gold.name!r}",
                             path=source, line=n, field="gold_id", row_label=label)
        key = (pred.system, pred.gold_id)
        if key in seen:
            raise InputError(f"second prediction of system {pred.system!r} for {pred.gold_id!r} "
                             f"(first at {label} {seen[key]})", path=source, line=n, row_label=label)
        seen[key] = n
        out.append(pred)
    systems = list(dict.fromkeys(p.system for p in out))
    by_key = {(p.system, p.gold_id): p for p in out}
    complete = []
    for system in systems:
        for item in gold.items:
            complete.append(by_key.get((system, item.id)) or Prediction(gold_id=item.id, system=system, error=missing))
    return complete


def _to_prediction(row: Any, path: str, n: int, label: str) -> Prediction:
    if not isinstance(row, dict):
        raise InputError("expected a JSON object", path=path, line=n, row_label=label)
    for f in REQUIRED:
        if f not in row or (row[f] is None and f != "summary"):
            raise InputError("missing required field", path=path, line=n, field=f, row_label=label)
        if row[f] is not None and not isinstance(row[f], str):
            raise InputError(f"expected a string, got {type(row[f]).__name__}", path=path, line=n, field=f, row_label=label)
        if f != "summary" and not row[f].strip():  # a system or item with no name cannot be told apart or shown
            raise InputError("empty", path=path, line=n, field=f, row_label=label)
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL) - set(RUN_FIELDS))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(REQUIRED + OPTIONAL)}",
                         path=path, line=n, field=unknown[0], row_label=label)

    def bad(message: str, field: str) -> InputError:
        return InputError(message, path=path, line=n, field=field, row_label=label)

    error = row.get("error")
    if error is not None and not isinstance(error, str):
        raise bad(f"expected a string (the row's error message) or null, got {type(error).__name__}", "error")
    error = error or None
    summary = row.get("summary")
    if error is None and (summary is None or not summary.strip()):
        error = "empty summary"
    key_points = row.get("key_points")
    if isinstance(key_points, str):
        key_points = [k for k in key_points.splitlines() if k.strip()]
    elif key_points is not None and not isinstance(key_points, list):
        raise bad(f"expected a list of strings (or one string, a key point per line), got {type(key_points).__name__}",
                  "key_points")
    elif isinstance(key_points, list):
        for i, k in enumerate(key_points, 1):
            if not isinstance(k, str):
                raise bad(f"item {i}: expected a string, got {type(k).__name__}", "key_points")
    if key_points is None:
        key_points = parse_key_points(summary or "")
    latency = row.get("latency_s")
    if isinstance(latency, bool):
        raise bad("expected a number, got bool", "latency_s")
    try:
        latency = float(latency) if latency not in (None, "") else None
    except (TypeError, ValueError):
        raise bad("expected a number", "latency_s") from None
    extra = {k: row[k] for k in ("model", "usage", "finish_reason") if row.get(k) not in (None, "")}
    try:
        return Prediction(gold_id=row["gold_id"], system=row["system"], summary=summary, key_points=list(key_points),
                          latency_s=latency, error=error, **extra)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise bad(err["msg"], loc or "(row)") from None
