"""How well the quote checks hold on real newswire (issue 11): prints

1. quotation extraction against the hand-checked annotation of the 100 SummEval articles
   (tests/data/summeval_quotes.jsonl): precision, recall, and every miss or extra span;
2. the verdict confusion matrix of the quote-fidelity metric over perturbations of those
   quotations (tests/quote_perturbations.py): verbatim, typography only, ellipsis, word
   changed / dropped / inserted, number changed, negation, fabricated — with per-verdict
   precision and recall, and how often an altered verdict names the words that changed.

Run: .venv/bin/python benchmarks/quote_eval.py   (about 15 s)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from quote_perturbations import ANNOTATION, KINDS, cases, evaluate  # noqa: E402
from summeval_data import summeval_rows  # noqa: E402

from evalkit.quotes import all_quotes  # noqa: E402

VERDICTS = ("verbatim", "altered", "not_found", "extraction error")


def extraction() -> None:
    docs: dict[str, str] = {}
    for r in summeval_rows():
        docs.setdefault(r["doc_id"], r["source_raw"])
    with ANNOTATION.open(encoding="utf-8") as f:
        gold = {r["doc_id"]: {tuple(s) for s in r["spans"]} for r in map(json.loads, f)}
    tp = fp = fn = 0
    start = time.perf_counter()
    for doc_id, text in docs.items():
        got = {(q.start, q.end) for q in all_quotes(text)}
        for s, e in sorted(gold[doc_id] - got):
            print(f"  missed  {doc_id[:16]} {text[s:e][:100]!r}")
        for s, e in sorted(got - gold[doc_id]):
            print(f"  extra   {doc_id[:16]} {text[s:e][:100]!r}")
        tp += len(got & gold[doc_id])
        fp += len(got - gold[doc_id])
        fn += len(gold[doc_id] - got)
    seconds = time.perf_counter() - start
    print(f"extraction on {len(docs)} SummEval articles (source_raw): {tp + fn} annotated quotations, "
          f"{tp + fp} extracted, {tp} exact; precision {tp / (tp + fp):.4f}, recall {tp / (tp + fn):.4f} "
          f"({seconds:.2f} s)")


def verdicts() -> None:
    all_cases = cases()
    start = time.perf_counter()
    result = evaluate(all_cases)
    seconds = time.perf_counter() - start
    print(f"\nverdicts on {len(all_cases)} perturbations ({seconds:.1f} s); rows: expected, columns: got")
    print(f"{'':>12}" + "".join(f"{v:>18}" for v in VERDICTS))
    for expected in VERDICTS[:3]:
        row = result.confusion.get(expected, {})
        print(f"{expected:>12}" + "".join(f"{row.get(v, 0):>18}" for v in VERDICTS))
    for verdict in VERDICTS[:3]:
        p, r = result.precision_recall(verdict)
        print(f"  {verdict:<10} precision {p:.4f}  recall {r:.4f}")
    print("\nby perturbation:")
    for kind in KINDS:
        row = result.by_kind.get(kind, {})
        named = result.explained.get(kind)
        note = f"   change named in {named[0]}/{named[1]}" if named else ""
        print(f"  {kind:<14} n={sum(row.values()):>4}  " + ", ".join(f"{v} {n}" for v, n in sorted(row.items())) + note)
    for case, verdict in result.failures[:20]:
        print(f"  FAIL {case.kind} -> {verdict}: {case.summary[:140]!r}")


def main() -> None:
    extraction()
    verdicts()


if __name__ == "__main__":
    main()
