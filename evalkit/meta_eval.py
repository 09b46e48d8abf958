"""Meta-evaluation: how well do metrics agree with human ratings?

Input: JSONL rows with ``doc_id``, ``system_id``, ``summary``, ``references`` (a list)
and/or ``source``, optional ``key_points`` (a list), and numeric human rating columns (the
shape of SummEval as in ``../shared/data/summeval.jsonl``). Every row becomes a
:class:`~evalkit.metrics.Pair` (references = the row's references, source = its source)
and is scored by the chosen metrics through the metric registry, all rows in one batch.

Correlations (scipy: Spearman ρ, Kendall τ-b, Pearson r):

- **summary level**: per document, correlate the systems' metric scores with their human
  scores; documents where either side is constant (or fewer than two systems have a
  score) are skipped; the per-document coefficients are averaged.
- **system level**: average each system's metric and human scores over the documents,
  then correlate the per-system means.

This is the protocol of SummEval / BARTScore / UniEval / G-Eval, whose published numbers
the tests reproduce (G-Eval Table 1, ROUGE rows, within 0.005).
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from evalkit.errors import InputError, UsageError
from evalkit.metrics import MetricRequest, Pair, ScoringContext, metric_class, parse_metrics
from evalkit.progress import Steps
from evalkit.scoring import Scorer, build_scorers, score_pairs

Level = Literal["summary", "system"]
COEFFICIENTS = ("spearman", "kendall", "pearson")


@dataclass(frozen=True)
class MetaRow:
    doc_id: str
    system_id: str
    summary: str
    references: tuple[str, ...]
    source: str
    key_points: tuple[str, ...]
    human: dict[str, float]


@dataclass
class Cell:
    metric: str
    human: str
    spearman: Optional[float]
    kendall: Optional[float]
    pearson: Optional[float]
    n: int  # documents averaged (summary level) or systems correlated (system level)
    skipped: int = 0  # documents skipped (constant side)


@dataclass
class MetaEvalResult:
    file: str
    level: str
    aggregate: str
    rows: int
    docs: int
    systems: int
    human: list[str]
    metrics: list[str]
    cells: list[Cell]
    metric_specs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def cell(self, metric: str, human: str) -> Cell:
        return next(c for c in self.cells if c.metric == metric and c.human == human)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file, "level": self.level, "aggregate": self.aggregate, "rows": self.rows,
            "docs": self.docs, "systems": self.systems, "human": self.human, "metrics": self.metrics,
            "correlations": [c.__dict__ for c in self.cells], "metric_specs": self.metric_specs,
            "notes": self.notes, "warnings": self.warnings,
        }


def _text(obj: dict[str, Any], key: str, path: str, line: int, required: bool = True) -> Optional[str]:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError("missing", path=path, line=line, field=key)
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("doc_id", "system_id"):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", path=path, line=line, field=key)
    return value


def _text_list(obj: dict[str, Any], key: str, path: str, line: int) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("must be a list of strings", path=path, line=line, field=key)
    return tuple(value)


def load_rows(path: str | Path, human: Sequence[str]) -> list[MetaRow]:
    """Read and validate the meta-evaluation file (errors name file, line and field)."""
    p = str(path)
    try:
        # .gz is read transparently (the SummEval fixture ships compressed)
        handle = (gzip.open(path, "rt", encoding="utf-8") if p.endswith(".gz")
                  else open(path, encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=p) from None
    rows: list[MetaRow] = []
    seen: dict[tuple[str, str], int] = {}
    with handle:
        for n, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg}, column {e.colno})", path=p, line=n) from None
            if not isinstance(obj, dict):
                raise InputError("a row must be a JSON object", path=p, line=n)
            doc, system = _text(obj, "doc_id", p, n), _text(obj, "system_id", p, n)
            summary = _text(obj, "summary", p, n)
            refs = _text_list(obj, "references", p, n)
            source = _text(obj, "source", p, n, required=False) or ""
            if not refs and not source:
                raise InputError("a row needs 'references' (a list) and/or 'source'", path=p, line=n, field="references")
            scores: dict[str, float] = {}
            for col in human:
                value = obj.get(col)
                if col not in obj:
                    raise InputError(f"human rating column missing (row keys: {', '.join(sorted(obj))})",
                                     path=p, line=n, field=col)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise InputError(f"human rating must be a finite number, got {value!r}", path=p, line=n, field=col)
                scores[col] = float(value)
            assert doc is not None and system is not None and summary is not None
            key = (doc, system)
            if key in seen:
                raise InputError(f"duplicate (doc_id, system_id) {key!r}, first on line {seen[key]}", path=p, line=n,
                                 field="system_id")
            seen[key] = n
            rows.append(MetaRow(doc, system, summary, refs, source, _text_list(obj, "key_points", p, n), scores))
    if not rows:
        raise InputError("no rows", path=p)
    return rows


def to_pairs(rows: Sequence[MetaRow]) -> list[Pair]:
    return [Pair(system=r.system_id, gold_id=r.doc_id, summary=r.summary, source=r.source,
                 references=r.references, key_points=r.key_points) for r in rows]


def with_aggregate(requests: Sequence[MetricRequest], aggregate: str) -> list[MetricRequest]:
    """Set ``multi_ref`` on every metric that has the option, unless given explicitly."""
    out = []
    for req in requests:
        if "multi_ref" in metric_class(req.family).Config.model_fields and "multi_ref" not in req.options:
            req = MetricRequest(req.family, {**req.options, "multi_ref": aggregate}, req.only)
        out.append(req)
    return out


def _coefficients(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    from scipy.stats import kendalltau, pearsonr, spearmanr

    return (float(spearmanr(x, y)[0]), float(kendalltau(x, y)[0]), float(pearsonr(x, y)[0]))


def _mean(values: list[float]) -> Optional[float]:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else None


def correlate(rows: Sequence[MetaRow], values: dict[str, list[float]], human: Sequence[str],
              level: Level) -> list[Cell]:
    """Cells (metric × human column); ``values[metric]`` is aligned with ``rows`` (NaN = no score)."""
    cells = []
    for metric, xs in values.items():
        for col in human:
            ys = [r.human[col] for r in rows]
            cells.append(_summary_cell(rows, xs, ys, metric, col) if level == "summary"
                         else _system_cell(rows, xs, ys, metric, col))
    return cells


def _summary_cell(rows: Sequence[MetaRow], xs: list[float], ys: list[float], metric: str, col: str) -> Cell:
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if not math.isnan(xs[i]):
            by_doc[r.doc_id].append(i)
    per_doc: list[tuple[float, float, float]] = []
    skipped = len({r.doc_id for r in rows}) - len(by_doc)
    for idx in by_doc.values():
        x, y = [xs[i] for i in idx], [ys[i] for i in idx]
        if len(idx) < 2 or len(set(x)) == 1 or len(set(y)) == 1:
            skipped += 1
            continue
        per_doc.append(_coefficients(x, y))
    spearman, kendall, pearson = (_mean([c[k] for c in per_doc]) for k in range(3))
    return Cell(metric, col, spearman, kendall, pearson, n=len(per_doc), skipped=skipped)


def _system_cell(rows: Sequence[MetaRow], xs: list[float], ys: list[float], metric: str, col: str) -> Cell:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for i, r in enumerate(rows):
        if not math.isnan(xs[i]):
            acc = sums[r.system_id]
            acc[0] += xs[i]
            acc[1] += ys[i]
            acc[2] += 1
    x = [a[0] / a[2] for a in sums.values()]
    y = [a[1] / a[2] for a in sums.values()]
    if len(x) < 3 or len(set(x)) == 1 or len(set(y)) == 1:
        return Cell(metric, col, None, None, None, n=len(x))
    return Cell(metric, col, *_coefficients(x, y), n=len(x))


#: what a row gives each Pair field a metric may read besides the summary (its name in the file)
_ROW_FIELDS = {"references": "references", "source": "source", "key_points": "key_points"}


def _check_inputs(path: str | Path, rows: Sequence[MetaRow], scorers: Sequence[Scorer]) -> None:
    """A metric with nothing to compare a summary against in any row is an input error naming
    what it reads, not a column of n/a correlations ("constant metric")."""
    for scorer in scorers:
        fields = [f for f in scorer.metric.reads if f in _ROW_FIELDS]
        if fields and not any(getattr(r, f) for r in rows for f in fields):
            wanted = " or ".join(f"'{_ROW_FIELDS[f]}'" for f in fields)
            raise InputError(f"metric {scorer.metric.family!r} reads {wanted}, but no row has any", path=str(path),
                             field=_ROW_FIELDS[fields[0]])


def run_meta_eval(path: str | Path, *, human: Sequence[str], metrics: str = "rouge", level: Level = "summary",
                  aggregate: str = "mean", progress: bool = False) -> MetaEvalResult:
    """Score every row with the chosen metrics and correlate each output with each human column
    (``progress``: show which metric is being scored, on a terminal)."""
    human = [h.strip() for h in human if h.strip()]
    if not human:
        raise UsageError("--human needs at least one rating column, e.g. --human coherence,relevance")
    if level not in ("summary", "system"):
        raise UsageError(f"--level must be summary or system, not {level!r}")
    if aggregate not in ("mean", "max"):
        raise UsageError(f"--aggregate must be mean or max, not {aggregate!r}")
    requests = with_aggregate(parse_metrics(metrics), aggregate)
    rows = load_rows(path, human)
    scorers = build_scorers(requests)
    _check_inputs(path, rows, scorers)
    context = ScoringContext()
    with Steps(f"meta-eval: scoring {len(rows)} summaries", enabled=progress) as steps:
        result = score_pairs(to_pairs(rows), scorers, context, on_metric=steps.on_metric)
    specs = [s.spec() for s in scorers]
    # a whole family correlates its headline outputs; named outputs are kept as asked
    names = [o for scorer, spec in zip(scorers, specs) for o in (spec.outputs if scorer.only else spec.headline)]
    scored = {(t.system, t.gold_id, t.metric): float(t.value) for t in result.scores.itertuples(index=False)}
    values = {name: [scored.get((r.system_id, r.doc_id, name), float("nan")) for r in rows] for name in names}
    return MetaEvalResult(
        file=str(path), level=level, aggregate=aggregate, rows=len(rows), docs=len({r.doc_id for r in rows}),
        systems=len({r.system_id for r in rows}), human=list(human), metrics=names,
        cells=correlate(rows, values, human, level), metric_specs=[s.model_dump(mode="json") for s in specs],
        notes=list(result.notes), warnings=list(result.warnings))
