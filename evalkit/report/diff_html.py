"""The diff report as one self-contained HTML file (``evalkit compare BASE NEW --html diff.html``):
per metric the change with its CI and p, then every item both runs hold, worst first, each with
the two summaries side by side (words only in BASE struck out, words only in NEW marked), the
quotes whose verdict got worse, figures newly unsupported and key points newly missed.

The same standards as report.html (see html.py): the same stylesheet, autoescaped Jinja2
templates with no ``|safe`` data, the JSON island escaped by ``script_json``, no network at
view time, readable without JavaScript (the script only filters, sorts and opens items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.report.diff_markdown import changes_text, worst_items
from evalkit.report.drilldown import anchor_for
from evalkit.report.html import environment, script_json
from evalkit.report.textsafe import visible_controls

if TYPE_CHECKING:
    from evalkit.diff import ItemDiff, RunDiff, SystemDiff

_OUTCOME = {"b_better": ("better", "NEW better"), "a_better": ("worse", "NEW worse"), "differ": ("ns", "differ"),
            "no_difference": ("ns", "n.s."), "too_few_items": ("few", "too few items"), "no_items": ("few", "no items")}


def render_diff_html(diff: RunDiff) -> str:
    """The diff report of ``diff`` as one HTML string."""
    taken: set[str] = set()
    rows: list[dict[str, Any]] = []
    for si, system in enumerate(diff.systems):
        for item in system.items:
            rows.append(_row(si, system, item, taken))
    rows.sort(key=lambda r: r["order"])
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    metrics = [{"label": p.system_a if p.system_a == p.system_b else f"{p.system_a} → {p.system_b}",
                "rows": [{"m": m, "cls": _OUTCOME[m.outcome][0], "word": _OUTCOME[m.outcome][1]} for m in p.metrics]}
               for p in diff.comparison.pairs]
    counts = {s.label: s.counts for s in diff.systems}
    context = {
        "diff": diff, "comparison": diff.comparison, "metrics": metrics, "rows": rows, "counts": counts,
        "systems": [s.label for s in diff.systems], "worse": len(worst_items(diff.systems)),
        "data": script_json({"items": [{"anchor": r["anchor"], "system": r["system"], "worse": r["worse"],
                                        "id": r["item"].gold_id, "title": r["item"].title} for r in rows]}),
    }
    return visible_controls(environment().get_template("diff.html.j2").render(**context), bidi=False)


def _row(si: int, system: SystemDiff, item: ItemDiff, taken: set[str]) -> dict[str, Any]:
    tags = []
    if item.status == "failed_new":
        tags.append(("bad", "failed in NEW"))
    if item.status == "recovered":
        tags.append(("good", "failed in BASE only"))
    if item.quotes:
        tags.append(("bad", f"quote no longer verbatim × {len(item.quotes)}"))
    if item.figures:
        tags.append(("bad", f"figure newly unsupported × {len(item.figures)}"))
    if item.key_points:
        tags.append(("bad", f"key point newly missed × {len(item.key_points)}"))
    return {"item": item, "system": system.label, "swatch": si % 8,
            "anchor": anchor_for(f"{system.label}-{item.gold_id}", len(taken), taken),
            "order": (0 if item.status == "failed_new" else 1, item.severity, system.label, item.gold_id),
            "worse": item.worse, "better": not item.worse and (item.severity > 0 or item.status == "recovered"),
            "tags": tags, "what": changes_text(item.deltas, item, limit=4, text=str) if item.worse else ""}
