"""Gold sets: loading (JSONL, JSON, CSV, Parquet, Hugging Face datasets), validation, stats.

Every problem is reported with the file, the line (or row) and the field, as an
``InputError`` (exit code 2 in the CLI). ``load_gold`` validates everything it loads;
``evalkit gold validate`` is the same call.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from evalkit.errors import InputError, UsageError
from evalkit.extras import require_extra
from evalkit.fsutil import atomic_path
from evalkit.records import GoldItem, GoldSet

#: the gold set shipped with evalkit (``evalkit run`` with no --gold): package data inside
#: ``evalkit/data/gold/``, so a wheel, an sdist and an editable install all find it the same way
SHIPPED_GOLD = Path(str(resources.files("evalkit") / "data" / "gold" / "news-v1.jsonl"))
FIELDS = ("id", "article", "key_points", "title", "summary", "meta")
#: field names tried, in order, when mapping a Hugging Face dataset (CNN/DailyMail works as is)
HF_DEFAULT_FIELDS = {
    "id": ("id", "doc_id", "gold_id"),
    "article": ("article", "document", "text", "source"),
    "key_points": ("key_points", "highlights", "summary_points"),
    "title": ("title", "headline"),
    "summary": ("summary", "reference"),
}


def default_gold_path() -> Path:
    if not SHIPPED_GOLD.is_file():  # a broken install (or evalkit imported from a zip file)
        raise UsageError(f"the shipped gold set is missing ({SHIPPED_GOLD}): reinstall evalkit, or pass --gold PATH")
    return SHIPPED_GOLD


def load_gold(spec: str | Path, *, fields: Mapping[str, str] | None = None, name: str | None = None) -> GoldSet:
    """Load and validate a gold set from a path or ``hf:NAME[:CONFIG][:SPLIT]``."""
    text = str(spec)
    if text.startswith("hf:"):
        return _load_hf(text, fields or {}, name)
    path = Path(text)
    if not path.exists():
        raise InputError("no such file", path=text)
    if path.is_dir():
        raise InputError("is a directory; give a .jsonl, .json, .csv or .parquet file (or hf:PATH for a saved dataset)", path=text)
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            rows = read_jsonl(path)
        elif suffix == ".json":
            rows = _read_json(path)
        elif suffix in (".csv", ".tsv"):
            rows = _read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        elif suffix in (".parquet", ".pq"):
            rows = _read_parquet(path)
        else:
            raise InputError(f"unknown gold file type {suffix!r}; use .jsonl, .json, .csv, .tsv or .parquet", path=text)
    except OSError as e:  # unreadable: permissions, I/O errors
        raise InputError(f"cannot read: {e.strerror or e}", path=text) from None
    label = "line" if suffix in (".jsonl", ".ndjson") else "row"
    return build_gold_set(rows, source=text, name=name or path.stem, row_label=label, fields=fields)


def build_gold_set(rows: Iterable[tuple[int, Any]], *, source: str, name: str, row_label: str = "row",
                   fields: Mapping[str, str] | None = None) -> GoldSet:
    """Validate ``(line_or_row_number, record)`` pairs into a GoldSet; first problem raises."""
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for n, raw in rows:
        if not isinstance(raw, dict):
            raise InputError(f"expected a JSON object, got {type(raw).__name__}", path=source, line=n, row_label=row_label)
        record = _apply_mapping(raw, fields) if fields else raw
        item = _validate_item(record, source, n, row_label)
        if item.id in seen:
            raise InputError(f"duplicate id {item.id!r} (first at {row_label} {seen[item.id]})",
                             path=source, line=n, field="id", row_label=row_label)
        seen[item.id] = n
        items.append(item)
    if not items:
        raise InputError("the file holds no gold items", path=source)
    return GoldSet(name=name, source=source, items=items)


def _validate_item(record: dict, source: str, n: int, row_label: str) -> GoldItem:
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(map(repr, unknown))}; known fields: {', '.join(FIELDS)}",
                         path=source, line=n, field=unknown[0], row_label=row_label)
    for required in ("id", "article", "key_points"):
        if required not in record or record[required] is None:
            raise InputError("missing required field", path=source, line=n, field=required, row_label=row_label)
    if isinstance(record.get("id"), int) and not isinstance(record.get("id"), bool):
        record = {**record, "id": str(record["id"])}
    try:
        return GoldItem.model_validate(record, strict=False)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(x) for x in err["loc"]]
        field = loc[0] if loc else None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "too_short" and field == "key_points":
            msg = "no key points (need at least one)"
        elif len(loc) > 1:
            msg = f"item {int(loc[1]) + 1}: {msg}" if loc[1].isdigit() else f"{'.'.join(loc[1:])}: {msg}"
        if err["type"].endswith("_type"):
            msg = f"{msg} (got {type(err.get('input')).__name__})"
        raise InputError(msg, path=source, line=n, field=field, row_label=row_label) from None


# --- readers: yield (line-or-row number, raw record) ----------------------------------------

def decode_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file (a BOM is dropped); bad bytes are located by line and column."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"not UTF-8: byte 0x{data[e.start]:02x} at column {col}", path=str(path), line=line) from None


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed value) of every non-blank line; bad JSON is located."""
    rows = []
    for n, line in enumerate(decode_lines(path), 1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg} at column {e.colno}", path=str(path), line=n) from None
    return rows


