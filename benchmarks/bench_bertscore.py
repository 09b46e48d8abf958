"""Benchmark: evalkit's BERTScore over 5 systems × the shipped gold set, against calling
bert-score once per system with the same model.

Systems: lead-1 … lead-5 (``evalkit.backends.extractive.Lead``). References: each item's
key points joined by newlines (as ``evalkit run`` scores them). Both sides use the same
loaded model (the packaged all-MiniLM-L6-v2 by default, layer 6, batch size 64); model
loading is timed separately and excluded from both.

- naive: ``BERTScorer.score(cands, refs)`` once per system, so every system re-embeds the
  references of every article;
- evalkit: ``BertScore.score(all 5 systems' pairs)`` with a fresh ScoringContext, which
  embeds each distinct text once (the references once for all systems).

The ratio's ceiling is (5 × (refs + cands)) / (refs + 5 × cands) in tokens; the script
prints it. It also checks that both give the same numbers (max |Δ| over all items).

    python benchmarks/bench_bertscore.py [--gold evalkit/data/gold/news-v1.jsonl] [--repeat 3] [--model PATH_OR_ID]

Each side runs ``--repeat`` times; the median is the headline (best shown too), since a
shared machine only ever adds time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.backends.extractive import Lead  # noqa: E402
from evalkit.gold import load_gold  # noqa: E402
from evalkit.metrics import Pair, ScoringContext  # noqa: E402
from evalkit.metrics.bertscore import BertScore, BertScoreConfig  # noqa: E402
from evalkit.metrics.embeddings import TextEncoder  # noqa: E402
from evalkit.records import Prediction  # noqa: E402
from evalkit.scoring import make_pairs  # noqa: E402


def system_pairs(gold_path: str) -> dict[str, list[Pair]]:
    gold = load_gold(gold_path)
    out = {}
    for k in range(1, 6):
        backend = Lead(Lead.Options(k=k))
        preds = [Prediction(gold_id=item.id, system=f"lead{k}", summary=backend.summarize(item)) for item in gold.items]
        out[f"lead{k}"] = make_pairs(gold, preds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(ROOT / "evalkit" / "data" / "gold" / "news-v1.jsonl"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=None, help="model id or path (default: the packaged MiniLM)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch
    from bert_score import BERTScorer

    systems = system_pairs(args.gold)
    all_pairs = [p for pairs in systems.values() for p in pairs]
    metric = BertScore(BertScoreConfig(model=args.model, device=args.device))
    ref = metric.model_ref

    t = time.perf_counter()
    naive_scorer = BERTScorer(model_type=ref.location, num_layers=metric.num_layers, lang="en", device=args.device)
    load_naive = time.perf_counter() - t
    t = time.perf_counter()
    warm = ScoringContext()
    metric.score(all_pairs[:2], warm)  # loads the model (timed), warms both code paths
    load_ours = time.perf_counter() - t
    naive_scorer.score([all_pairs[0].summary], [all_pairs[0].references[0]])
    encoder_key, encoder = next((k, v) for k, v in warm.shared.items() if isinstance(v, TextEncoder))

    def run_naive():
        return {name: naive_scorer.score([p.summary for p in pairs], [p.references[0] for p in pairs], batch_size=64)[2]
                for name, pairs in systems.items()}

    def run_ours():
        encoder.clear()  # a fresh run: nothing embedded yet, the loaded model kept
        context = ScoringContext(shared={encoder_key: encoder})
        return metric.score(all_pairs, context), encoder.stats.tokens, encoder.stats.seconds

    naive_times, ours_times, tokens_per_s = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        naive = run_naive()
        naive_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours, tokens, enc_seconds = run_ours()
        ours_times.append(time.perf_counter() - t)
        tokens_per_s.append(tokens / enc_seconds)

    naive_f1 = [float(x) for name in systems for x in naive[name]]
    ours_f1 = [r.values["bertscore_f1"] for r in ours]
    max_diff = max(abs(a - b) for a, b in zip(naive_f1, ours_f1))

    tok = encoder.tokenizer
    ntok = {t: len(encoder.encode_ids(t)) for p in all_pairs for t in (p.summary, p.references[0])}
    refs = {p.references[0] for p in all_pairs}
    cands = [p.summary for p in all_pairs]
    naive_tokens = sum(ntok[p.summary] + ntok[p.references[0]] for p in all_pairs)
    ours_tokens = sum(ntok[t] for t in refs | set(cands))
    med_naive, med_ours = statistics.median(naive_times), statistics.median(ours_times)

    print(f"gold: {args.gold} ({len(all_pairs) // len(systems)} items) x {len(systems)} systems (lead1..lead5); "
          f"model {ref.label} layer {metric.num_layers}; device {args.device}; torch threads {torch.get_num_threads()}")
    print(f"model load: naive {load_naive:.2f}s, evalkit {load_ours:.2f}s (excluded below); tokenizer {type(tok).__name__}")
    print(f"texts embedded: naive {2 * len(all_pairs)}, evalkit {len(refs | set(cands))}; "
          f"tokens embedded: naive {naive_tokens}, evalkit {ours_tokens} (ceiling ratio {naive_tokens / ours_tokens:.2f}x)")
    print(f"naive   (bert-score once per system): median {med_naive:.2f}s, best {min(naive_times):.2f}s over {args.repeat}")
    print(f"evalkit (one batch, shared embeddings): median {med_ours:.2f}s, best {min(ours_times):.2f}s over {args.repeat}")
    print(f"speed-up: {med_naive / med_ours:.2f}x median, {min(naive_times) / min(ours_times):.2f}x best (goal >= 1.6x)")
    print(f"encoder throughput: {statistics.median(tokens_per_s):.0f} tokens/s (median)")
    print(f"max |F1 evalkit - F1 bert-score| over {len(ours_f1)} items: {max_diff:.2e}")


if __name__ == "__main__":
    main()
