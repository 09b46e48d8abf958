"""What changed between two runs, item by item: the data of the diff report
(``evalkit compare BASE NEW --html diff.html --markdown diff.md``).

For each system the two runs share (as ``compare`` pairs them), every item both runs hold gets:

* the per-item change of each compared metric (NEW − BASE, and whether it is worse in the
  metric's recorded direction; descriptive outputs are never compared);
* the two summaries and a word-level diff of them (``difflib.SequenceMatcher`` over words);
* **faithfulness problems NEW has and BASE had not**: a quotation whose verdict got worse
  (``verbatim → not found``; a quotation NEW added that is not verbatim counts, from
  "(not in BASE)"), a figure newly unsupported by the article, a reference key point BASE
  covered and NEW misses. Quotations are paired across the two summaries by similarity
  (rapidfuzz), so an altered quotation is seen as the same quotation with a worse verdict;
* a **severity**: the sum over the compared metrics of the item's change in the better
  direction (so a drop counts negative), minus one for each new faithfulness problem (the
  most a 0–1 metric can lose). Items are sorted worst first: rows that failed in NEW only,
  then by severity, then by id. An item is "worse" when it failed in NEW only, has a new
  faithfulness problem, or its severity is below zero.

Statistics (Δ, CI, p per metric) are the comparison's (:func:`evalkit.compare.compare_runs`);
nothing here tests anything. ``top_regressions`` ranks items from per-item scores alone, for
the gate, whose baseline file holds scores but no summaries.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import Field

from evalkit.compare import Comparison
from evalkit.detail_views import keypoint_views, number_views, quote_views
from evalkit.records import SCHEMA_VERSION, Direction, GoldRef, Prediction, Record

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.run import Run

#: quote verdicts from best to worst
_VERDICT_RANK = {"verbatim": 0, "altered": 1, "not_found": 2}
#: two quotations are the same quotation when this similar (rapidfuzz ratio, 0-100)
QUOTE_MATCH = 60.0
_TOKENS = re.compile(r"\S+\s*")


class WordOp(Record):
    """One stretch of the word diff: ``equal`` (in both), ``delete`` (BASE only), ``insert``
    (NEW only) or ``replace`` (``a`` in BASE became ``b`` in NEW)."""

    op: Literal["equal", "delete", "insert", "replace"]
    a: str = ""
    b: str = ""


class MetricDelta(Record):
    metric: str
    direction: Direction
    a: Optional[float]
    b: Optional[float]
    delta: Optional[float]  # b - a (None: not applicable on a side)
    worse: bool


class QuoteChange(Record):
    """A quotation whose verdict got worse (``text_a`` None: NEW added it)."""

    text_a: Optional[str]
    text_b: str
    verdict_a: Optional[str]
    verdict_b: str
    closest: Optional[str] = None
    differs: Optional[str] = None


class FigureChange(Record):
    """A figure of NEW's summary the article does not support, which BASE did not get wrong."""

    text: str
    normalized: Optional[str] = None
    was: Literal["absent", "supported"]


class KeyPointChange(Record):
    """A reference key point BASE covered and NEW misses."""

    key_point: str
    similarity_a: Optional[float] = None
    similarity_b: Optional[float] = None
    sentence_b: Optional[str] = None


class ItemDiff(Record):
    gold_id: str
    title: str
    status: Literal["failed_new", "recovered", "both_failed", "scored"]
    severity: float
    error_a: Optional[str] = None
    error_b: Optional[str] = None
    summary_a: str = ""
    summary_b: str = ""
    words: list[WordOp] = Field(default_factory=list)
    deltas: list[MetricDelta] = Field(default_factory=list)
    quotes: list[QuoteChange] = Field(default_factory=list)
    figures: list[FigureChange] = Field(default_factory=list)
    key_points: list[KeyPointChange] = Field(default_factory=list)

    @property
    def problems(self) -> int:
        """New faithfulness problems: quotes, figures, key points."""
        return len(self.quotes) + len(self.figures) + len(self.key_points)

    @property
    def worse(self) -> bool:
        """Failed in NEW only, a new faithfulness problem, or a negative severity."""
        return self.status == "failed_new" or self.problems > 0 or self.severity < 0

    @property
    def changed(self) -> bool:
        return self.summary_a != self.summary_b or self.status != "scored"


class SystemDiff(Record):
    """One system of BASE against the same system of NEW: its items, worst first."""

    system_a: str
    system_b: str
    label: str
    items: list[ItemDiff]

    @property
    def counts(self) -> dict[str, int]:
        worse = sum(i.worse for i in self.items)
        better = sum(not i.worse and i.severity > 0 or i.status == "recovered" for i in self.items)
        return {"worse": worse, "better": better, "same": len(self.items) - worse - better}


