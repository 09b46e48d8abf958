"""A run's tables as pandas DataFrames (what ``Run.scores_df()``, ``wide_df()``,
``predictions_df()``, ``details_df()`` and ``summary_df()`` return).

Plain functions over the run's records; pandas is imported inside them, so importing evalkit
stays light. Column orders are fixed (``*_COLUMNS``) so that code written against one run
works on every run, including one whose table is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional

from evalkit.records import ItemDetail, MetricSpec, Prediction, RunSummary, recorded_direction

if TYPE_CHECKING:
    import pandas as pd

SCORE_COLUMNS = ["system", "gold_id", "metric", "value"]
PREDICTION_COLUMNS = ["system", "gold_id", "ok", "summary", "key_points", "error", "latency_s", "cached", "model",
                      "prompt_tokens", "completion_tokens", "finish_reason", "system_digest"]
#: one row per quote / figure / key point a metric judged (see :func:`details_frame`)
DETAIL_COLUMNS = ["system", "gold_id", "metric", "kind", "index", "verdict", "counted", "text", "match", "similarity",
                  "note", "summary_start", "summary_end", "article_start", "article_end"]
SUMMARY_COLUMNS = ["system", "metric", "direction", "mean", "ci_low", "ci_high", "n", "n_not_applicable"]


def scores_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """The tidy table (system, gold_id, metric, value; NaN = not applicable), as a copy."""
    out = scores.loc[:, SCORE_COLUMNS].reset_index(drop=True).copy()
    out["value"] = out["value"].astype("float64")
    return out


def wide_frame(scores: pd.DataFrame, predictions: Sequence[Prediction], metrics: Sequence[MetricSpec]) -> pd.DataFrame:
    """One row per (system, item) of the run, in run order (failed rows included: NaN scores),
    one column per metric output, in the order of the run's metric specs."""
    import pandas as pd

    order = list(dict.fromkeys((p.system, p.gold_id) for p in predictions))
    order += [k for k in dict.fromkeys(zip(scores["system"], scores["gold_id"])) if k not in set(order)]
    present = list(dict.fromkeys(scores["metric"]))
    outputs = [o for spec in metrics for o in spec.outputs if o in present]
    outputs += [m for m in present if m not in outputs]
    index = pd.MultiIndex.from_tuples(order, names=["system", "gold_id"]) if order else \
        pd.MultiIndex.from_arrays([[], []], names=["system", "gold_id"])
    if len(scores):
        wide = scores.pivot_table(index=["system", "gold_id"], columns="metric", values="value", aggfunc="first",
                                  dropna=False, sort=False)
        wide = wide.reindex(index=index, columns=outputs)
    else:
        wide = pd.DataFrame(index=index, columns=outputs, dtype="float64")
    wide.columns.name = None
    return wide.astype("float64").reset_index()


def predictions_frame(predictions: Sequence[Prediction]) -> pd.DataFrame:
    """One row per (system, item): the summary, its key points, error, latency, cache hit, and
    what the backend reported (model, token usage, finish reason)."""
    import pandas as pd

    rows = [{"system": p.system, "gold_id": p.gold_id, "ok": p.ok, "summary": p.summary, "key_points": list(p.key_points),
             "error": p.error, "latency_s": p.latency_s, "cached": p.cached, "model": p.model,
             "prompt_tokens": p.usage.prompt_tokens if p.usage else None,
             "completion_tokens": p.usage.completion_tokens if p.usage else None,
             "finish_reason": p.finish_reason, "system_digest": p.system_digest} for p in predictions]
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    for col in ("prompt_tokens", "completion_tokens"):
        frame[col] = frame[col].astype("Int64")
    frame["latency_s"] = frame["latency_s"].astype("float64")
    frame["ok"] = frame["ok"].astype(bool)
    frame["cached"] = frame["cached"].astype(bool)
    return frame


