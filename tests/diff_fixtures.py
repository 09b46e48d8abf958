"""Two pairs of real runs (``evalkit.score`` into run directories) for the diff report tests.

* ``news``: the shipped gold set (44 items) × lead and oracle. BASE: what the baselines write;
  NEW: the same summaries passed through ``sloppy`` of scripts/report_screenshot.py (a word
  changed inside the first quotation, a figure bumped, an invented quotation every third item).
* ``small``: the 3 articles of the HTML report fixture. BASE: the faithful summaries, and an XSS
  system whose summaries (and name) carry every payload; NEW: the sloppy summaries (an altered
  quote, an invented one, 5.25% for 4.75%, a key point dropped), other payloads, and a failed row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from report_fixtures import GOLD, PAYLOADS, SUMMARIES, XSS_SYSTEM, report_metrics

from evalkit.api import score
from evalkit.backends.registry import build_backend
from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.records import SystemSpec
from evalkit.run import Run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from report_screenshot import sloppy  # noqa: E402 - the screenshot script's deterministic damage

NEWS_METRICS = "rouge,quotes,numbers"
#: an XSS system's NEW summary of econ-01: a quotation that is itself a payload
XSS_NEW = {
    "econ-01": 'Rates rose to 4.75%. ' + " ".join(PAYLOADS[::-1]) + ' Marr said "<img src=x onerror=window.__pwned=40>".',
    "world/02 ü": "Talks collapsed. " + PAYLOADS[4] + " @everyone see http://evil.example/x #12",
    "sci-03": "The probe reached orbit. " + PAYLOADS[10],
}
#: the row that fails in NEW only
FAILED_NEW = ("faithful", "sci-03", "backend error: <script>window.__pwned=41</script> HTTP 503")


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def news_runs(directory: Path) -> tuple[Run, Run]:
    """BASE and NEW on the shipped gold set (44 items × lead, oracle)."""
    if (directory / "new" / "manifest.json").is_file():
        return Run.load(directory / "base"), Run.load(directory / "new")
    items = load_gold(SHIPPED_GOLD).items
    base = []
    for name in ("lead", "oracle"):
        backend = build_backend(SystemSpec(name=name, backend=name))
        base += [{"gold_id": it.id, "system": name, "summary": backend.summarize(it)} for it in items]
    new = [dict(r, summary=sloppy(r["summary"], n)) for n, r in enumerate(base)]
    runs = []
    for label, rows in (("base", base), ("new", new)):
        preds = _write(directory / f"{label}.jsonl", rows)
        runs.append(score(SHIPPED_GOLD, preds, NEWS_METRICS, out=directory / label))
    return runs[0], runs[1]


def small_runs(directory: Path) -> tuple[Run, Run]:
    """BASE and NEW on the report fixture's 3 articles, with payloads in both."""
    if (directory / "new" / "manifest.json").is_file():
        return Run.load(directory / "base"), Run.load(directory / "new")
    gold = _write(directory / "gold.jsonl", GOLD)
    config = directory / "evalkit.toml"
    config.write_text("[stats]\nmin_items = 2\n", encoding="utf-8")
    base = [{"gold_id": g, "system": s, "summary": t} for s in ("faithful", XSS_SYSTEM) for g, t in SUMMARIES[s].items()]
    new = [{"gold_id": g, "system": "faithful", "summary": t} for g, t in SUMMARIES["sloppy"].items()
           if g != FAILED_NEW[1]]
    new.append({"gold_id": FAILED_NEW[1], "system": FAILED_NEW[0], "summary": None, "error": FAILED_NEW[2]})
    new += [{"gold_id": g, "system": XSS_SYSTEM, "summary": t} for g, t in XSS_NEW.items()]
    runs = []
    for label, rows in (("base", base), ("new", new)):
        preds = _write(directory / f"{label}.jsonl", rows)
        runs.append(score(gold, preds, report_metrics(), out=directory / label, config=config))
    return runs[0], runs[1]
