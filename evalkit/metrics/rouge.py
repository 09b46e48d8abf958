"""ROUGE through Google's rouge-score: rouge1, rouge2, rougeL, rougeLsum (F1 headline, P and R kept).

For rougeLsum, rouge-score treats newlines as sentence boundaries. Both sides are put one
sentence per line by :func:`evalkit.text.sentence_lines` (``summary_split`` /
``reference_split``; the policy is in :mod:`evalkit.text`): key points are one per line
already and stay so, a line is cut only where it holds several sentences. The values equal
``rouge_scorer.RougeScorer(...).score(target, prediction)`` called on the same texts: the
unit tests check it to 1e-9.

Several references: ``multi_ref="mean"`` averages P, R and F over them; ``"max"`` takes, per
ROUGE type, the one reference with the highest F (the first on a tie) and reports its P, R
and F together, exactly as rouge-score's ``RougeScorer.score_multi`` does.

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
from evalkit.text import sentence_lines

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
    multi_ref: Literal["mean", "max"] = Field(
        "mean", description="several references: mean of P, R, F; or max: the reference with the best F, per type")


def _discarded_share(text: str) -> float:
    chars = [c for c in text.lower() if c.isalnum()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if not ("a" <= c <= "z" or "0" <= c <= "9")) / len(chars)


class Rouge(Metric):
    name = "rouge"
    item_local = True
    Config = RougeConfig
    config: RougeConfig

    def outputs(self) -> list[str]:
        return [f"{t}{suffix}" for t in ROUGE_TYPES for suffix in ("", "_p", "_r")]

    def headline(self) -> list[str]:
        return list(ROUGE_TYPES)

    def scorer(self):
        return _scorer(self.config.use_stemmer, self.config.tokenizer)

    def prepare(self, pair: Pair) -> tuple[list[str], str]:
        """The exact (targets, prediction) strings handed to rouge-score."""
        targets = [sentence_lines(r, self.config.reference_split) for r in pair.references]
        return targets, sentence_lines(pair.summary, self.config.summary_split)

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
            results.append(ItemScore(values=_combine(per_ref, self.config.multi_ref)))
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
                            "lsum_sentence_splitter": f"evalkit.text.sentence_lines v2 (pysbd {version('pysbd')}, "
                                                      "idempotent, line breaks kept)",
                            "multi_ref_max": "reference with the highest F per type (rouge-score score_multi)"})
        return spec


def _combine(per_ref: list, multi_ref: str) -> dict[str, float | None]:
    """P, R, F per ROUGE type over the references: their means, or the best reference's
    (highest F, first on a tie: ``RougeScorer.score_multi``)."""
    values: dict[str, float | None] = {}
    for rt in ROUGE_TYPES:
        scores = [s[rt] for s in per_ref]
        if not scores:
            values.update({rt: None, rt + "_p": None, rt + "_r": None})
        elif multi_ref == "max":
            best = max(scores, key=lambda sc: sc.fmeasure)  # max() keeps the first of equals
            values.update({rt: best.fmeasure, rt + "_p": best.precision, rt + "_r": best.recall})
        else:
            values.update({rt + suffix: sum(getattr(sc, attr) for sc in scores) / len(scores)
                           for suffix, attr in (("", "fmeasure"), ("_p", "precision"), ("_r", "recall"))})
    return values


@lru_cache(maxsize=4)
def _scorer(use_stemmer: bool, tokenizer: str):
    from rouge_score import rouge_scorer

    tok = UnicodeTokenizer(use_stemmer) if tokenizer == "unicode" else None
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer, tokenizer=tok)
