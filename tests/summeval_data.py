"""The SummEval fixture the tests read: ``tests/data/summeval.jsonl.gz`` (see tests/data/README.md).

It is a byte-for-byte gzip of the shared ``summeval.jsonl`` (1,600 rows: 100 CNN/DailyMail
articles x 16 systems with expert ratings), kept inside the repo so that the test suite
passes on any clone. No test reads ``../shared/``.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

SUMMEVAL = Path(__file__).resolve().parent / "data" / "summeval.jsonl.gz"


@lru_cache(maxsize=1)
def _all_rows() -> tuple[dict, ...]:
    with gzip.open(SUMMEVAL, "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


def summeval_rows(n: int | None = None) -> list[dict]:
    """The first ``n`` rows (all 1,600 when ``n`` is None), as fresh dicts."""
    rows = _all_rows()
    return [dict(r) for r in (rows if n is None else rows[:n])]


def summeval_articles(field: str = "source_raw") -> list[str]:
    """The 100 distinct articles, in file order."""
    seen: dict[str, str] = {}
    for r in _all_rows():
        seen.setdefault(r["doc_id"], r[field])
    return list(seen.values())
