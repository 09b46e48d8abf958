"""Benchmark: statistics once and fast (issue 12). A run's summary (a bootstrap CI per system and
metric) and comparisons (every system pair x metric: paired bootstrap CI of the delta and a
paired permutation p, Holm) for 10 systems x 20 metrics on synthetic scores (n items each;
one metric not applicable on a fifth of the items, as quote fidelity is), 10,000 resamples.

- evalkit: ``summarize_run`` + ``compute_comparisons`` (vectorized, seeded draws shared by the
  metrics of a system pair, evalkit/resample.py);
- per call, as before issue 12: ``scipy.stats.bootstrap`` (BCa) per system x metric and, per
  pair x metric, ``scipy.stats.bootstrap`` of the differences plus ``scipy.stats.permutation_test``
  (``batch=`` set as before). Timed on ``--scipy-sample`` pairs x metrics and extrapolated
  (the full count is printed); at n=44 it can run whole with ``--scipy-sample 0``.

    python benchmarks/bench_stats.py [--repeat 3] [--items 44,1000] [--scipy-sample 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from _timing import load

from evalkit.comparisons import compute_comparisons
from evalkit.records import GoldRef, MetricSpec, Prediction
from evalkit.stats import BATCH_ELEMENTS, stable_rng, summarize_run

SYSTEMS, METRICS, R = 10, 20, 10_000


def scores_table(n: int) -> tuple[pd.DataFrame, list[Prediction], list[MetricSpec]]:
    rng = np.random.default_rng(0)
    rows = []
    for s in range(SYSTEMS):
        for m in range(METRICS):
            v = np.clip(rng.normal(0.3 + 0.01 * s, 0.15, n), 0, 1)
            if m == METRICS - 1:
                v[rng.random(n) < 0.2] = np.nan
            rows += [(f"sys{s}", f"g{i:05d}", f"m{m}", float(x)) for i, x in enumerate(v)]
    df = pd.DataFrame(rows, columns=["system", "gold_id", "metric", "value"])
    preds = [Prediction(gold_id=f"g{i:05d}", system=f"sys{s}", summary="x") for s in range(SYSTEMS) for i in range(n)]
    spec = [MetricSpec(name="synthetic", config={}, outputs=[f"m{m}" for m in range(METRICS)])]
    return df, preds, spec


def ours(df, preds, spec) -> None:
    summary = summarize_run("bench", GoldRef(name="g", source="s", hash="h", items=0), df, preds, spec)
    compute_comparisons(summary, df)


def scipy_one_pair(a: np.ndarray, b: np.ndarray, seed: int) -> None:
    from scipy import stats

    rng = stable_rng(seed, "x")
    d = b - a
    n = d.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats.bootstrap((d,), np.mean, n_resamples=R, method="BCa", vectorized=True, axis=-1, rng=rng,
                        batch=max(1, min(R, BATCH_ELEMENTS // n)))
        stats.permutation_test((b, a), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                               n_resamples=R, vectorized=True, axis=-1, rng=rng, batch=max(1, min(R, BATCH_ELEMENTS // (2 * n))))


def scipy_one_ci(x: np.ndarray, seed: int) -> None:
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats.bootstrap((x,), np.mean, n_resamples=R, method="BCa", vectorized=True, axis=-1,
                        rng=stable_rng(seed, "ci"), batch=max(1, min(R, BATCH_ELEMENTS // x.size)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--items", default="44,1000")
    ap.add_argument("--scipy-sample", type=int, default=20, help="pairs x metrics timed for scipy (0: all)")
    args = ap.parse_args()
    print(f"{SYSTEMS} systems x {METRICS} metrics, {R} resamples; {load()}")
    pairs = SYSTEMS * (SYSTEMS - 1) // 2
    for n in (int(x) for x in args.items.split(",")):
        df, preds, spec = scores_table(n)
        values = {(s, m): g["value"].to_numpy() for (s, m), g in df.groupby(["system", "metric"])}
        jobs = [(f"sys{i}", f"sys{j}", f"m{m}") for i in range(SYSTEMS) for j in range(i + 1, SYSTEMS)
                for m in range(METRICS)]
        sample = jobs if args.scipy_sample <= 0 else jobs[:: max(1, len(jobs) // args.scipy_sample)][: args.scipy_sample]
        ours(df, preds, spec)  # warm-up
        ours_t, scipy_t = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            ours(df, preds, spec)
            ours_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            for k, (a, b, m) in enumerate(sample):
                va, vb = values[(a, m)], values[(b, m)]
                keep = np.isfinite(va) & np.isfinite(vb)
                scipy_one_pair(va[keep], vb[keep], k)
            per_pair = (time.perf_counter() - t) / len(sample)
            t = time.perf_counter()
            for k in range(3):
                x = values[(f"sys{k}", "m0")]
                scipy_one_ci(x[np.isfinite(x)], k)
            per_ci = (time.perf_counter() - t) / 3
            scipy_t.append(per_pair * len(jobs) + per_ci * SYSTEMS * METRICS)
        mo, ms = statistics.median(ours_t), statistics.median(scipy_t)
        print(f"n={n}: evalkit summary + comparisons {mo:.2f}s ({min(ours_t):.2f}-{max(ours_t):.2f}); "
              f"scipy per call {ms:.1f}s ({min(scipy_t):.1f}-{max(scipy_t):.1f}"
              f"{'' if len(sample) == len(jobs) else f', extrapolated from {len(sample)} of {len(jobs)} pair tests'}) "
              f"for {pairs} pairs x {METRICS} metrics + {SYSTEMS * METRICS} CIs: {ms / mo:.0f}x faster")


if __name__ == "__main__":
    main()
