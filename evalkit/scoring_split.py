"""Scoring in parts that combine into exactly what one call over the whole set returns.

The reference is :func:`evalkit.scoring.score_pairs` over every pair of a run, all metric
families in one :class:`~evalkit.metrics.ScoringContext`. Its result is a sequence of one
part per family, in the run's metric order (scores by pair then output, details by pair,
the notes and warnings the family added). Two properties of a family decide how its work
may be divided, on Ray workers (evalkit/executors/ray_executor.py) or across the shards
of a run (evalkit/merge.py):

* An **item-local** family (``Metric.item_local``: rouge, quotes, numbers, extractiveness)
  gives each pair a result that depends on that pair alone, so its pairs may be scored in
  any batches, anywhere, and the batches' results concatenated in pair order.
* A family's notes and warnings are statements about the batch it scored ("3 of 120
  texts ..."). A part that carries any is not combined: the family is scored again over
  the whole set in one call, so the run states the whole set's numbers, not a part's.

Every other family (bertscore, keypoints: an encoder embeds texts in padded batches, so a
text's embedding depends in its last bits on what shares its batch; bertscore's idf weights
come from the batch) is scored over the whole set in one call, all such families in one
context in the run's order, sharing one encoder exactly as a local run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import pandas as pd

from evalkit.metrics import Pair, ScoringContext
from evalkit.rundir import SCORE_COLUMNS
from evalkit.scoring import Scorer, ScoringResult, score_pairs


def is_item_local(scorer: Scorer) -> bool:
    """Whether the scorer's metric scores each pair independently of the others (see module doc)."""
    return bool(getattr(type(scorer.metric), "item_local", False))


def score_families(pairs: Sequence[Pair], scorers: Sequence[Scorer],
                   context: Optional[ScoringContext] = None) -> list[ScoringResult]:
    """One part per scorer, computed in one shared context: ``score_pairs(pairs, scorers)`` cut by family."""
    context = context or ScoringContext()
    parts = []
    for scorer in scorers:
        notes, warnings = len(context.notes), len(context.warnings)
        result = score_pairs(pairs, [scorer], context)
        parts.append(ScoringResult(result.scores, result.details, result.metrics,
                                   context.notes[notes:], context.warnings[warnings:]))
    return parts


def says_something(part: ScoringResult) -> bool:
    """Whether a part carries notes or warnings (a statement about its batch: not combinable)."""
    return bool(part.notes or part.warnings)


def concat_scores(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [f[SCORE_COLUMNS] for f in frames if len(f)]
    scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame([], columns=SCORE_COLUMNS)
    scores["value"] = scores["value"].astype("float64")
    return scores


def combine(batches: Sequence[ScoringResult]) -> ScoringResult:
    """One family's part from its parts over consecutive batches of pairs (in pair order)."""
    return ScoringResult(concat_scores([b.scores for b in batches]), [d for b in batches for d in b.details],
                         list(batches[0].metrics) if batches else [],
                         [n for b in batches for n in b.notes], [w for b in batches for w in b.warnings])


def assemble(scorers: Sequence[Scorer], parts: Sequence[ScoringResult]) -> ScoringResult:
    """The whole result from one part per scorer, in the scorers' order (what ``score_pairs`` returns)."""
    if len(parts) != len(scorers):
        raise ValueError(f"{len(parts)} parts for {len(scorers)} metric families")
    return ScoringResult(concat_scores([p.scores for p in parts]), [d for p in parts for d in p.details],
                         [s.spec() for s in scorers], [n for p in parts for n in p.notes],
                         [w for p in parts for w in p.warnings])


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` bounds cutting ``n`` items into consecutive batches of at most ``size``."""
    size = max(1, size)
    return [(start, min(n, start + size)) for start in range(0, n, size)]
