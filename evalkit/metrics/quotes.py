"""Quote fidelity: is every quotation in the summary really in the article?

Each quotation the summary makes (see :func:`evalkit.quotes.extract_quotes`) gets a
verdict against the article (see :mod:`evalkit.quote_match`): ``verbatim``, ``altered``
(a near match exists: the closest article span, its similarity and the words that differ
are kept) or ``not_found``. Per item:

- ``quote_fidelity`` = verbatim / checked quotations; None (not applicable, left out of
  the mean) when the summary quotes nothing that is checked — never 1.0 for "no quotes";
- ``quote_count``, ``quote_altered``, ``quote_not_found``: counts of checked quotations.

Short quotations (fewer than ``min_words`` words, by default one-word scare quotes such as
‘fair’) are still looked up and reported with their verdict, but marked ``counted: false``
and left out of the score and counts. Quotations nested inside another are part of the
outer one's check and are not counted again (``check_nested=true`` counts them too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.quote_diff import describe
from evalkit.quote_match import ArticleIndex, CasePolicy
from evalkit.quotes import Quote, extract_quotes
from evalkit.records import MetricSpec


class QuoteFidelityConfig(MetricConfig):
    case: CasePolicy = Field(
        "first", description="first: case-sensitive except each fragment's first letter; sensitive; insensitive")
    min_words: int = Field(2, ge=1, description="quotations with fewer words are reported but not counted")
    altered_threshold: float = Field(
        0.75, ge=0.0, le=1.0, description="similarity (rapidfuzz ratio, 0-1) from which a non-verbatim quote is 'altered'")
    bracket_max_words: int = Field(4, ge=0, description="words a [bracketed] insertion may stand for")
    check_nested: bool = Field(False, description="also check and count quotations nested in another")


class QuoteFidelity(Metric):
    name = "quotes"
    item_local = True
    Config = QuoteFidelityConfig
    config: QuoteFidelityConfig
    directions = {"quote_count": "none", "quote_altered": "lower", "quote_not_found": "lower"}

    def outputs(self) -> list[str]:
        return ["quote_fidelity", "quote_count", "quote_altered", "quote_not_found"]

    reads = ("summary", "source")
    #: pure Python per pair: large batches are computed in a process pool (evalkit/parallel.py)
    parallel = True

    def headline(self) -> list[str]:
        return ["quote_fidelity"]

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        c = self.config
        kind = f"quotes:index:{c.case}:{c.bracket_max_words}:{c.altered_threshold}"

        def build(article: str) -> ArticleIndex:  # one per distinct article, shared by every system
            return ArticleIndex(article, case=c.case, bracket_max_words=c.bracket_max_words,
                                altered_threshold=c.altered_threshold)

        return [self.score_one(pair.summary, context.texts.memo(kind, pair.source, build)) for pair in pairs]

    def _quotes(self, summary: str) -> list[Quote]:
        top = extract_quotes(summary)
        if not self.config.check_nested:
            return top
        return sorted((q for outer in top for q in outer.flatten()), key=lambda q: q.start)

    def score_one(self, summary: str, index: ArticleIndex) -> ItemScore:
        rows: list[dict[str, Any]] = []
        counts = {"verbatim": 0, "altered": 0, "not_found": 0}
        for q in self._quotes(summary):
            check = index.check(q.text)
            counted = q.words >= self.config.min_words and check.fragments > 0
            if counted:
                counts[check.verdict] += 1
            rows.append({
                "text": q.text,
                "summary_span": [q.start, q.end],
                "verdict": check.verdict,
                "counted": counted,
                "short": q.words < self.config.min_words,
                "similarity": check.similarity,
                "article_span": [check.spans[0][0], check.spans[-1][1]] if check.spans else None,
                "article_spans": [list(s) for s in check.spans],
                "closest": check.closest,
                "differences": check.differences,
                "differs": describe(check.differences),
                "fragments": check.fragments,
                "note": check.note,
                "nested": [n.text for n in q.nested] if not self.config.check_nested else [],
            })
        n = sum(counts.values())
        values = {
            "quote_fidelity": counts["verbatim"] / n if n else None,
            "quote_count": float(n),
            "quote_altered": float(counts["altered"]),
            "quote_not_found": float(counts["not_found"]),
        }
        detail: dict[str, Any] | None = (
            {"quotes": rows, "counts": {**counts, "short": sum(1 for r in rows if not r["counted"])}} if rows else None)
        return ItemScore(values=values, detail=detail)

    def identity(self) -> MetricSpec:
        from importlib.metadata import version

        spec = super().identity()
        spec.config.update({"library": "rapidfuzz", "library_version": version("rapidfuzz"),
                            "similarity": "rapidfuzz.fuzz.ratio over word windows, normalized, case-folded"})
        return spec