class RunDiff(Record):
    """The diff report's data: the comparison (per metric Δ, CI, p) and per system every item's changes."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["evalkit-diff"] = "evalkit-diff"
    run_a: str
    run_b: str
    gold: GoldRef
    created_a: str
    created_b: str
    comparison: Comparison
    #: the metrics whose per-item changes make the severity (compared, with a direction)
    metrics: list[str]
    systems: list[SystemDiff]
    #: what was not checked (a metric family neither run scored), said in every rendering
    notes: list[str] = Field(default_factory=list)


def word_diff(a: str, b: str) -> list[WordOp]:
    """Word-level diff of two texts (words keep their trailing whitespace; compared without it)."""
    ta, tb = _TOKENS.findall(a), _TOKENS.findall(b)
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb], autojunk=False)
    ops: list[WordOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append(WordOp(op=tag, a="".join(ta[i1:i2]), b="".join(tb[j1:j2])))
    return ops


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').split())


def quote_changes(detail_a: Mapping[str, Any], detail_b: Mapping[str, Any]) -> list[QuoteChange]:
    """Quotations of NEW whose verdict is worse than the same quotation's in BASE (paired by similarity)."""
    from rapidfuzz import fuzz

    qa = [q for q in quote_views(detail_a) if q.counted]
    qb = [q for q in quote_views(detail_b) if q.counted]
    scored = sorted(((fuzz.ratio(_norm(x.text), _norm(y.text)), i, j) for i, x in enumerate(qa) for j, y in enumerate(qb)),
                    key=lambda t: (-t[0], t[1], t[2]))
    pair: dict[int, int] = {}
    used: set[int] = set()
    for score, i, j in scored:
        if score >= QUOTE_MATCH and i not in used and j not in pair:
            pair[j] = i
            used.add(i)
    out = []
    for j, q in enumerate(qb):
        before = qa[pair[j]] if j in pair else None
        rank_b = _VERDICT_RANK.get(q.verdict, 2)
        rank_a = _VERDICT_RANK.get(before.verdict, 2) if before is not None else 0
        if q.verdict != "verbatim" and (before is None or rank_b > rank_a):
            out.append(QuoteChange(text_a=before.text if before else None, text_b=q.text,
                                   verdict_a=before.verdict if before else None, verdict_b=q.verdict,
                                   closest=q.closest, differs=q.differs))
    return out


def figure_changes(detail_a: Mapping[str, Any], detail_b: Mapping[str, Any]) -> list[FigureChange]:
    """Figures NEW states that the article does not support, and BASE did not state wrongly."""
    fa = number_views(detail_a)
    bad_a = {(x.note or x.text) for x in fa if not x.supported}
    ok_a = {(x.note or x.text) for x in fa if x.supported}
    out, seen = [], set()
    for x in number_views(detail_b):
        key = x.note or x.text
        if x.supported or key in bad_a or key in seen:
            continue
        seen.add(key)
        out.append(FigureChange(text=x.text, normalized=x.note, was="supported" if key in ok_a else "absent"))
    return out


def keypoint_changes(detail_a: Mapping[str, Any], detail_b: Mapping[str, Any]) -> list[KeyPointChange]:
    """Reference key points BASE covered and NEW misses."""
    covered_a = {k.key_point: k for k in keypoint_views(detail_a) if k.covered}
    return [KeyPointChange(key_point=k.key_point, similarity_a=covered_a[k.key_point].similarity,
                           similarity_b=k.similarity, sentence_b=k.best_sentence)
            for k in keypoint_views(detail_b) if not k.covered and k.key_point in covered_a]


def _values(scores: pd.DataFrame, system: str, metrics: Sequence[str]) -> dict[str, dict[str, Optional[float]]]:
    sel = scores[(scores["system"] == system) & (scores["metric"].isin(list(metrics)))]
    out: dict[str, dict[str, Optional[float]]] = {}
    for gid, metric, value in sel[["gold_id", "metric", "value"]].itertuples(index=False):
        v = float(value)
        out.setdefault(str(gid), {})[str(metric)] = v if math.isfinite(v) else None
    return out


def metric_deltas(a: Mapping[str, Optional[float]], b: Mapping[str, Optional[float]],
                  directions: Mapping[str, Direction]) -> list[MetricDelta]:
    out = []
    for m, direction in directions.items():
        va, vb = a.get(m), b.get(m)
        delta = vb - va if va is not None and vb is not None else None
        worse = delta is not None and abs(delta) > 1e-12 and (delta < 0) == (direction == "higher")
        out.append(MetricDelta(metric=m, direction=direction, a=va, b=vb, delta=delta, worse=worse))
    return out


def severity(deltas: Sequence[MetricDelta], problems: int) -> float:
    """Σ change in the better direction over the compared metrics, minus one per new problem."""
    gain = sum((d.delta if d.direction == "higher" else -d.delta) for d in deltas if d.delta is not None)
    return round(gain - problems, 10)


def _order(item: ItemDiff) -> tuple[int, float, str]:
    return (0 if item.status == "failed_new" else 1, item.severity, item.gold_id)


