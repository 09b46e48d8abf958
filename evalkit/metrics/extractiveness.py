"""Extractiveness and length (Grusky, Naaman and Artzi, 2018: "Newsroom", NAACL).

Outputs per item:

- ``summary_words``: tokens in the summary; ``compression`` = article tokens / summary tokens;
- ``novel_1gram``, ``novel_2gram``, ``novel_3gram``: share of the summary's n-gram
  occurrences that never occur in the article (None when the summary has fewer than n
  tokens);
- ``coverage`` = sum of |f| / |S| and ``density`` = sum of |f|² / |S| over the extractive
  fragments f: the shared token sequences found by the greedy procedure of the paper
  (Algorithm 1): at each summary position take the longest article match starting there
  (scanning the article left to right and, as in the paper and its reference code, resuming
  the scan after the end of each match), then skip past it.

Tokens: lower-cased (Newsroom's default) words — runs of letters and digits, with internal
apostrophes kept (``don't``, ``Starmer's``; ``’`` is read as ``'``) and numbers kept whole
(``2.26bn``, ``1,250``). Newsroom tokenized with
spaCy, which also makes punctuation marks tokens; ``punctuation=true`` does that too (values
then come closer to published Newsroom numbers, but commas and full stops inflate coverage).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, Optional

from pydantic import Field

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext

_WORD = r"\d+(?:[.,]\d+)+[^\W_]*|[^\W_]+(?:'[^\W_]+)*"
_WORDS = re.compile(_WORD)
_WORDS_AND_PUNCT = re.compile(rf"{_WORD}|[^\w\s]")


class Fragment(NamedTuple):
    summary_start: int
    article_start: int
    length: int


def tokenize(text: str, *, punctuation: bool = False, case: bool = False) -> list[str]:
    text = text.replace("’", "'")
    tokens = (_WORDS_AND_PUNCT if punctuation else _WORDS).findall(text)
    return tokens if case else [t.lower() for t in tokens]


def greedy_fragments(summary: Sequence[str], article: Sequence[str]) -> list[Fragment]:
    """Extractive fragments of ``summary`` in ``article`` (Grusky et al. 2018, Algorithm 1)."""
    fragments: list[Fragment] = []
    i = 0
    while i < len(summary):
        best: Optional[Fragment] = None
        j = 0
        while j < len(article):
            if summary[i] != article[j]:
                j += 1
                continue
            k = 0
            while i + k < len(summary) and j + k < len(article) and summary[i + k] == article[j + k]:
                k += 1
            if best is None or k > best.length:
                best = Fragment(i, j, k)
            j += k
        if best is None:
            i += 1
        else:
            fragments.append(best)
            i += best.length
    return fragments


def coverage(fragments: Sequence[Fragment], summary_len: int) -> Optional[float]:
    return sum(f.length for f in fragments) / summary_len if summary_len else None


def density(fragments: Sequence[Fragment], summary_len: int) -> Optional[float]:
    return sum(f.length ** 2 for f in fragments) / summary_len if summary_len else None


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def novel_ngram_share(summary: Sequence[str], article: Sequence[str], n: int) -> Optional[float]:
    grams = _ngrams(summary, n)
    if not grams:
        return None
    seen = set(_ngrams(article, n))
    return sum(1 for g in grams if g not in seen) / len(grams)


class ExtractivenessConfig(MetricConfig):
    punctuation: bool = Field(False, description="count punctuation marks as tokens (as Newsroom's spaCy tokens do)")
    case: bool = Field(False, description="case-sensitive tokens (Newsroom default: lower-cased)")


class Extractiveness(Metric):
    name = "extractiveness"
    item_local = True
    Config = ExtractivenessConfig
    config: ExtractivenessConfig
    #: descriptive: more copying or fewer words is neither better nor worse
    directions = dict.fromkeys(("summary_words", "compression", "novel_1gram", "novel_2gram", "novel_3gram",
                                "coverage", "density"), "none")

    def outputs(self) -> list[str]:
        return ["summary_words", "compression", "novel_1gram", "novel_2gram", "novel_3gram", "coverage", "density"]

    reads = ("summary", "source")
    #: pure Python per pair: large batches are computed in a process pool (evalkit/parallel.py)
    parallel = True

    def headline(self) -> list[str]:
        return ["summary_words", "coverage", "density"]

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        kind = f"extractiveness:tokens:{self.config.punctuation}:{self.config.case}"
        return [ItemScore(values=self.values(self.tokenize(pair.summary),
                                             context.texts.memo(kind, pair.source, self.tokenize)))
                for pair in pairs]

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, punctuation=self.config.punctuation, case=self.config.case)

    @staticmethod
    def values(s: list[str], a: list[str]) -> dict[str, Optional[float]]:
        frags = greedy_fragments(s, a)
        return {
            "summary_words": float(len(s)),
            "compression": len(a) / len(s) if s else None,
            **{f"novel_{n}gram": novel_ngram_share(s, a, n) for n in (1, 2, 3)},
            "coverage": coverage(frags, len(s)),
            "density": density(frags, len(s)),
        }