def summary_frame(summary: RunSummary) -> pd.DataFrame:
    """One row per (system, metric): mean, CI, n and the direction the run recorded."""
    import pandas as pd

    rows = [{"system": system, "metric": metric, "direction": recorded_direction(metric, summary.metrics),
             "mean": st.mean, "ci_low": st.ci_low, "ci_high": st.ci_high, "n": st.n,
             "n_not_applicable": st.n_not_applicable}
            for system, ss in summary.systems.items() for metric, st in ss.metrics.items()]
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for col in ("mean", "ci_low", "ci_high"):
        frame[col] = frame[col].astype("float64")
    return frame


# --------------------------------------------------------------------------------------------
# details: one row per judged element
# --------------------------------------------------------------------------------------------

def details_frame(details: Iterable[ItemDetail]) -> pd.DataFrame:
    """One row per quote, figure and key point a metric judged, with its verdict.

    ``kind``/``verdict``: ``quote`` (verbatim / altered / not_found; ``counted`` False for a
    quotation too short to count), ``figure`` (supported / unsupported) and ``key_point``
    (covered / missed). ``text`` is the quotation, the figure or the reference key point;
    ``match`` the closest article span (quotes), the article figure that supports it
    (figures) or the best summary sentence (key points); ``similarity`` its similarity (0-1);
    ``note`` what differs (quotes), the normalised value (figures). Offsets are character
    offsets into the summary and the article (None when there is none). Any metric whose item
    detail holds ``quotes``, ``figures`` or ``key_points`` lists of this shape is read the same
    way (plug-ins included).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for d in details:
        base = {"system": d.system, "gold_id": d.gold_id, "metric": d.metric}
        for kind, key, reader in _READERS:
            for i, element in enumerate(_elements(d.detail, key), 1):
                rows.append({**base, "kind": kind, "index": i, **reader(element)})
    frame = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    frame["similarity"] = frame["similarity"].astype("float64")
    for col in ("summary_start", "summary_end", "article_start", "article_end"):
        frame[col] = frame[col].astype("Int64")
    frame["index"] = frame["index"].astype("int64")
    frame["counted"] = frame["counted"].astype(bool)
    return frame


def _elements(detail: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    found = detail.get(key)
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def _span(value: Any) -> tuple[Optional[int], Optional[int]]:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return None, None


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _quote(q: Mapping[str, Any]) -> dict[str, Any]:
    s_start, s_end = _span(q.get("summary_span"))
    a_start, a_end = _span(q.get("article_span"))
    return {"verdict": str(q.get("verdict", "")), "counted": bool(q.get("counted", True)), "text": _text(q.get("text")),
            "match": _text(q.get("closest")), "similarity": _number(q.get("similarity")),
            "note": _text(q.get("differs") or q.get("note")), "summary_start": s_start, "summary_end": s_end,
            "article_start": a_start, "article_end": a_end}


def _figure(f: Mapping[str, Any]) -> dict[str, Any]:
    s_start, s_end = _span(f.get("summary_span"))
    a_start, a_end = _span(f.get("article_span"))
    return {"verdict": "supported" if f.get("supported") else "unsupported", "counted": True,
            "text": _text(f.get("text")), "match": _text(f.get("article_text")), "similarity": None,
            "note": _text(f.get("normalized")), "summary_start": s_start, "summary_end": s_end,
            "article_start": a_start, "article_end": a_end}


def _key_point(k: Mapping[str, Any]) -> dict[str, Any]:
    return {"verdict": "covered" if k.get("covered") else "missed", "counted": True,
            "text": _text(k.get("key_point") or k.get("text")), "match": _text(k.get("best_sentence")),
            "similarity": _number(k.get("similarity")), "note": None, "summary_start": None, "summary_end": None,
            "article_start": None, "article_end": None}


_READERS = (("quote", "quotes", _quote), ("figure", "figures", _figure), ("key_point", "key_points", _key_point))
