"""How the quote-fidelity `altered_threshold` (0.75) was chosen, on real articles.

For quotations of n words cut from SummEval `source_raw` articles it prints the similarity
(rapidfuzz ratio of the closest article span, as evalkit computes it) of
  - the cut with one word replaced by a word absent from the article ("1 changed"),
  - the cut with two words replaced ("2 changed"),
  - a cut of the same length from a *different* article ("unrelated"),
as percentiles. A good threshold lies above the unrelated p99 and below the 1-changed p10.

Run: .venv/bin/python benchmarks/quote_threshold.py   (about 5 s)
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from evalkit.quote_match import ArticleIndex

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "summeval.jsonl.gz"


def pct(xs: list[float], p: float) -> str:
    xs = sorted(xs)
    return f"{xs[int(p * (len(xs) - 1))]:.2f}" if xs else "  - "


def main() -> None:
    docs = list({r["doc_id"]: r["source_raw"] for r in map(json.loads, gzip.open(DATA, "rt", encoding="utf-8"))}.values())
    indexes = [ArticleIndex(d) for d in docs]
    rng = random.Random(0)
    sims: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(1500):
        a = rng.randrange(len(docs))
        b = (a + 1 + rng.randrange(len(docs) - 1)) % len(docs)
        wa, wb = docs[a].split(), docs[b].split()
        n = rng.choice([3, 4, 5, 6, 8, 10, 15, 20, 30])
        s = rng.randrange(len(wa) - n)
        cut = wa[s:s + n]
        k1, k2 = rng.sample(range(n), 2)
        one = list(cut)
        one[k1] = "zqxvbnm"
        two = list(one)
        two[k2] = "wplkjhg"
        sims[n]["1 changed"].append(indexes[a].check(" ".join(one)).similarity)
        sims[n]["2 changed"].append(indexes[a].check(" ".join(two)).similarity)
        s = rng.randrange(len(wb) - n)
        sims[n]["unrelated"].append(indexes[a].check(" ".join(wb[s:s + n])).similarity)
    print("words | 1 changed p10 p50 | 2 changed p10 p50 | unrelated p50 p99 max")
    for n in sorted(sims):
        d = sims[n]
        print(f"{n:5d} | {pct(d['1 changed'], .1)} {pct(d['1 changed'], .5)}         | "
              f"{pct(d['2 changed'], .1)} {pct(d['2 changed'], .5)}         | "
              f"{pct(d['unrelated'], .5)} {pct(d['unrelated'], .99)} {max(d['unrelated']):.2f}")


if __name__ == "__main__":
    main()
