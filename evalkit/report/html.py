"""The HTML report: one self-contained file (every style, script and chart inline, no network at
view time) with the overview, leaderboard, charts, pairwise significance and every article
drilled down.

Safety: the Jinja2 environment autoescapes everything (the template is ``.html.j2``, so
autoescape is switched on explicitly, not by file extension); no template marks data
``|safe``. The only pre-built markup is the SVG from ``charts.py`` (built with
``Markup.format``, which escapes every argument) and the JSON island for the script, escaped
for a ``<script>`` context by ``script_json``. The page reads fine with JavaScript disabled:
all content is in the HTML, the script only sorts, filters and opens articles.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import jinja2
from markupsafe import Markup, escape

from evalkit.compare import headline_metrics
from evalkit.comparison_records import RunComparisons
from evalkit.comparisons import NOT_RECORDED, too_few_n, too_few_text
from evalkit.records import Direction, Prediction, RunSummary, recorded_direction
from evalkit.report import charts
from evalkit.report.drilldown import ItemView, anchor_for, build_item, is_finite, quote_anchor
from evalkit.report.markdown import split_notes
from evalkit.report.textsafe import visible_controls
from evalkit.stats import error_text, fmt_num, fmt_p
from evalkit.subset import describe, describe_merge
from evalkit.usage import fmt_cost, fmt_latency, fmt_tokens, has_usage

if TYPE_CHECKING:
    from evalkit.run import Run

#: the significance matrices show every pair up to this many systems (all are in comparisons.json)
MAX_MATRIX_SYSTEMS = 8
TEMPLATES = Path(__file__).resolve().parent / "templates"
_JSON_CONTROLS = re.compile("[\x7f-\x9f]")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, digits=3: fmt_num(v, digits=digits) if is_finite(v) else "n/a"
    env.filters["pval"] = fmt_p
    env.filters["pretty"] = lambda v: json.dumps(v, indent=1, ensure_ascii=False, sort_keys=True, default=str)
    env.filters["breakable"] = breakable
    env.globals["quote_anchor"] = quote_anchor
    return env


def breakable(name: object) -> Markup:
    """A metric name that may wrap after its underscores (``quote_<wbr>fidelity``), escaped."""
    return Markup("_<wbr>").join(escape(part) for part in str(name).split("_"))


def script_json(data: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` can
    end the element or open a comment; U+2028/9, DEL and the C1 controls (C0 controls are
    escaped by ``json.dumps``) are escaped too. ``JSON.parse`` reads it back."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(_JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def render_run_html(run: Run) -> str:
    """The report of a run as one HTML string (articles from the run's gold set).

    Every star, ▼ and significance cell comes from the run's comparisons.
    """
    manifest, summary, comparisons = run.manifest, run.summary, run.comparisons
    scores, predictions, details = run.scores, run.predictions, run.details
    gold_items, notes = run.gold_items(), run.gold_notes + run.notes
    warnings, info = split_notes(run.summary)
    systems = list(summary.systems) or list(dict.fromkeys(p.system for p in predictions))
    specs = summary.metrics or manifest.metrics
    present = list(dict.fromkeys(scores["metric"]))
    headline = headline_metrics(specs, present) if present else []
    directions = {m: recorded_direction(m, specs) for m in present}
    notes += [f"{m}: {why}" for m, why in comparisons.not_compared.items() if why == NOT_RECORDED and len(systems) > 1]

    # per-item scores: gold_id -> system -> metric -> value
    item_scores: dict[str, dict[str, dict[str, Optional[float]]]] = {}
    for system, gid, metric, value in scores[["system", "gold_id", "metric", "value"]].itertuples(index=False):
        item_scores.setdefault(str(gid), {}).setdefault(system, {})[metric] = float(value) if math.isfinite(value) else None
    pred_by_key = {(p.system, p.gold_id): p for p in predictions}
    det_by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for d in details:
        det_by_key.setdefault((d.system, d.gold_id), {})[d.metric] = d.detail

    order = [g for g in gold_items if any((s, g) in pred_by_key for s in systems)] if gold_items else []
    order += [g for g in dict.fromkeys(p.gold_id for p in predictions) if g not in set(order)]
    taken: set[str] = set()
    items = [build_item(i, g, anchor_for(g, i, taken), gold_items.get(g), systems, pred_by_key, det_by_key,
                        item_scores.get(g, {})) for i, g in enumerate(order)]
    if gold_items and any(v.item is None for v in items):
        notes.append("Some predicted items are not in the gold file: their articles are not shown.")

    ranked = [m for m in headline if directions.get(m) in ("higher", "lower")]
    context = {
        "manifest": manifest, "summary": summary, "systems": systems, "headline": headline, "ranked": ranked,
        "all_metrics": [m for m in present if any(m in s.metrics for s in summary.systems.values())],
        "directions": directions, "items": items, "notes": notes + warnings, "info_notes": info,
        "subset": describe(manifest.selection), "merged": describe_merge(manifest.merged_from),
        "leaderboard": leaderboard(summary, systems, comparisons), "usage": usage_rows(summary, systems),
        "errors": error_lists(predictions, systems),
        "means_charts": [means_chart(summary, systems, m) for m in headline],
        "dist_charts": [distribution_chart(items, systems, m) for m in headline],
        "matrices": significance_matrices(comparisons, systems) if len(systems) <= MAX_MATRIX_SYSTEMS else [],
        "comparisons": comparisons,
        "matrix_skipped": len(systems) > MAX_MATRIX_SYSTEMS,
        "data": script_json(client_data(items, systems, ranked, directions)),
    }
    # C0/C1 control characters from names, messages or articles (other than whitespace) are parse
    # errors in HTML: write them as visible escapes, wherever they landed (text, attributes, SVG)
    return visible_controls(environment().get_template("report.html.j2").render(**context), bidi=False)


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------

def leaderboard(summary: RunSummary, systems: Sequence[str], comparisons: RunComparisons) -> dict[str, Any]:
    """Rows of (system, stats per metric, counts) and, per metric, each system's standing against
    the column's best as recorded in comparisons.json (best / tied / worse / too few items)."""
    standing: dict[str, dict[str, str]] = {}
    few: dict[str, dict[str, str]] = {}
    for mc in comparisons.metrics:
        standing[mc.metric] = dict(mc.versus_best)
        few[mc.metric] = {s: too_few_text(too_few_n(summary, mc, s, comparisons.min_items))
                          for s, v in mc.versus_best.items() if v == "too_few_items"}
    rows = []
    for s in systems:
        ss = summary.systems.get(s)
        rows.append({"system": s, "stats": ss.metrics if ss else {}, "n_items": ss.items if ss else 0,
                     "ok": ss.ok if ss else 0, "failed": ss.failed if ss else 0, "cached": ss.cached if ss else 0})
    return {"rows": rows, "standing": standing, "few": few}


def usage_rows(summary: RunSummary, systems: Sequence[str]) -> list[dict[str, Any]]:
    """Per system the usage cells (tokens, latency p50/p95, cost) as shown; empty without usage."""
    if not has_usage(summary):
        return []
    rows = []
    for s in systems:
        ss = summary.systems.get(s)
        u = ss.usage if ss else None
        rows.append({"system": s, "prompt": fmt_tokens(u.prompt_tokens if u else None),
                     "completion": fmt_tokens(u.completion_tokens if u else None),
                     "p50": fmt_latency(u.latency_p50 if u else None), "p95": fmt_latency(u.latency_p95 if u else None),
                     "cost": fmt_cost(u), "models": ", ".join(u.models) if u else "",
                     "values": {"prompt": u.prompt_tokens if u else None, "completion": u.completion_tokens if u else None,
                                "p50": u.latency_p50 if u else None, "p95": u.latency_p95 if u else None,
                                "cost": u.cost_usd if u else None}})
    return rows


def error_lists(predictions: Sequence[Prediction], systems: Sequence[str]) -> list[tuple[str, list[tuple[str, int, list[str]]]]]:
    """Per system with failures: each distinct error message (as summary.json words it), how
    often, on which items; most frequent first, ties by message (the order of summary.json)."""
    out = []
    for s in systems:
        by_msg: dict[str, list[str]] = {}
        for p in predictions:
            if p.system == s and not p.ok:
                by_msg.setdefault(error_text(p), []).append(p.gold_id)
        if by_msg:
            out.append((s, [(msg, len(ids), ids) for msg, ids in sorted(by_msg.items(), key=lambda kv: (-len(kv[1]), kv[0]))]))
    return out


def means_chart(summary: RunSummary, systems: Sequence[str], metric: str) -> tuple[str, Markup]:
    rows = []
    for s in systems:
        st = summary.systems[s].metrics.get(metric) if s in summary.systems else None
        rows.append(charts.MeanCI(s, st.mean if st else None, st.ci_low if st else None,
                                  st.ci_high if st else None, st.n if st else 0))
    return metric, charts.means_chart(metric, rows, summary.confidence)


def distribution_chart(items: Sequence[ItemView], systems: Sequence[str], metric: str) -> tuple[str, Markup]:
    series = []
    for s in systems:
        values = [(v, v.scores.get(s, {}).get(metric)) for v in items]
        series.append((s, [charts.Point(x, v.gold_id, "#" + v.anchor) for v, x in values if x is not None and is_finite(x)]))
    return metric, charts.distribution_chart(metric, series)


def significance_matrices(comparisons: RunComparisons, systems: Sequence[str]) -> list[dict[str, Any]]:
    """Per compared metric, a systems × systems grid from comparisons.json: cell (row R, column C)
    holds R − C (mean over the items both scored), the Holm-adjusted p and whether R is
    significantly better or worse; pairs with too few shared items say so."""
    out = []
    for mc in comparisons.metrics:
        grid = []
        for r in systems:
            row: list[Optional[dict[str, Any]]] = []
            for c in systems:
                p = mc.pair(r, c) if r != c else None
                if r == c:
                    row.append(None)
                    continue
                if p is None or p.delta is None:
                    row.append({"delta": None, "p": None, "state": "na", "n": 0 if p is None else p.n})
                    continue
                sign = 1.0 if p.system_b == r else -1.0  # stored as B − A
                if p.outcome in ("too_few_items", "no_items"):
                    row.append({"delta": sign * p.delta, "p": None, "state": "few", "n": p.n,
                                "text": too_few_text(p.n)})
                    continue
                state = "ns"
                if p.outcome in ("a_better", "b_better"):
                    r_better = (p.outcome == "b_better") == (p.system_b == r)
                    state = "better" if r_better else "worse"
                row.append({"delta": sign * p.delta, "p": p.p_adjusted, "p_raw": p.p_value, "state": state, "n": p.n})
            grid.append((r, row))
        out.append({"metric": mc.metric, "direction": mc.direction, "family": mc.family, "grid": grid})
    return out


def client_data(items: Sequence[ItemView], systems: Sequence[str], metrics: Sequence[str],
                directions: dict[str, Optional[Direction]]) -> dict[str, Any]:
    """What the filters need: per item its id, title, anchor, systems with a fabricated quote,
    and per system the scores of the ranked headline metrics (null = not applicable or failed);
    descriptive metrics are not offered to the "lost to" filter."""
    return {
        "systems": list(systems),
        "metrics": [{"name": m, "higher": directions.get(m) == "higher"} for m in metrics],
        "items": [{"id": v.gold_id, "title": v.title, "anchor": v.anchor, "fab": v.fabricated_by,
                   "scores": {s: [v.scores.get(s, {}).get(m) for m in metrics] for s in systems}} for v in items],
    }
