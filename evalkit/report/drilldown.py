"""The per-article view model of the HTML report: article text with every quote highlighted,
each system's summary with its quote verdicts and unsupported numbers, key-point coverage,
and the item's scores.

Pure data in, plain dataclasses out: all text stays text (the template escapes it); nothing
here builds markup. Metric details are read through the adapters of evalkit/detail_views.py
(``quote_views``, ``number_views``, ``keypoint_views``) so a detail written by another version
of a metric is shown as well as it can be, and any other metric's detail is shown generically.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from evalkit.detail_views import (
    VERDICT_WORDS,
    KeyPointView,
    NumberView,
    QuoteView,
    keypoint_views,
    number_views,
    quote_views,
)
from evalkit.records import GoldItem, Prediction

__all__ = ["VERDICT_WORDS", "ItemView", "KeyPointView", "NumberView", "QuoteView", "Ref", "Segment", "Span",
           "SystemCard", "anchor_for", "build_item", "highlight", "is_finite", "keypoint_views", "number_views",
           "quote_anchor", "quote_views"]
#: overlapping highlights take the class of the most severe verdict
_SEVERITY = {"verbatim": 0, "number-ok": 0, "altered": 1, "number-bad": 2, "not_found": 2}
#: detail families rendered by their own views (others are shown generically)
KNOWN_FAMILIES = ("quotes", "numbers", "keypoints")


# --------------------------------------------------------------------------------------------
# highlighting: text + spans -> segments
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """A small label placed after a highlighted span (e.g. "lead Q2"), linking to its quote."""

    label: str
    cls: str
    href: str


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    cls: str
    tip: str
    ref: Optional[Ref] = None


@dataclass
class Segment:
    text: str
    cls: str = ""  # "" = not highlighted
    tip: str = ""
    refs: list[Ref] = field(default_factory=list)


def highlight(text: str, spans: Sequence[Span]) -> list[Segment]:
    """Cut ``text`` at every span boundary; each piece knows the spans covering it (the most
    severe verdict gives its class, every span's tip is listed) and the refs of spans ending
    there. Spans outside the text or empty are ignored."""
    good = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    cuts = sorted({0, len(text), *(s.start for s in good), *(s.end for s in good)})
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:]):
        cover = [s for s in good if s.start <= a and s.end >= b]
        seg = Segment(text[a:b])
        if cover:
            worst = max(cover, key=lambda s: _SEVERITY.get(s.cls, 1))
            seg.cls = worst.cls
            seg.tip = "; ".join(dict.fromkeys(s.tip for s in cover))
        seg.refs = [s.ref for s in good if s.end == b and s.ref is not None]
        out.append(seg)
    return out or [Segment(text)]


def _locate(text: str, needle: str, start: int = 0) -> Optional[tuple[int, int]]:
    """Where ``needle`` occurs in ``text`` (exactly, else ignoring case and runs of whitespace)."""
    if not needle:
        return None
    i = text.find(needle, start)
    if i < 0:
        i = text.find(needle)
    if i >= 0:
        return i, i + len(needle)
    pattern = r"\s+".join(re.escape(w) for w in needle.split())
    m = re.search(pattern, text, flags=re.IGNORECASE) if pattern else None
    return (m.start(), m.end()) if m else None


# --------------------------------------------------------------------------------------------
# the view of one item
# --------------------------------------------------------------------------------------------

@dataclass
class SystemCard:
    system: str
    index: int  # position of the system (its colour)
    prediction: Optional[Prediction]
    segments: list[Segment] = field(default_factory=list)
    quotes: list[QuoteView] = field(default_factory=list)
    numbers: list[NumberView] = field(default_factory=list)
    keypoints: list[KeyPointView] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)  # (metric family, pretty JSON)
    kp_threshold: Optional[float] = None

    @property
    def error(self) -> Optional[str]:
        if self.prediction is None:
            return "no prediction for this item"
        return None if self.prediction.ok else (self.prediction.error or "no summary")

    @property
    def unsupported(self) -> list[NumberView]:
        return [x for x in self.numbers if not x.supported]

    @property
    def fabricated(self) -> list[QuoteView]:
        """Counted quotes that are not verbatim (altered or not found)."""
        return [q for q in self.quotes if q.fabricated]


@dataclass
class ItemView:
    idx: int
    gold_id: str
    anchor: str
    item: Optional[GoldItem]
    cards: list[SystemCard]
    article: list[Segment]
    scores: dict[str, dict[str, Optional[float]]]  # system -> metric -> value

    @property
    def title(self) -> str:
        return (self.item.title if self.item and self.item.title else "") or self.gold_id

    @property
    def fabricated_by(self) -> list[str]:
        return [c.system for c in self.cards if c.fabricated]

    @property
    def failed(self) -> list[str]:
        return [c.system for c in self.cards if c.error]

    @property
    def kp_threshold(self) -> Optional[float]:
        return next((c.kp_threshold for c in self.cards if c.kp_threshold is not None), None)

    @property
    def coverage(self) -> list[tuple[str, list[Optional[KeyPointView]]]]:
        """Rows: each reference key point with every system's verdict on it (None: not scored)."""
        refs = list(self.item.key_points) if self.item else []
        for c in self.cards:
            refs += [k.key_point for k in c.keypoints if k.key_point not in refs]
        rows = []
        for i, kp in enumerate(refs):
            cells = []
            for c in self.cards:
                match = [k for k in c.keypoints if k.key_point == kp]
                if not match and len(c.keypoints) == len(refs):
                    match = [c.keypoints[i]]  # same order as the reference list
                cells.append(match[0] if match else None)
            rows.append((kp, cells))
        return rows if any(c for _, cells in rows for c in cells) else []


def anchor_for(gold_id: str, idx: int, taken: set[str]) -> str:
    """A fragment id for an item: readable and stable where the gold id allows, always unique."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", gold_id)[:60] or "item"
    anchor = f"item-{slug}"
    if anchor in taken:
        anchor = f"item-{slug}-{idx}"
    taken.add(anchor)
    return anchor


def build_item(idx: int, gold_id: str, anchor: str, item: Optional[GoldItem], systems: Sequence[str],
               predictions: Mapping[tuple[str, str], Prediction],
               details: Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]],
               scores: Mapping[str, dict[str, Optional[float]]]) -> ItemView:
    cards = []
    article_spans: list[Span] = []
    for si, system in enumerate(systems):
        pred = predictions.get((system, gold_id))
        fam = details.get((system, gold_id), {})
        card = SystemCard(system=system, index=si, prediction=pred,
                          quotes=quote_views(fam.get("quotes", {})), numbers=number_views(fam.get("numbers", {})),
                          keypoints=keypoint_views(fam.get("keypoints", {})))
        threshold = fam.get("keypoints", {}).get("threshold")
        card.kp_threshold = float(threshold) if isinstance(threshold, (int, float)) else None
        card.other = [(name, json.dumps(d, indent=1, ensure_ascii=False, default=str))
                      for name, d in fam.items() if name not in KNOWN_FAMILIES]
        summary = pred.summary if pred is not None and pred.summary else ""
        card.segments = highlight(summary, _summary_spans(summary, card, anchor))
        if item is not None:
            article_spans += _article_spans(item.article, card, anchor)
        cards.append(card)
    article = highlight(item.article, article_spans) if item is not None else []
    return ItemView(idx=idx, gold_id=gold_id, anchor=anchor, item=item, cards=cards, article=article,
                    scores={s: dict(scores.get(s, {})) for s in systems})


def quote_anchor(anchor: str, card: SystemCard, q: QuoteView) -> str:
    return f"{anchor}-s{card.index}-q{q.n}"


def _article_spans(article: str, card: SystemCard, anchor: str) -> list[Span]:
    spans = []
    for q in card.quotes:
        where = list(q.article_spans)
        if not where and q.verdict == "verbatim":
            where = [x for x in [_locate(article, q.text)] if x]
        if not where and q.closest and q.verdict == "altered":
            where = [x for x in [_locate(article, q.closest)] if x]
        tip = f"{card.system} Q{q.n}: {q.words}"
        for k, (start, end) in enumerate(where):  # fragments of an elided quote; the label after the last
            ref = Ref(f"{card.system} Q{q.n}", q.verdict, "#" + quote_anchor(anchor, card, q)) if k == len(where) - 1 else None
            spans.append(Span(start, end, q.verdict, tip, ref))
    return spans


def _summary_spans(summary: str, card: SystemCard, anchor: str) -> list[Span]:
    spans = []
    pos = 0
    for q in card.quotes:
        where = q.summary_span or _locate(summary, q.text, pos)
        if where is not None:
            pos = where[1]
            spans.append(Span(where[0], where[1], q.verdict, f"Q{q.n}: {q.words}",
                              Ref(f"Q{q.n}", q.verdict, "#" + quote_anchor(anchor, card, q))))
    pos = 0
    for x in card.numbers:
        if x.supported:
            continue
        where = x.summary_span or _locate(summary, x.text, pos)
        if where is not None:
            pos = where[1]
            spans.append(Span(where[0], where[1], "number-bad", f"unsupported number: {x.text}"))
    return spans


def is_finite(v: Optional[float]) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)
