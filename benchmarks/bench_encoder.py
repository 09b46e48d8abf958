"""Benchmark: the BERTScore encoder against the machine's fp32 matrix-product rate (issue 12).

The texts BERTScore embeds for SummEval's 1,600 summaries with 1 reference and with 11
references (each distinct text once), through the packaged all-MiniLM-L6-v2 on the CPU:

- *rate*: the model's useful work (FLOPs of every real token: the linear layers, 8h^2 + 4hi
  per token and layer, and attention, 4 T h per token and layer for a text of T wordpieces;
  padding is not useful work) divided by the embedding time (tokenization included);
- *matmul*: torch's fp32 (4096 x h) @ (h x 4h) product rate, measured in the same rounds;
- *now*: ``TextEncoder.embed`` (wordpiece-length batches within a token budget, threads on
  every usable CPU); *before*: the previous batching (sorted by word count, 64 texts a batch,
  tokenized batch by batch), replayed here.

Goal: now >= 80% of the matmul rate. Rounds interleaved (matmul, now, before), medians.
On a shared machine the wall-clock rates move with the other processes' load (the matmul
rate itself varies 2x between rounds), so the rates per CPU-second of this process are
printed too: time the CPUs spent on this work, whatever else ran.

With ``--threads 1`` both sides run on one thread: no thread waits for another that the
machine's other jobs have descheduled, so the per-CPU-second ratio is the code's own.

    python benchmarks/bench_encoder.py [--repeat 3] [--pairs 1600] [--threads N] [--refs 1,11]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import load
from summeval_data import summeval_rows

from evalkit.metrics import ScoringContext, build_metric


def gemm_rate(h: int, inter: int, clock=time.perf_counter) -> float:
    import torch

    a, b = torch.randn(4096, h), torch.randn(h, inter)
    for _ in range(3):
        a @ b
    ts = []
    for _ in range(10):
        t = clock()
        for _ in range(5):
            a @ b
        ts.append((clock() - t) / 5)
    return 2 * 4096 * h * inter / statistics.median(ts)


def old_embed(encoder, texts: list[str], batch_size: int = 64) -> None:
    """The batching before issue 12: longest first by word count, 64 texts, tokenized per batch."""
    import torch
    from bert_score.utils import bert_encode, padding

    new = sorted(set(texts), key=lambda x: (-len(x.split(" ")), x))
    for i in range(0, len(new), batch_size):
        batch = new[i:i + batch_size]
        ids = [encoder.encode_ids(t) for t in batch]
        padded, lens, mask = padding(ids, encoder.tokenizer.pad_token_id, dtype=torch.long)
        with torch.no_grad():
            bert_encode(encoder.model, padded, attention_mask=mask).cpu()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=1600)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: every usable CPU)")
    ap.add_argument("--refs", default="1,11")
    args = ap.parse_args()
    import os

    import torch

    if args.threads:
        os.environ["EVALKIT_TORCH_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)

    metric = build_metric("bertscore", {"device": "cpu"})
    encoder = metric.encoder(ScoringContext())
    cfg = encoder.model.config
    h, inter, layers = cfg.hidden_size, cfg.intermediate_size, min(metric.num_layers, cfg.num_hidden_layers)
    rows = summeval_rows(args.pairs)
    print(f"{encoder.ref.label}, {layers} layers, h={h}, i={inter}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {load()}")
    for n_refs in (int(x) for x in args.refs.split(",")):
        texts = list(dict.fromkeys([r["summary"] for r in rows] + [x for r in rows for x in r["references"][:n_refs]]))
        lengths = [len(encoder.encode_ids(t)) for t in texts]
        flops = sum(layers * (t * (8 * h * h + 4 * h * inter) + 4 * t * t * h) for t in lengths)
        gemm, now, before, gemm_cpu, now_cpu, before_cpu = [], [], [], [], [], []
        for _ in range(args.repeat + 1):
            g = gemm_rate(h, inter)
            gc = gemm_rate(h, inter, time.process_time)
            encoder.clear()
            t, c = time.perf_counter(), time.process_time()
            encoder.embed(texts)
            n, nc = time.perf_counter() - t, time.process_time() - c
            padded = encoder.stats.padded_tokens
            t, c = time.perf_counter(), time.process_time()
            old_embed(encoder, texts)
            b, bc = time.perf_counter() - t, time.process_time() - c
            gemm.append(g)
            now.append(flops / n)
            before.append(flops / b)
            gemm_cpu.append(gc)
            now_cpu.append(flops / nc)
            before_cpu.append(flops / bc)
        # the first round warms up
        gemm, now, before, gemm_cpu, now_cpu, before_cpu = (x[1:] for x in (gemm, now, before, gemm_cpu, now_cpu,
                                                                              before_cpu))
        g = statistics.median(gemm)
        print(f"\n{n_refs} reference(s): {len(texts)} distinct texts, {sum(lengths):,} wordpieces "
              f"({padded:,} with padding now), {flops / 1e9:.0f} GFLOP of useful work")
        print(f"  fp32 matmul rate   {g / 1e9:6.1f} GFLOP/s (rounds {min(gemm) / 1e9:.1f}-{max(gemm) / 1e9:.1f})")
        print(f"  encoder now        {statistics.median(now) / 1e9:6.1f} GFLOP/s = "
              f"{100 * statistics.median(now) / g:.0f}% of matmul (rounds "
              f"{min(100 * x / y for x, y in zip(now, gemm)):.0f}-{max(100 * x / y for x, y in zip(now, gemm)):.0f}%; goal >= 80%)")
        print(f"  encoder before     {statistics.median(before) / 1e9:6.1f} GFLOP/s = "
              f"{100 * statistics.median(before) / g:.0f}% of matmul; now/before "
              f"{statistics.median(now) / statistics.median(before):.2f}x")
        gc = statistics.median(gemm_cpu)
        print(f"  per CPU-second: matmul {gc / 1e9:.1f}, now {statistics.median(now_cpu) / 1e9:.1f} "
              f"({100 * statistics.median(now_cpu) / gc:.0f}% of matmul; rounds "
              f"{min(100 * x / y for x, y in zip(now_cpu, gemm_cpu)):.0f}-{max(100 * x / y for x, y in zip(now_cpu, gemm_cpu)):.0f}%), "
              f"before {statistics.median(before_cpu) / 1e9:.1f} ({100 * statistics.median(before_cpu) / gc:.0f}%) GFLOP/s")


if __name__ == "__main__":
    main()
