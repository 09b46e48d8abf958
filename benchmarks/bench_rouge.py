"""Benchmark: ROUGE at native speed (issue 12), on SummEval's 1,600 (summary, references) pairs.

Two questions, each with 1 reference (the first) and 11 references per summary:

1. *Scoring*: the same prepared strings (one sentence per line, as the ``rouge`` metric
   hands them over) scored by a plain rouge-score loop (``RougeScorer.score`` per pair and
   reference) and by rouge-score-rs's batch call (the rust engine). Goal: >= 50x. The run
   checks the numbers are identical (every type, P/R/F).
2. *The whole metric*: ``rouge`` with a fresh run store (sentence preparation included:
   every distinct text split once) against a plain rouge-score loop over the raw texts (no
   splitting at all). Goal: >= 10x.

Variants run interleaved, ``--repeat`` rounds (median, min-max); an untimed round first.

    python benchmarks/bench_rouge.py [--repeat 3] [--pairs 1600]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import interleaved, load, ratio, spread
from summeval_data import summeval_rows

from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.rouge import ROUGE_TYPES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=1600)
    args = ap.parse_args()
    from rouge_score import rouge_scorer

    rows = summeval_rows(args.pairs)
    print(f"{len(rows)} SummEval pairs; {load()}")
    py = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    for n_refs in (1, 11):
        measure(rows, n_refs, py, args.repeat)


def measure(rows: list[dict], n_refs: int, py, repeat: int) -> None:
    pairs = [Pair(r["system_id"], r["doc_id"], r["summary"], r["source"], tuple(r["references"][:n_refs]))
             for r in rows]
    metric = build_metric("rouge", {"engine": "rust"})
    context = ScoringContext()
    prepared = [metric.prepare(p, context.texts) for p in pairs]
    flat_t = [t for targets, _ in prepared for t in targets]
    flat_p = [s for targets, s in prepared for _ in targets]
    rust = metric.scorer(context.texts)
    got: dict[str, list] = {}

    def python_prepared() -> None:
        got["python"] = [py.score(t, p) for t, p in zip(flat_t, flat_p)]

    def rust_prepared() -> None:
        got["rust"] = rust.score_batch(flat_t, flat_p)

    def metric_whole() -> None:  # a fresh store: every text split again, once
        build_metric("rouge").score(pairs, ScoringContext())

    def python_raw() -> None:
        for p in pairs:
            for ref in p.references:
                py.score(ref, p.summary)

    times = interleaved({"rouge-score loop, prepared": python_prepared, "rouge-score-rs, prepared": rust_prepared,
                         "evalkit rouge metric (splitting included)": metric_whole,
                         "rouge-score loop, raw texts": python_raw}, repeat)
    same = all(tuple(a[t]) == tuple(b[t]) for a, b in zip(got["python"], got["rust"]) for t in ROUGE_TYPES)
    n = len(pairs)
    print(f"\n{n_refs} reference(s): {len(flat_t)} (reference, summary) scores, {repeat} interleaved rounds")
    for name, ts in times.items():
        print(f"  {name:<44} {spread(ts)}  {n / statistics.median(ts):,.0f} pairs/s")
    print(f"  scoring, same prepared strings: rust {ratio(times['rouge-score loop, prepared'], times['rouge-score-rs, prepared'])}"
          f" the rouge-score loop (goal >= 50x); numbers identical: {same} "
          f"({len(flat_t) * len(ROUGE_TYPES) * 3:,} values)")
    print(f"  whole metric vs rouge-score loop on raw texts: "
          f"{ratio(times['rouge-score loop, raw texts'], times['evalkit rouge metric (splitting included)'])} (goal >= 10x)")

if __name__ == "__main__":
    main()
