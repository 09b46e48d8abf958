"""What a metric is: a family name, a typed config, the score names it outputs, and a pure
``score(pairs) -> list[ItemScore]`` over a whole batch (all systems at once, so that
expensive work such as reference embeddings is shared).

A metric does no I/O besides loading its model; its config (``identity()``) is recorded in
the manifest and is part of the score cache key. Built-ins and plug-ins register through
the ``evalkit.metrics`` entry-point group.

Two ways to write one. The simple way: override ``score`` (every pair, run-level warnings
appended to the context as you go). The cache-friendly way, which the built-ins use: override
``compute`` (per-item results only; per-item facts that run-level messages count go in
``ItemScore.flags``) and ``report`` (the run-level notes and warnings, from every pair's
results, cached or not). The score cache (evalkit/score_cache.py) then computes only the
pairs it has not seen and a warm run says exactly what a cold one says. ``reads`` names the
``Pair`` fields the metric reads: they (and nothing else of the pair) are in its cache key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict

from evalkit.records import DIRECTIONS, Direction, MetricSpec
from evalkit.text import TextStore, active_store

#: every content field of a Pair (what a metric that does not say otherwise is keyed on)
PAIR_FIELDS = ("summary", "source", "references", "key_points", "title")


class MetricConfig(BaseModel):
    """Base for a metric's configuration: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Pair:
    """One (system output, gold item) to score.

    ``references`` are the reference texts (for the shipped gold set: the key points joined
    by newlines; for SummEval: its reference summaries). ``key_points`` is the list form
    used by coverage metrics.
    """

    system: str
    gold_id: str
    summary: str
    source: str
    references: tuple[str, ...]
    key_points: tuple[str, ...] = ()
    title: Optional[str] = None


@dataclass
class ItemScore:
    """A metric's result for one pair: ``values`` by output name (None = not applicable) and
    optional diagnostics kept for reports (quote verdicts, missed key points, ...)."""

    values: dict[str, Optional[float]]
    detail: Optional[dict[str, Any]] = None
    #: facts about this item that the metric's run-level messages count (``Metric.report``);
    #: kept in the score cache, not written to details.jsonl
    flags: Optional[dict[str, Any]] = None


@dataclass
class ScoringContext:
    """Per-run state metrics may share (e.g. one text embedder used by BERTScore and
    key-point coverage), plus notes surfaced in the run summary (e.g. truncated inputs).

    ``texts`` is the run's :class:`~evalkit.text.TextStore`: each distinct text's sentences
    (split once, whichever metric or backend asks first) and per-text values metrics derive
    (tokens, figures, quotation indexes), keyed by content."""

    shared: dict[str, Any] = field(default_factory=dict)
    texts: TextStore = field(default_factory=lambda: active_store() or TextStore())
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Metric:
    """Base class. Subclasses set ``name``, ``Config`` and implement ``outputs`` and ``score``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[MetricConfig]] = MetricConfig
    #: loads a model (slow to start); the CLI says so in ``evalkit metrics``
    heavy: ClassVar[bool] = False
    #: the pip extra this metric needs (evalkit.extras), checked before it is built
    requires_extra: ClassVar[Optional[str]] = None
    #: each pair's result (values, detail) depends on that pair alone, never on the rest of the
    #: batch: its pairs may be scored in batches on Ray workers or in separate shards and the
    #: results concatenated (see evalkit/scoring_split.py). False (the safe default): the
    #: metric is always scored over a run's whole set in one call.
    item_local: ClassVar[bool] = False
    #: each output's direction: "higher" or "lower" is better, or "none" for a descriptive output
    #: (length, density, counts: shown, never ranked). Outputs not listed are "higher".
    #: Recorded in the metric's spec (manifest.json, summary.json); reports and the gate read
    #: the recorded spec, never this class.
    directions: ClassVar[Mapping[str, Direction]] = MappingProxyType({})
    #: the Pair fields the metric reads (its score cache key holds these and nothing else of a pair)
    reads: ClassVar[tuple[str, ...]] = PAIR_FIELDS
    #: ``compute`` is CPU-bound Python, per pair and picklable: a large batch may be split over
    #: a process pool (evalkit/parallel.py; results identical to the serial path)
    parallel: ClassVar[bool] = False

    def __init__(self, config: MetricConfig | None = None):
        self.config = config if config is not None else self.Config()
        #: the name the metric was found under: its entry-point name, or ``package.module:Class``
        #: when given that way (set by ``build_metric``). It is the family name recorded in the
        #: run's MetricSpec, so re-scoring and resuming find the same class again.
        self.family: str = self.name or f"{type(self).__module__}:{type(self).__qualname__}"

    def outputs(self) -> list[str]:
        raise NotImplementedError

    def headline(self) -> list[str]:
        """Outputs shown in leaderboards by default (e.g. F1 but not P/R)."""
        return self.outputs()

    def direction(self, output: str) -> Direction:
        """Which way ``output`` is better ("higher", "lower") or "none" (descriptive)."""
        d = self.directions.get(output, "higher")
        if d not in DIRECTIONS:
            raise ValueError(f"metric {self.name!r}: direction of {output!r} is {d!r}; use one of {', '.join(DIRECTIONS)}")
        return d

    def score(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        """Every pair's result, and the run-level messages (``compute`` then ``report``)."""
        results = self.compute(pairs, context)
        self.report(pairs, results, context)
        return results

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        """Per-pair results only: each must depend on its own pair alone (and the config)."""
        raise NotImplementedError

    def report(self, pairs: Sequence[Pair], results: Sequence[ItemScore], context: ScoringContext) -> None:
        """Append run-level notes/warnings to ``context``, from every pair's results."""

    def splits_work(self) -> bool:
        """True when ``compute``/``report`` are implemented (the score cache can serve some
        pairs and compute the rest); a metric overriding only ``score`` is computed whole."""
        return type(self).compute is not Metric.compute

    def cacheable(self) -> bool:
        """Whether an item's result depends only on its own pair and the config (so it may be
        cached per item). A metric whose values depend on the whole batch returns False."""
        return self.splits_work()

    def identity(self) -> MetricSpec:
        """Full configuration, recorded in the manifest (subclasses add library versions)."""
        outputs = self.outputs()
        return MetricSpec(name=self.family, config=self.config.model_dump(mode="json"), outputs=outputs,
                          headline=self.headline(), directions={o: self.direction(o) for o in outputs})
