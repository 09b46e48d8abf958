"""ROUGE through Google's rouge-score: rouge1, rouge2, rougeL, rougeLsum (F1 headline, P and R kept).

For rougeLsum, rouge-score treats newlines as sentence boundaries. References (key points)
are one per line already; the summary is split into sentences with pysbd (``summary_split``).
The values equal ``rouge_scorer.RougeScorer(...).score(target, prediction)`` called on the
same newline-joined texts: the unit tests check it to 1e-9.

rouge-score's default tokenizer lower-cases and drops every character outside [a-z0-9], so
non-Latin text scores 0. ``tokenizer="unicode"`` keeps letters and digits of every script
(ideographs one token each); the default stays for comparability with published numbers,
and a warning is raised whenever it discards a large share of a text's characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import Field

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.records import MetricSpec
from evalkit.text import split_sentences

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
#: share of letters/digits the default tokenizer may drop from a text before we warn
DISCARD_WARN_SHARE = 0.2
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_UNICODE_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+", re.UNICODE)
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")


class UnicodeTokenizer:
    """Like rouge-score's tokenizer, but letters and digits of every script are kept.

    Lower-cases, splits on anything that is not a letter or digit, emits CJK/kana/hangul
    characters one token each, and Porter-stems ASCII words longer than 3 characters
    exactly as rouge-score does. On pure-ASCII text it gives rouge-score's tokens.
    """

    def __init__(self, use_stemmer: bool = True):
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer() if use_stemmer else None

    def tokenize(self, text: str) -> list[str]:
        tokens = _UNICODE_TOKEN.findall(text.lower())
        if self._stemmer is None:
            return tokens
        return [self._stemmer.stem(t) if len(t) > 3 and _ASCII_WORD.match(t) else t for t in tokens]


class RougeConfig(MetricConfig):
    use_stemmer: bool = Field(True, description="Porter stemming (rouge-score's use_stemmer)")
    tokenizer: Literal["default", "unicode"] = Field(
        "default", description="default: rouge-score's [a-z0-9] tokenizer; unicode: every script")
    summary_split: Literal["pysbd", "newline"] = Field(
        "pysbd", description="how the summary is cut into lines for rougeLsum")
    reference_split: Literal["pysbd", "newline"] = Field(
        "pysbd", description="how references are cut into lines for rougeLsum (line breaks always cut: key points stay one per line)")
    multi_ref: Literal["mean", "max"] = Field("mean", description="aggregate over several references")


def _lines(text: str, policy: str) -> str:
    if policy == "pysbd":
        return "\n".join(split_sentences(text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _discarded_share(text: str) -> float:
    chars = [c for c in text.lower() if c.isalnum()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if not ("a" <= c <= "z" or "0" <= c <= "9")) / len(chars)


class Rouge(Metric):
    name = "rouge"
    item_local = True
    Config = RougeConfig

    def outputs(self) -> list[str]:
        return [f"{t}{suffix}" for t in ROUGE_TYPES for suffix in ("", "_p", "_r")]

    def headline(self) -> list[str]:
        return list(ROUGE_TYPES)

    def scorer(self):
        return _scorer(self.config.use_stemmer, self.config.tokenizer)

    def prepare(self, pair: Pair) -> tuple[list[str], str]:
        """The exact (targets, prediction) strings handed to rouge-score."""
        targets = [_lines(r, self.config.reference_split) for r in pair.references]
        return targets, _lines(pair.summary, self.config.summary_split)

    def score(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        scorer = self.scorer()
        results, lossy = [], 0
        for pair in pairs:
            targets, prediction = self.prepare(pair)
            if self.config.tokenizer == "default" and any(
                _discarded_share(t) > DISCARD_WARN_SHARE for t in [prediction, *targets]
            ):
                lossy += 1
            per_ref = [scorer.score(t, prediction) for t in targets]
            values: dict[str, float | None] = {}
            for rt in ROUGE_TYPES:
                for suffix, attr in (("", "fmeasure"), ("_p", "precision"), ("_r", "recall")):
                    xs = [getattr(s[rt], attr) for s in per_ref]
                    values[rt + suffix] = (sum(xs) / len(xs) if self.config.multi_ref == "mean" else max(xs)) if xs else None
            results.append(ItemScore(values=values))
        if lossy:
            context.warnings.append(
                f"rouge: the default tokenizer dropped over {DISCARD_WARN_SHARE:.0%} of the letters/digits of "
                f"{lossy} of {len(pairs)} scored texts (non-Latin script?): their ROUGE is near 0. "
                "Use --metrics rouge:tokenizer=unicode."
            )
        return results

    def identity(self) -> MetricSpec:
        from importlib.metadata import version

        spec = super().identity()
        spec.config.update({"library": "rouge-score", "library_version": version("rouge-score"),
                            "rouge_types": list(ROUGE_TYPES), "split_summaries": False,
                            "lsum_sentence_splitter": "pysbd " + version("pysbd")})
        return spec


@lru_cache(maxsize=4)
def _scorer(use_stemmer: bool, tokenizer: str):
    from rouge_score import rouge_scorer

    tok = UnicodeTokenizer(use_stemmer) if tokenizer == "unicode" else None
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer, tokenizer=tok)
