"""A synthetic gold set of any size from SummEval's 100 CNN/DailyMail articles (for the scaling
benchmarks): item i is article i mod 100 with its sentences rotated by i div 100 places (so
every article text is distinct and as long as a real one) and, as key points, the sentences of
one of that article's 11 reference summaries (rotating through them)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMEVAL = ROOT / "tests" / "data" / "summeval.jsonl.gz"


def summeval_docs() -> list[dict]:
    docs: dict[str, dict] = {}
    with gzip.open(SUMMEVAL, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            docs.setdefault(row["doc_id"], row)
    return list(docs.values())


def synthetic_items(n: int) -> list[dict]:
    from evalkit.text import split_sentences

    docs = summeval_docs()
    sentences = [split_sentences(d["source_raw"]) for d in docs]
    items = []
    for i in range(n):
        k, shift = i % len(docs), i // len(docs)
        sents = sentences[k]
        shift %= max(len(sents), 1)
        ref = docs[k]["references"][shift % len(docs[k]["references"])]
        kps = [s.strip() + " ." for s in ref.split(" . ") if s.strip(" .")]
        items.append({"id": f"synth-{i:05d}", "article": " ".join(sents[shift:] + sents[:shift]),
                      "key_points": kps or [ref]})
    return items


def write_gold(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps(it) + "\n" for it in synthetic_items(n)), encoding="utf-8")
    return path