def diff_runs(base: Run, new: Run, comparison: Comparison) -> RunDiff:
    """Every shared item of every compared system pair, worst first (see the module doc)."""
    if comparison.kind != "runs":
        raise ValueError("a diff report compares two runs: give compare_runs(base, new)")
    directions: dict[str, Direction] = {}
    for pair in comparison.pairs:
        for mc in pair.metrics:
            if mc.direction in ("higher", "lower"):
                directions[mc.metric] = mc.direction
    titles = {gid: (it.title or "") for gid, it in {**base.gold_items(), **new.gold_items()}.items()}
    preds_a = {(p.system, p.gold_id): p for p in base.predictions}
    preds_b = {(p.system, p.gold_id): p for p in new.predictions}
    det_a = _details(base)
    det_b = _details(new)
    # the families both runs scored (from their manifests: a metric with no detail to keep for
    # any item, e.g. quotes over summaries that quote nobody, was scored all the same)
    families = {m.name for m in base.manifest.metrics} & {m.name for m in new.manifest.metrics}
    systems = []
    for pair in comparison.pairs:
        sa, sb = pair.system_a, pair.system_b
        vals_a, vals_b = _values(base.scores, sa, list(directions)), _values(new.scores, sb, list(directions))
        ids_a = {g for (s, g) in preds_a if s == sa}
        ids = [g for g in dict.fromkeys(g for (s, g) in preds_b if s == sb) if g in ids_a]
        items = [_item(g, titles.get(g, ""), preds_a[(sa, g)], preds_b[(sb, g)], det_a.get((sa, g), {}),
                       det_b.get((sb, g), {}), vals_a.get(g, {}), vals_b.get(g, {}), directions) for g in ids]
        items.sort(key=_order)
        label = sa if sa == sb else f"{sa} → {sb}"
        systems.append(SystemDiff(system_a=sa, system_b=sb, label=label, items=items))
    notes = []
    for family, what in (("quotes", "quotation verdicts"), ("numbers", "figures"), ("keypoints", "key-point coverage")):
        if family not in families:
            notes.append(f"{what} not compared: metric {family!r} was not scored in both runs "
                         f"(add --metrics {family} to both)")
    return RunDiff(run_a=base.run_id, run_b=new.run_id, gold=new.manifest.gold, created_a=base.manifest.created,
                   created_b=new.manifest.created, comparison=comparison, metrics=list(directions), systems=systems,
                   notes=notes)


def _details(run: Run) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for d in run.details:
        out.setdefault((d.system, d.gold_id), {})[d.metric] = d.detail
    return out


def _item(gold_id: str, title: str, pa: Prediction, pb: Prediction, da: Mapping[str, Any], db: Mapping[str, Any],
          va: Mapping[str, Optional[float]], vb: Mapping[str, Optional[float]],
          directions: Mapping[str, Direction]) -> ItemDiff:
    status: Literal["failed_new", "recovered", "both_failed", "scored"]
    status = ("both_failed" if not pa.ok and not pb.ok else "failed_new" if not pb.ok
              else "recovered" if not pa.ok else "scored")
    item = ItemDiff(gold_id=gold_id, title=title, status=status, severity=0.0,
                    error_a=None if pa.ok else (pa.error or "no summary"), error_b=None if pb.ok else (pb.error or "no summary"),
                    summary_a=pa.summary or "", summary_b=pb.summary or "")
    if status != "scored":
        return item
    item.words = word_diff(item.summary_a, item.summary_b)
    item.deltas = metric_deltas(va, vb, directions)
    item.quotes = quote_changes(da.get("quotes", {}), db.get("quotes", {}))
    item.figures = figure_changes(da.get("numbers", {}), db.get("numbers", {}))
    item.key_points = keypoint_changes(da.get("keypoints", {}), db.get("keypoints", {}))
    item.severity = severity(item.deltas, item.problems)
    return item


# --------------------------------------------------------------------------------------------
# from per-item scores alone (the gate's baseline file)
# --------------------------------------------------------------------------------------------

class ScoreRegression(Record):
    """An item whose scores dropped against the baseline (per-item scores only: no summaries)."""

    system: str
    gold_id: str
    title: str = ""
    severity: float
    deltas: list[MetricDelta]


def top_regressions(base_scores: pd.DataFrame, scores: pd.DataFrame, systems: Sequence[str],
                    directions: Mapping[str, Direction], *, titles: Optional[Mapping[str, str]] = None,
                    k: int = 10) -> list[ScoreRegression]:
    """The ``k`` items that got most worse against the baseline's per-item scores, over ``directions``'
    metrics (severity as in the module doc, without faithfulness problems: no details to read)."""
    out = []
    for s in systems:
        va, vb = _values(base_scores, s, list(directions)), _values(scores, s, list(directions))
        for gid in vb:
            if gid not in va:
                continue
            deltas = metric_deltas(va[gid], vb[gid], directions)
            sev = severity(deltas, 0)
            if sev < 0:
                out.append(ScoreRegression(system=s, gold_id=gid, title=(titles or {}).get(gid, ""), severity=sev,
                                           deltas=[d for d in deltas if d.delta is not None]))
    out.sort(key=lambda r: (r.severity, r.system, r.gold_id))
    return out[:k]
