"""Gold files, commands and comparisons shared by the scale-out tests (merge, Ray executor)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.gold import SHIPPED_GOLD, load_gold

#: the files a merged or Ray run must reproduce byte for byte
RESULT_FILES = ("scores.csv", "scores.parquet", "details.jsonl", "summary.json", "comparisons.json")

#: articles in Cyrillic and Greek: the default ROUGE tokenizer drops their letters, so ROUGE warns
#: about the batch it scored ("... of N of M scored texts"), a statement that must be the whole run's
FOREIGN = [
    ("ru-1", "Городской совет утвердил бюджет в размере 5 миллионов долларов в понедельник. Жители сказали, "
             "что план «меняет всё» для 40 семей. Работы начнутся весной.", "Совет утвердил бюджет в 5 миллионов."),
    ("ru-2", "Новый мост через реку откроют в июле. Строительство стоило 12 миллионов долларов. "
             "Мэр назвал мост «символом города».", "Мост откроют в июле."),
    ("el-1", "Το δημοτικό συμβούλιο ενέκρινε τον προϋπολογισμό τη Δευτέρα. Οι κάτοικοι είπαν ότι το σχέδιο "
             "αλλάζει τα πάντα. Οι εργασίες ξεκινούν την άνοιξη.", "Εγκρίθηκε ο προϋπολογισμός."),
]


def write_gold(path: Path, n: int, *, foreign: bool = False, change: str | None = None) -> Path:
    """The first ``n`` items of the shipped gold set (plus the FOREIGN ones), as JSONL;
    ``change``: the id of an item whose article gets one more sentence (another gold set)."""
    items = [it.model_dump(mode="json", exclude_none=True) for it in load_gold(SHIPPED_GOLD).items[:n]]
    if foreign:
        items += [{"id": i, "article": a, "key_points": [k]} for i, a, k in FOREIGN]
    for it in items:
        if it["id"] == change:
            it["article"] += " One more sentence."
    path.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    return path


def evalkit(*args: object) -> tuple[int, str]:
    """``evalkit ARGS`` in this process: (exit code, stdout and stderr)."""
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def differing(a: Path, b: Path, names: tuple[str, ...] = RESULT_FILES) -> list[str]:
    """The result files that are not byte-identical in run directories ``a`` and ``b``
    (summary.json: but for the measured latencies, see ``without_latencies``)."""
    return [n for n in names if without_latencies(n, (a / n).read_bytes()) != without_latencies(n, (b / n).read_bytes())]


#: what summary.json measures rather than computes: the same inputs give other latencies
MEASURED = ("latency_p50", "latency_p95")


def without_latencies(name: str, data: bytes) -> bytes:
    """summary.json with each system's measured latency percentiles blanked (they must exist,
    and everything else, tokens and cost included, must stay byte-identical); other files as they are."""
    if name != "summary.json":
        return data
    text = data.decode("utf-8")
    summary = json.loads(text)
    for system in summary["systems"].values():
        assert system["usage"] is not None and all(k in system["usage"] for k in MEASURED), "usage not recorded"
    names = "|".join(MEASURED)
    pattern = rf'("(?:{names})": )(?:[0-9.e+-]+|null)'
    return re.sub(pattern, r"\1<measured>", text).encode("utf-8")


def journal(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines() if line.strip()]


_LATENCY = re.compile(r"\b\d+(?:\.\d+)? (?:ms|s)\b")
_LATENCY_SORT_KEY = re.compile(r'data-v="[0-9.e+-]*">(<latency>)')


def report_without_latencies(text: str) -> str:
    """report.md / report.html with the measured latencies of the usage table masked."""
    return _LATENCY_SORT_KEY.sub(r'data-v="">\1', _LATENCY.sub("<latency>", text))