def _read_json(path: Path) -> list[tuple[int, Any]]:
    text = "\n".join(decode_lines(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg} at column {e.colno}", path=str(path), line=e.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InputError("expected a JSON list of items (or {\"items\": [...]})", path=str(path))
    return list(enumerate(data, 1))


def _table_rows(records: list[dict], path: Path, first_row: int) -> list[tuple[int, Any]]:
    rows = []
    for i, rec in enumerate(records):
        n = i + first_row
        clean = {k: v for k, v in rec.items() if not _is_missing(v)}
        kp = clean.get("key_points")
        if isinstance(kp, str):
            try:
                clean["key_points"] = split_key_points(kp)
            except ValueError as e:
                raise InputError(str(e), path=str(path), line=n, field="key_points", row_label="row") from None
        elif kp is not None and hasattr(kp, "tolist"):
            clean["key_points"] = list(kp.tolist())
        meta = {k[5:]: v for k, v in clean.items() if k.startswith("meta.")}
        clean = {k: v for k, v in clean.items() if not k.startswith("meta.")}
        if isinstance(clean.get("meta"), str):
            try:
                clean["meta"] = json.loads(clean["meta"])
            except json.JSONDecodeError as e:
                raise InputError(f"meta is not a JSON object: {e.msg}", path=str(path), line=n, field="meta", row_label="row") from None
        if meta:
            clean["meta"] = {**(clean.get("meta") or {}), **meta}
        rows.append((n, clean))
    return rows


def split_key_points(cell: str) -> list[str]:
    """Key points from one table cell: one per line, or a list written out as JSON or as Python
    writes it (``DataFrame.to_csv`` of a list column gives ``['one', 'two']``). A cell that
    looks like a list but is none raises ValueError (read as one key point, its brackets and
    quotes would be scored as text)."""
    text = cell.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return [k.strip() for k in cell.splitlines() if k.strip()]
    import ast

    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, list) and all(isinstance(k, str) for k in value):
            return [k.strip() for k in value if k.strip()]
    raise ValueError("looks like a list but is not a list of strings in JSON (or Python) syntax; "
                     "write one key point per line, or [\"one\", \"two\"]")


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _read_csv(path: Path, sep: str) -> list[tuple[int, Any]]:
    import csv
    import io

    # line ends are the file's, not the text's: a cell saved with "\r\n" (Excel, git autocrlf)
    # holds the same text, and the same gold hash, as one saved with "\n"
    text = "\n".join(line.removesuffix("\r") for line in decode_lines(path))
    reader = csv.DictReader(io.StringIO(text), delimiter=sep)
    try:
        header = reader.fieldnames or []
        twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
        if twice is not None:
            raise InputError(f"column {twice!r} appears twice in the header", path=str(path), line=1,
                             field=twice, row_label="row")
        records = [dict(r) for r in reader]
    except csv.Error as e:
        raise InputError(f"invalid CSV: {e}", path=str(path), line=reader.line_num, row_label="row") from None
    for i, r in enumerate(records):
        if None in r:
            raise InputError("more cells than header columns", path=str(path), line=i + 2, row_label="row")
        for k, v in list(r.items()):
            if v == "" and k in ("title", "summary", "meta"):
                r[k] = None
    return _table_rows(records, path, first_row=2)  # row numbers as a spreadsheet shows them


def _read_parquet(path: Path) -> list[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from None
    return _table_rows(table.to_pylist(), path, first_row=1)


# --- Hugging Face datasets -------------------------------------------------------------------

def parse_hf_spec(spec: str) -> tuple[str, Optional[str], Optional[str]]:
    """``hf:NAME[:CONFIG][:SPLIT]`` → (name, config, split)."""
    parts = spec[3:].split(":")
    if not parts[0]:
        raise UsageError(f"bad dataset spec {spec!r}; use hf:NAME[:CONFIG][:SPLIT]")
    if len(parts) > 3:
        raise UsageError(f"bad dataset spec {spec!r}; use hf:NAME[:CONFIG][:SPLIT]")
    name = parts[0]
    config = parts[1] or None if len(parts) > 1 else None
    split = parts[2] or None if len(parts) > 2 else None
    return name, config, split


def _apply_mapping(raw: dict, fields: Mapping[str, str] | None) -> dict:
    """Map dataset columns to gold fields: explicit ``fields`` first, then the defaults."""
    out: dict[str, Any] = {}
    fields = dict(fields or {})
    bad = sorted(set(fields) - set(FIELDS))
    if bad:
        raise UsageError(f"unknown gold field(s) in mapping: {', '.join(bad)}; known: {', '.join(FIELDS)}")
    for target in FIELDS:
        source = fields.get(target)
        if source is not None:
            if source not in raw:
                raise UsageError(f"mapping {target}={source}: the dataset has no column {source!r}; columns: {', '.join(raw)}")
            out[target] = raw[source]
            continue
        for candidate in HF_DEFAULT_FIELDS.get(target, ()):
            if candidate in raw and candidate not in fields.values():
                out[target] = raw[candidate]
                break
    if isinstance(out.get("key_points"), str):
        out["key_points"] = [k.strip() for k in out["key_points"].splitlines() if k.strip()]
    for k in ("title", "summary"):
        if k in out and not isinstance(out[k], str):
            out.pop(k)
    meta = {k: v for k, v in raw.items() if k not in fields.values() and isinstance(v, (str, int, float, bool))
            and not any(k in c for c in HF_DEFAULT_FIELDS.values())}
    if meta and "meta" not in out:
        out["meta"] = meta
    return out


def _load_hf(spec: str, fields: Mapping[str, str], name: str | None) -> GoldSet:
    ds_name, config, split = parse_hf_spec(spec)
    require_extra("hf", f"gold set {spec!r}")
    import datasets  # heavy: only here

    local = Path(ds_name)
    try:
        if local.is_dir() and ((local / "dataset_dict.json").exists() or (local / "state.json").exists()):
            ds = datasets.load_from_disk(str(local))
        else:
            ds = datasets.load_dataset(ds_name, config, split=split)
    except Exception as e:  # datasets raises many types (offline, missing, bad config)
        raise InputError(f"cannot load dataset: {type(e).__name__}: {e}", path=spec) from None
    if isinstance(ds, datasets.DatasetDict):
        available = list(ds)
        chosen = split or ("test" if "test" in ds else (available[0] if len(available) == 1 else None))
        if chosen not in ds:
            raise UsageError(f"{spec}: choose a split with hf:NAME:CONFIG:SPLIT; splits: {', '.join(available)}")
        ds = ds[chosen]
    rows = [(i, _apply_mapping(dict(r), fields)) for i, r in enumerate(ds, 1)]
    return build_gold_set(rows, source=spec, name=name or ds_name.rstrip("/").split("/")[-1], row_label="row")


def write_gold_jsonl(gold: GoldSet, path: Path) -> None:
    """The gold set as JSONL, written atomically (a reader never sees half a file)."""
    from evalkit.rundir import refuse_run_record

    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory; --to names the .jsonl file to write", path=str(path))
    refuse_run_record(path, "--to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for item in gold.items:
                f.write(json.dumps(item.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n")
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror or e}", path=str(path)) from None


# --- stats ----------------------------------------------------------------------------------

def gold_stats(gold: GoldSet) -> dict[str, Any]:
    """Counts a datasheet reports: items, words per article, key points, quotes, figures."""
    from evalkit.numbers import extract_figures
    from evalkit.quotes import extract_quotes

    words = [len(i.article.split()) for i in gold.items]
    kps = [len(i.key_points) for i in gold.items]
    quotes = [len(extract_quotes(i.article)) for i in gold.items]
    figures = [len(extract_figures(i.article)) for i in gold.items]

    def dist(xs: list[int]) -> dict[str, float]:
        return {"min": min(xs), "mean": round(statistics.fmean(xs), 2), "median": statistics.median(xs), "max": max(xs)}

    desks: dict[str, int] = {}
    for i in gold.items:
        desk = str(i.meta.get("desk", "-"))
        desks[desk] = desks.get(desk, 0) + 1
    return {
        "name": gold.name,
        "source": gold.source,
        "hash": gold.hash,
        "items": len(gold.items),
        "with_summary": sum(1 for i in gold.items if i.summary),
        "words_per_article": dist(words),
        "key_points_per_item": dist(kps),
        "quotes_per_article": dist(quotes),
        "figures_per_article": dist(figures),
        "desks": dict(sorted(desks.items())),
    }
