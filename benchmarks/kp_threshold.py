"""How the key-point coverage threshold (0.5) was chosen, on the shipped gold set.

With the default model (packaged all-MiniLM-L6-v2, last layer; the similarity evalkit's
``keypoints`` metric computes: cosine of mean-pooled token embeddings), for every
reference key point it collects:
  - its best match among its own article's sentences ("own best": a summary quoting the
    article at the right place should cover it),
  - its other sentences of its own article ("own rest": mostly not about that key point),
  - its best match among the sentences of a different article ("other article": never
    covers it),
and prints percentiles plus, per candidate threshold, the share of each reaching it and
Youden's J (own best vs other article; own best vs own rest).

Run: .venv/bin/python benchmarks/kp_threshold.py [--gold evalkit/data/gold/news-v1.jsonl]   (about 30 s on CPU)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.gold import load_gold  # noqa: E402
from evalkit.metrics import ScoringContext  # noqa: E402
from evalkit.metrics.embeddings import shared_encoder  # noqa: E402
from evalkit.metrics.keypoints import KeyPointCoverage, _Vectors  # noqa: E402
from evalkit.text import split_sentences  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(ROOT / "evalkit" / "data" / "gold" / "news-v1.jsonl"))
    args = ap.parse_args()
    gold = load_gold(args.gold)
    metric = KeyPointCoverage()
    encoder = shared_encoder(ScoringContext().shared, metric.model_ref, metric.num_layers, "cpu")
    sentences = {it.id: split_sentences(it.article) for it in gold.items}
    encoder.embed([k for it in gold.items for k in it.key_points] + [s for ss in sentences.values() for s in ss])
    vec = _Vectors(encoder)
    own_best, own_rest, other = [], [], []
    items = gold.items
    for i, item in enumerate(items):
        neighbour = items[(i + 1) % len(items)]
        for kp in item.key_points:
            sims = sorted((vec.cosine(kp, s) for s in sentences[item.id]), reverse=True)
            own_best.append(sims[0])
            own_rest.extend(sims[1:])
            other.append(max(vec.cosine(kp, s) for s in sentences[neighbour.id]))
    print(f"{len(own_best)} key points, {len(items)} articles, model {metric.model_ref.label} layer {metric.num_layers}")
    for name, xs in (("own best", own_best), ("own rest", own_rest), ("other article", other)):
        p = np.percentile(xs, [5, 25, 50, 75, 95])
        print(f"{name:>14}: p5 {p[0]:.3f}  p25 {p[1]:.3f}  p50 {p[2]:.3f}  p75 {p[3]:.3f}  p95 {p[4]:.3f}")
    print("threshold  own-best>=t  other-article>=t  own-rest>=t  J(other)  J(rest)")
    for t in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        a, b, c = (float(np.mean(np.array(xs) >= t)) for xs in (own_best, other, own_rest))
        print(f"{t:9.2f}  {a:11.3f}  {b:16.3f}  {c:11.3f}  {a - b:8.3f}  {a - c:7.3f}")


if __name__ == "__main__":
    main()
