"""Number fidelity: is every figure in the summary supported by the article?

Figures are extracted and normalized by :mod:`evalkit.numbers` (``£2.26bn`` = ``2.26 billion
pounds`` = ``£2,260m``, ``12%`` = ``12 per cent``, ``sixteen`` = ``16``, ``March 3, 2026`` =
``3 March 2026``). A summary figure is supported when the article has a figure with the
same value and a compatible unit:

- money needs the same currency, or an article figure with no currency (articles often
  drop the symbol on a repeat mention); a percentage needs a percentage (``16%`` is not
  supported by "16 managers"; percentage points only by percentage points; a fraction
  such as two-thirds supports 67%); a plain number is supported by any figure of that
  value; a year also by a date in that year; a date by a date with the same month and
  day (a missing day or year on either side is not a conflict, a missing day in the
  article is);
- rounding: the summary may round an article figure to its own precision when that
  changes the value by at most ``rounding_tolerance`` (default 5%): ``£2.3bn`` for
  ``£2.26bn`` and ``16%`` for ``15.6%`` pass, ``£2bn`` for ``£2.26bn`` does not; 0 turns
  rounding off.

Per item: ``number_fidelity`` = supported / figures (None when the summary has no
figures), ``number_count`` and ``number_unsupported``. The detail lists every figure with
its normalized value, whether and where (character offsets) the article supports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import Field, field_validator

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.number_support import SupportIndex
from evalkit.numbers import extract_figures

KINDS = ("number", "money", "percent", "fraction", "year", "decade", "date", "time")


class NumberFidelityConfig(MetricConfig):
    rounding_tolerance: float = Field(
        0.05, ge=0.0, le=1.0, description="largest relative change a summary's rounding may make (0: exact only)")
    skip_kinds: list[str] = Field(
        default_factory=list,
        description=f"figure kinds not checked (on the command line joined with '+': year+date), of: {', '.join(KINDS)}")

    @field_validator("skip_kinds", mode="before")
    @classmethod
    def _kinds(cls, v):
        if isinstance(v, str):
            v = [k for k in re.split(r"[+|;\s]+", v) if k]
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown figure kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        return v


class NumberFidelity(Metric):
    name = "numbers"
    item_local = True
    Config = NumberFidelityConfig
    config: NumberFidelityConfig
    directions = {"number_count": "none", "number_unsupported": "lower"}

    def outputs(self) -> list[str]:
        return ["number_fidelity", "number_count", "number_unsupported"]

    reads = ("summary", "source")
    #: pure Python per pair: large batches are computed in a process pool (evalkit/parallel.py)
    parallel = True

    def headline(self) -> list[str]:
        return ["number_fidelity"]

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        def build(article: str) -> SupportIndex:  # one extraction per distinct article
            return SupportIndex(extract_figures(article))

        return [self.score_one(pair.summary, context.texts.memo("numbers:index", pair.source, build))
                for pair in pairs]

    def score_one(self, summary: str, article: SupportIndex) -> ItemScore:
        rows = []
        for fig in extract_figures(summary):
            if fig.kind in self.config.skip_kinds:
                continue
            match, rounded = article.find(fig, self.config.rounding_tolerance)
            rows.append({
                "text": fig.text,
                "summary_span": [fig.start, fig.end],
                "kind": fig.kind,
                "normalized": fig.normalized,
                "supported": match is not None,
                "rounded": rounded,
                "article_span": None if match is None else [match.start, match.end],
                "article_text": None if match is None else match.text,
            })
        n = len(rows)
        unsupported = [r["text"] for r in rows if not r["supported"]]
        values = {
            "number_fidelity": (n - len(unsupported)) / n if n else None,
            "number_count": float(n),
            "number_unsupported": float(len(unsupported)),
        }
        return ItemScore(values=values, detail={"figures": rows, "unsupported": unsupported} if rows else None)
