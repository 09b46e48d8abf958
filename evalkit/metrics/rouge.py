"""ROUGE: rouge1, rouge2, rougeL, rougeLsum (F1 headline, P and R kept), equal to Google's rouge-score.

Two engines compute the same numbers (``engine``, recorded in the metric spec with its version):

- ``rust``: rouge-score-rs, an independent Rust implementation of rouge-score (its tokenizer,
  NLTK's Porter stemmer and the summary-level LCS), bit-identical to it (tests/test_rouge_engines.py
  compares every type and P/R/F on all 1,600 SummEval pairs x 11 references, both tokenizers,
  both multi-reference modes). The whole batch is scored in one call that runs on every core
  without the GIL; importing it takes milliseconds (rouge-score pulls in nltk: seconds).
- ``python``: rouge-score itself, the reference.
- ``auto`` (default): rust where it supports the configuration (today: every configuration
  evalkit offers; with ``tokenizer=unicode`` evalkit tokenizes and rust scores the tokens),
  python where rouge-score-rs is not installed.

For rougeLsum, rouge-score treats newlines as sentence boundaries. Both sides are put one
sentence per line by :func:`evalkit.text.sentence_lines` (``summary_split`` /
``reference_split``; the policy is in :mod:`evalkit.text`): key points are one per line
already and stay so, a line is cut only where it holds several sentences. Each distinct text
is prepared once per run (the run's TextStore): references are shared by every system.

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
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from pydantic import Field

from evalkit.errors import UsageError
from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.records import MetricSpec
from evalkit.text import TextStore, sentence_lines

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
#: share of letters/digits the default tokenizer may drop from a text before we warn
DISCARD_WARN_SHARE = 0.2
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_UNICODE_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+", re.UNICODE)
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")
Engine = Literal["auto", "rust", "python"]


def _unicode_tokens(text: str, stem: Any) -> list[str]:
    tokens = _UNICODE_TOKEN.findall(text.lower())
    if stem is None:
        return tokens
    return [stem(t) if len(t) > 3 and _ASCII_WORD.match(t) else t for t in tokens]


class UnicodeTokenizer:
    """Like rouge-score's tokenizer, but letters and digits of every script are kept.

    Lower-cases, splits on anything that is not a letter or digit, emits CJK/kana/hangul
    characters one token each, and Porter-stems ASCII words longer than 3 characters
    exactly as rouge-score does (NLTK's stemmer). On pure-ASCII text it gives rouge-score's
    tokens. :class:`FastUnicodeTokenizer` gives the same tokens without importing nltk.
    """

    def __init__(self, use_stemmer: bool = True):
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer() if use_stemmer else None

    def tokenize(self, text: str) -> list[str]:
        return _unicode_tokens(text, self._stemmer.stem if self._stemmer is not None else None)


class FastUnicodeTokenizer:
    """:class:`UnicodeTokenizer`'s tokens, stemmed by rouge-score-rs's port of NLTK's Porter
    stemmer (each distinct word once), each distinct text tokenized once per run (``texts``):
    what the rust engine scores with ``tokenizer=unicode``."""

    def __init__(self, use_stemmer: bool = True, texts: TextStore | None = None):
        from rouge_score_rs.tokenizers import DefaultTokenizer

        self._stem_one = DefaultTokenizer(use_stemmer=True).tokenize if use_stemmer else None
        self._stems: dict[str, str] = {}
        self._texts = texts if texts is not None else TextStore()
        self._kind = f"rouge:unicode-tokens:{use_stemmer}"

    def _stem(self, word: str) -> str:
        got = self._stems.get(word)
        if got is None:
            assert self._stem_one is not None
            got = self._stems[word] = self._stem_one(word)[0]  # an [a-z0-9]+ word of 4+ chars: one token
        return got

    def tokenize(self, text: str) -> list[str]:
        stem = self._stem if self._stem_one is not None else None
        return self._texts.memo(self._kind, text, lambda t: _unicode_tokens(t, stem))


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
    engine: Engine = Field(
        "auto", description="rust: rouge-score-rs (bit-identical, fast); python: rouge-score itself; auto: rust when installed")


def _discarded_share(text: str) -> float:
    if text.isascii():  # every ASCII letter or digit survives the default tokenizer
        return 0.0
    chars = [c for c in text.lower() if c.isalnum()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if not ("a" <= c <= "z" or "0" <= c <= "9")) / len(chars)


def rust_version() -> str | None:
    try:
        return version("rouge-score-rs")
    except PackageNotFoundError:
        return None


def resolve_engine(engine: str) -> str:
    """The engine a configuration runs on: ``rust`` or ``python``."""
    if engine == "python":
        return "python"
    if rust_version() is not None:
        return "rust"
    if engine == "rust":
        raise UsageError("rouge:engine=rust needs the rouge-score-rs package (pip install rouge-score-rs); "
                         "or use rouge:engine=python")
    return "python"


class Rouge(Metric):
    name = "rouge"
    item_local = True
    Config = RougeConfig
    reads = ("summary", "references")
    config: RougeConfig

    def __init__(self, config: RougeConfig | None = None):
        super().__init__(config)
        self.engine = resolve_engine(self.config.engine)

    def outputs(self) -> list[str]:
        return [f"{t}{suffix}" for t in ROUGE_TYPES for suffix in ("", "_p", "_r")]

    def headline(self) -> list[str]:
        return list(ROUGE_TYPES)

    def scorer(self, texts: TextStore | None = None):
        if self.engine == "rust" and self.config.tokenizer == "unicode":
            import rouge_score_rs  # a scorer per run: its tokenizer memoizes into the run's store

            return rouge_score_rs.RougeScorer(list(ROUGE_TYPES), use_stemmer=self.config.use_stemmer,
                                              tokenizer=FastUnicodeTokenizer(self.config.use_stemmer, texts))
        return _scorer(self.engine, self.config.use_stemmer, self.config.tokenizer)

    def prepare(self, pair: Pair, texts: TextStore | None = None) -> tuple[list[str], str]:
        """The exact (targets, prediction) strings handed to rouge-score."""
        if texts is None:
            targets = [sentence_lines(r, self.config.reference_split) for r in pair.references]
            return targets, sentence_lines(pair.summary, self.config.summary_split)
        return ([texts.lines(r, self.config.reference_split) for r in pair.references],
                texts.lines(pair.summary, self.config.summary_split))

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        from evalkit.pool import prime_sentences

        texts = context.texts
        to_split = [p.summary for p in pairs] if self.config.summary_split == "pysbd" else []
        if self.config.reference_split == "pysbd":
            to_split += [r for p in pairs for r in p.references]
        prime_sentences(to_split, texts)  # the distinct texts not split yet, over both cores if many
        prepared = [self.prepare(pair, texts) for pair in pairs]
        flat_t = [t for targets, _ in prepared for t in targets]
        flat_p = [p for targets, p in prepared for _ in targets]
        scorer = self.scorer(texts)
        if self.engine == "rust":
            flat = scorer.score_batch(flat_t, flat_p)
        else:
            flat = [scorer.score(t, p) for t, p in zip(flat_t, flat_p)]
        results, pos = [], 0
        for targets, prediction in prepared:
            per_ref = flat[pos:pos + len(targets)]
            pos += len(targets)
            lossy = self.config.tokenizer == "default" and any(
                texts.memo("rouge:discarded", t, _discarded_share) > DISCARD_WARN_SHARE for t in [prediction, *targets])
            results.append(ItemScore(values=_combine(per_ref, self.config.multi_ref),
                                     flags={"lossy": True} if lossy else None))
        return results

    def report(self, pairs: Sequence[Pair], results: Sequence[ItemScore], context: ScoringContext) -> None:
        lossy = sum(1 for r in results if r.flags and r.flags.get("lossy"))
        if lossy:
            context.warnings.append(
                f"rouge: the default tokenizer dropped over {DISCARD_WARN_SHARE:.0%} of the letters/digits of "
                f"{lossy} of {len(pairs)} scored texts (non-Latin script?): their ROUGE is near 0. "
                "Use --metrics rouge:tokenizer=unicode."
            )

    def identity(self) -> MetricSpec:
        spec = super().identity()
        engine_lib = "rouge-score-rs" if self.engine == "rust" else "rouge-score"
        spec.config.update({"library": "rouge-score", "library_version": version("rouge-score"),
                            "engine_resolved": self.engine, "engine_library": engine_lib,
                            "engine_version": version(engine_lib),
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


@lru_cache(maxsize=8)
def _scorer(engine: str, use_stemmer: bool, tokenizer: str):
    if engine == "rust":
        import rouge_score_rs

        return rouge_score_rs.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    from rouge_score import rouge_scorer

    py_tok = UnicodeTokenizer(use_stemmer) if tokenizer == "unicode" else None
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer, tokenizer=py_tok)
