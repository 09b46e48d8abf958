"""A small real run directory for the HTML report tests, made by ``evalkit score``'s library
function (gold file + predictions file -> scoring -> summary -> reports), with summaries that
quote verbatim, alter a quote, invent one, misstate a figure, fail, and carry XSS payloads.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.api import score
from evalkit.plugins import discover
from evalkit.rundir import RunDir

#: every payload sets window.__pwned and/or logs PWNED if it ever runs
PAYLOADS = [
    '<script>window.__pwned=1;console.log("PWNED")</script>',
    '<img src=x onerror="window.__pwned=2;console.log(\'PWNED\')">',
    '"><img src=x onerror=window.__pwned=3>',
    "<svg onload=\"window.__pwned=4\"><circle r=5></circle></svg>",
    '<a id="jslink" href="javascript:window.__pwned=5">click me</a>',
    "</textarea><script>window.__pwned=6</script>",
    "</script><script>window.__pwned=7</script>",
    "{{7*7}} {% raw %} ${7*7} #{7*7}",
    '<iframe src="javascript:window.__pwned=9"></iframe>',
    "<input autofocus onfocus=\"window.__pwned=10\">",
    "' onmouseover='window.__pwned=11' x='",
    "<details open ontoggle=\"window.__pwned=12\">x</details>",
    "<!-- <style>body{display:none}</style> -->",
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=14">',
    "\u2028\u2029</title><body onload=window.__pwned=15>",
]
XSS_SYSTEM = 'x"><svg onload=window.__pwned=20>'

GOLD = [
    {"id": "econ-01", "title": "Central bank raises rates to 4.75%",
     "article": ("The central bank raised its main interest rate to 4.75% on Thursday, the fourth rise this year.\n\n"
                 "Governor Ilse Marr said: \"Inflation is still too high and we will not hesitate to act again.\" "
                 "Prices rose 6.2% in the year to March, well above the 2% target.\n\n"
                 "Economists had expected the move. \"It was fully priced in,\" said analyst Tom Berg."),
     "key_points": ["The central bank raised its rate to 4.75%.", "Inflation was 6.2% against a 2% target.",
                    "The governor said the bank would act again if needed."]},
    {"id": "world/02 ü", "title": "Talks <b>collapse</b> & ministers walk out",
     "article": ("Peace talks collapsed on Monday after 11 days when both delegations walked out.\n\n"
                 "\"We came in good faith and leave with nothing,\" the lead negotiator, Ana Ruiz, told reporters. "
                 "Mediators said 3 of the 5 chapters had been agreed before the breakdown."),
     "key_points": ["Peace talks collapsed after 11 days.", "Three of five chapters had been agreed."]},
    {"id": "sci-03", "title": "Probe reaches the outer moon",
     "article": ("The probe entered orbit around the outer moon on Friday after a journey of seven years and "
                 "1.2 billion kilometres. \"Every system is working,\" said mission chief Lena Ko.\n\n"
                 "The mission cost $480m and is expected to send data until 2031."),
     "key_points": ["The probe reached orbit after seven years.", "The mission cost $480m."]},
]

SUMMARIES = {
    "faithful": {
        "econ-01": ("The central bank raised its rate to 4.75%. Governor Ilse Marr said: \"Inflation is still too "
                    "high and we will not hesitate to act again.\" Prices rose 6.2%."),
        "world/02 ü": "Talks collapsed after 11 days. \"We came in good faith and leave with nothing,\" said Ana Ruiz.",
        "sci-03": "The probe reached orbit after seven years. \"Every system is working,\" said Lena Ko.",
    },
    "sloppy": {
        "econ-01": ("The bank raised rates to 5.25%. Marr said: \"Inflation is far too high and we will not hesitate "
                    "to act again.\" She added: \"Rates will fall next year.\""),
        "world/02 ü": "Talks collapsed after 11 days; 4 of the 5 chapters had been agreed.",
        "sci-03": "The probe reached orbit. The mission cost $480m.",
    },
    "fails": {
        "econ-01": "The central bank raised its rate to 4.75%, the fourth rise this year.",
        "sci-03": "The probe entered orbit on Friday.",
    },
    XSS_SYSTEM: {
        "econ-01": "Bank raised rates to 4.75%. " + " ".join(PAYLOADS) + ' It said "<script>window.__pwned=21</script>".',
        "world/02 ü": "Talks collapsed. " + PAYLOADS[0],
        "sci-03": "The probe reached orbit. " + PAYLOADS[2],
    },
}
#: the one failed row (its error message carries a payload too)
FAILED = ("fails", "world/02 ü", "backend error: <img src=x onerror=window.__pwned=30> HTTP 500")
WANTED_METRICS = ("rouge", "quotes", "numbers", "keypoints", "extractiveness")


def report_metrics() -> str:
    """The metrics the report is tested with: every wanted family this installation has."""
    have = discover("evalkit.metrics")
    return ",".join(m for m in WANTED_METRICS if m in have)


def write_inputs(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    gold = directory / "gold.jsonl"
    gold.write_text("".join(json.dumps(g) + "\n" for g in GOLD), encoding="utf-8")
    preds = directory / "predictions.jsonl"
    rows = [{"gold_id": gid, "system": system, "summary": text}
            for system, by_id in SUMMARIES.items() for gid, text in by_id.items()]
    rows.append({"gold_id": FAILED[1], "system": FAILED[0], "summary": None, "error": FAILED[2]})
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return gold, preds


#: the fixture has 3 articles: compare systems sharing at least 2 (evalkit.toml [stats] min_items)
MIN_ITEMS = 2


def make_report_run(directory: Path, metrics: str | None = None) -> RunDir:
    """Score the fixture predictions into ``directory/run`` (writes comparisons.json, report.md and
    report.html too), with a config file setting ``[stats] min_items``."""
    gold, preds = write_inputs(directory / "inputs")
    config = directory / "inputs" / "evalkit.toml"
    config.write_text(f"[stats]\nmin_items = {MIN_ITEMS}\n", encoding="utf-8")
    run = score(gold, preds, metrics or report_metrics(), out=directory / "run", config=config)
    assert run.path is not None
    return RunDir.open(run.path)


def shared_report_run(tmp_path_factory) -> RunDir:
    """One fixture run per test session (scoring loads the key-point model once), shared by
    the report test modules; each test must treat it as read-only."""
    directory = tmp_path_factory.getbasetemp() / "report-run"
    if (directory / "run" / "report.html").is_file():
        return RunDir.open(directory / "run")
    return make_report_run(directory)
