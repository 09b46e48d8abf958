"""Reading the metrics' per-item details (``details.jsonl``) as plain views: each quotation with
its verdict, closest article span and what differs; each figure, supported or not; each
reference key point, covered or missed. Tolerant adapters, so a detail written by another
version of a metric (or a plug-in using the same shapes) reads as well as it can.

Used by the HTML report's drill-down (report/drilldown.py) and the diff report (diff.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

VERDICT_WORDS = {"verbatim": "verbatim", "altered": "altered", "not_found": "not found"}



def _first(d: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _offsets(d: Mapping[str, Any], prefix: str) -> Optional[tuple[int, int]]:
    """(start, end) from ``{prefix}start``/``{prefix}end`` or a ``{prefix}span`` pair."""
    pair = d.get(f"{prefix}span") if prefix else d.get("span")
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        start, end = pair
    elif isinstance(pair, Mapping):
        start, end = pair.get("start"), pair.get("end")
    else:
        start, end = d.get(f"{prefix}start"), d.get(f"{prefix}end")
    if isinstance(start, int) and isinstance(end, int) and end > start >= 0:
        return start, end
    return None


@dataclass
class QuoteView:
    n: int
    text: str
    verdict: str  # verbatim | altered | not_found | other
    closest: Optional[str] = None
    similarity: Optional[float] = None
    differs: Optional[str] = None
    article_spans: list[tuple[int, int]] = field(default_factory=list)  # one per fragment
    summary_span: Optional[tuple[int, int]] = None
    counted: bool = True  # False: too short to count (e.g. a one-word scare quote)
    note: Optional[str] = None

    @property
    def words(self) -> str:
        return VERDICT_WORDS.get(self.verdict, self.verdict.replace("_", " "))

    @property
    def fabricated(self) -> bool:
        return self.counted and self.verdict != "verbatim"


def quote_views(detail: Mapping[str, Any]) -> list[QuoteView]:
    out = []
    for i, q in enumerate(detail.get("quotes") or [], 1):
        if not isinstance(q, Mapping):
            continue
        differs = _first(q, "differs", "diff", "differences", "changed")
        if isinstance(differs, (list, tuple)):
            differs = ", ".join(map(str, differs))
        elif isinstance(differs, Mapping):
            differs = json.dumps(differs, ensure_ascii=False)
        sim = _first(q, "similarity", "score")
        frags = [sp for sp in (_offsets({"span": x}, "") for x in q.get("article_spans") or []) if sp]
        whole = _offsets(q, "article_") or _offsets(q, "")
        out.append(QuoteView(
            n=i, text=str(_first(q, "quote", "text", default="")), verdict=str(_first(q, "verdict", default="?")),
            closest=_first(q, "closest", "closest_span", "match", "article_span_text"),
            similarity=float(sim) if isinstance(sim, (int, float)) else None,
            differs=differs, article_spans=frags or ([whole] if whole else []),
            summary_span=_offsets(q, "summary_"), counted=bool(q.get("counted", True)),
            note=None if q.get("note") is None else str(q["note"])))
    return out


@dataclass
class NumberView:
    text: str
    supported: bool
    note: Optional[str] = None
    summary_span: Optional[tuple[int, int]] = None


def number_views(detail: Mapping[str, Any]) -> list[NumberView]:
    out = []
    for x in detail.get("numbers") or detail.get("figures") or []:
        if not isinstance(x, Mapping):
            continue
        supported = _first(x, "supported", "found", default=False)
        note = _first(x, "value", "normalized", "canonical")
        out.append(NumberView(text=str(_first(x, "text", "number", "figure", default="")), supported=bool(supported),
                              note=None if note is None else str(note),
                              summary_span=_offsets(x, "summary_") or _offsets(x, "")))
    return out


@dataclass
class KeyPointView:
    key_point: str
    covered: bool
    similarity: Optional[float] = None
    best_sentence: Optional[str] = None


def keypoint_views(detail: Mapping[str, Any]) -> list[KeyPointView]:
    out = []
    for k in detail.get("key_points") or detail.get("keypoints") or []:
        if not isinstance(k, Mapping):
            continue
        sim = _first(k, "similarity", "score")
        out.append(KeyPointView(key_point=str(_first(k, "key_point", "reference", "text", default="")),
                                covered=bool(_first(k, "covered", default=False)),
                                similarity=float(sim) if isinstance(sim, (int, float)) else None,
                                best_sentence=_first(k, "best_sentence", "sentence", "match")))
    return out
