"""Quotation extraction against a hand-checked annotation of the 100 SummEval articles
(`source_raw`): tests/data/summeval_quotes.jsonl, built by scripts/annotate_quotes.py (an
independent scanner, every disagreement with evalkit resolved by reading the article).

Issue 11: on main before it, recall was 0.559 (233 of 417 quotations; one span wrong).
"""

from __future__ import annotations

import json
from pathlib import Path

from summeval_data import summeval_rows

from evalkit.quotes import all_quotes

ANNOTATION = Path(__file__).resolve().parent / "data" / "summeval_quotes.jsonl"
MARKS = "'‘’\"“”"


def _articles() -> dict[str, str]:
    docs: dict[str, str] = {}
    for r in summeval_rows():
        docs.setdefault(r["doc_id"], r["source_raw"])
    return docs


def _annotation() -> dict[str, set[tuple[int, int]]]:
    with ANNOTATION.open(encoding="utf-8") as f:
        return {r["doc_id"]: {tuple(s) for s in r["spans"]} for r in map(json.loads, f)}


def test_annotation_is_well_formed():
    docs, gold = _articles(), _annotation()
    assert set(gold) == set(docs) and len(gold) == 100
    assert sum(map(len, gold.values())) > 400
    for doc_id, spans in gold.items():
        text = docs[doc_id]
        for s, e in spans:
            assert 0 <= s < e <= len(text) and text[s] in MARKS, (doc_id, s, e)
            assert text[e - 1] in MARKS or text[e - 1] in ".!?", (doc_id, text[s:e])  # a closing mark or a part's end


def test_extraction_precision_and_recall_on_real_articles():
    docs, gold = _articles(), _annotation()
    tp = fp = fn = 0
    misses, extras = [], []
    for doc_id, text in docs.items():
        got = {(q.start, q.end) for q in all_quotes(text)}
        tp += len(got & gold[doc_id])
        fp += len(got - gold[doc_id])
        fn += len(gold[doc_id] - got)
        misses += [text[s:e] for s, e in gold[doc_id] - got]
        extras += [text[s:e] for s, e in got - gold[doc_id]]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall, misses[:5], extras[:5])
