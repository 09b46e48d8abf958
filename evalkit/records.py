"""The nouns of evalkit: typed, versioned records written to and read from run directories.

Every record that reaches disk carries ``schema_version`` so that a later evalkit can
refuse (or migrate) files it does not understand instead of misreading them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

#: which way a metric output is better: "higher", "lower", or "none" (descriptive: length, density, counts...;
#: never ranked, starred or called better)
Direction = Literal["higher", "lower", "none"]
DIRECTIONS: tuple[Direction, ...] = ("higher", "lower", "none")


class Record(BaseModel):
    """Base for every record: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class GoldItem(Record):
    """One article with its reference key points (and optional reference summary)."""

    id: str = Field(min_length=1)
    article: str
    key_points: list[str] = Field(min_length=1)
    title: Optional[str] = None
    summary: Optional[str] = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("article")
    @classmethod
    def _article_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("article is empty")
        return v

    @field_validator("key_points")
    @classmethod
    def _key_points_not_blank(cls, v: list[str]) -> list[str]:
        for i, kp in enumerate(v):
            if not kp.strip():
                raise ValueError(f"key point {i + 1} is empty")
        return v

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class GoldSet(BaseModel):
    """A named, hashed collection of gold items (order as loaded; ids unique)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str
    source: str
    items: list[GoldItem]

    @property
    def hash(self) -> str:
        """sha256 over the canonical form: items sorted by id, JSON with sorted keys.

        Reordering a file does not change the hash; any change of content does.
        """
        canon = [i.canonical() for i in sorted(self.items, key=lambda i: i.id)]
        blob = json.dumps(canon, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def by_id(self) -> dict[str, GoldItem]:
        return {i.id: i for i in self.items}

    def __len__(self) -> int:
        return len(self.items)


class Usage(Record):
    """Tokens a model call consumed, as the server (or the local tokenizer) counted them."""

    prompt_tokens: Optional[int] = Field(None, ge=0)
    completion_tokens: Optional[int] = Field(None, ge=0)


class Prediction(Record):
    """What one system wrote for one gold item (one row of ``predictions.jsonl``).

    ``system_digest`` is the identity digest of the system configuration that produced the
    row (see ``SystemIdentity``); ``model``, ``usage`` and ``finish_reason`` are what the
    backend reported about the call (``finish_reason="length"``: the output was cut at the
    token limit; such a row is scored as written but never cached).
    """

    schema_version: int = SCHEMA_VERSION
    gold_id: str
    system: str
    summary: Optional[str] = None
    key_points: list[str] = Field(default_factory=list)
    latency_s: Optional[float] = None
    error: Optional[str] = None
    cached: bool = False
    system_digest: Optional[str] = None
    model: Optional[str] = None
    usage: Optional[Usage] = None
    finish_reason: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.summary is not None


class SystemSpec(Record):
    """A system: a display name, the backend that implements it and its options.

    ``options`` are stored with secrets already redacted when written to a manifest.
    """

    name: str
    backend: str
    options: dict[str, Any] = Field(default_factory=dict)


class MetricSpec(Record):
    """A metric family (``rouge``, ``bertscore``, ...) and its full configuration."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list)
    #: the outputs leaderboards show by default (e.g. rouge1 but not rouge1_p)
    headline: list[str] = Field(default_factory=list)
    #: each output's direction; empty in runs made before directions were recorded (then unknown, never assumed)
    directions: dict[str, Direction] = Field(default_factory=dict)

    def direction(self, output: str) -> Optional[Direction]:
        """The recorded direction of ``output``; None when this spec does not record one."""
        return self.directions.get(output)


def recorded_direction(metric: str, specs: Sequence[MetricSpec]) -> Optional[Direction]:
    """The direction recorded for output ``metric`` in the first spec that lists it (None: not recorded)."""
    for spec in specs:
        if metric in spec.outputs:
            return spec.direction(metric)
    return None


class GoldRef(Record):
    name: str
    source: str
    hash: str
    items: int


class GoldSelection(Record):
    """A run on part of a gold set (``--limit``, ``--sample``, ``--shard``): see subset.py.

    ``full_hash``/``full_items`` describe the whole gold set the part was taken from;
    ``item_ids`` the items the run holds, in the gold file's order.
    """

    method: Literal["limit", "sample", "shard"]
    full_hash: str
    full_items: int
    item_ids: list[str]
    limit: Optional[int] = None
    sample: Optional[int] = None
    seed: Optional[int] = None
    shard_index: Optional[int] = None
    shard_count: Optional[int] = None


class MergedShard(Record):
    """One of the runs a merged run was made from (``evalkit merge``; see merge.py)."""

    path: str
    run_id: str
    created: str
    items: int
    shard_index: Optional[int] = None
    shard_count: Optional[int] = None
    git_commit: Optional[str] = None


class SystemIdentity(Record):
    """What determines one system's outputs, and its digest.

    ``identity`` is the backend's output identity (name, class, every option except secrets
    and runtime-only ones, the prompt text, model revision / file fingerprints); ``digest``
    is its sha256, the same one the prediction cache keys on and every journal row carries.
    """

    name: str
    digest: str
    identity: dict[str, Any] = Field(default_factory=dict)


class RunIdentity(Record):
    """What a run directory is a record of: ``--resume`` continues only the same identity."""

    gold_hash: str
    systems: list[SystemIdentity]
    #: a backend output longer than this is recorded as that row's error
    max_output_chars: int

    def digests(self) -> dict[str, str]:
        return {s.name: s.digest for s in self.systems}


class Manifest(Record):
    """Everything needed to know what a run was: written as ``manifest.json``.

    ``complete`` is False from the moment a process starts writing the run directory until
    every other file is written; ``finish_run`` sets it True last. None: written by an
    evalkit that did not track completion (read as complete).
    """

    schema_version: int = SCHEMA_VERSION
    run_id: str
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    kind: str = "run"  # "run" (systems were called) or "score" (predictions came from a file)
    evalkit_version: str
    versions: dict[str, str] = Field(default_factory=dict)
    gold: GoldRef
    systems: list[SystemSpec] = Field(default_factory=list)
    metrics: list[MetricSpec] = Field(default_factory=list)
    seed: int = 0
    limit: Optional[int] = None
    #: the part of the gold set this run holds (None: all of it); ``gold`` describes that part
    selection: Optional[GoldSelection] = None
    git_commit: Optional[str] = None
    argv: list[str] = Field(default_factory=list)
    identity: Optional[RunIdentity] = None
    #: a merged run (``evalkit merge``): the shard runs it was made from, in shard order; it holds
    #: the whole gold set (``selection`` None), like the same run made in one piece
    merged_from: Optional[list[MergedShard]] = None
    complete: Optional[bool] = None


class MetricStat(Record):
    """Mean and bootstrap CI of one metric for one system."""

    mean: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    n: int
    n_not_applicable: int = 0


class ErrorCount(Record):
    """One distinct error message of a system's failed rows and how many rows failed with it."""

    message: str
    count: int


class Price(Record):
    """What a model costs: US dollars per million prompt (``input``) and completion (``output``) tokens."""

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)


class SystemUsage(Record):
    """What a system's calls consumed (see evalkit/usage.py): tokens as the server (or the local
    tokenizer) counted them, the latency percentiles of its rows, and the cost by the price table."""

    #: rows that returned a summary (latency percentiles are over these)
    rows: int
    #: rows that reported token counts (the token totals and the cost are over these)
    rows_with_usage: int = 0
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    latency_p50: Optional[float] = None  # seconds
    latency_p95: Optional[float] = None
    #: US dollars for every row with token counts (cached rows at the usage recorded when they were
    #: made); None when no row reported tokens or a model has no price (``unpriced``)
    cost_usd: Optional[float] = None
    #: the model names the rows were priced under (the server's, else the system's configured model)
    models: list[str] = Field(default_factory=list)
    #: models that reported tokens but have no entry in the price table
    unpriced: list[str] = Field(default_factory=list)

    @property
    def total_tokens(self) -> Optional[int]:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class SystemSummary(Record):
    items: int
    ok: int
    failed: int
    cached: int = 0
    metrics: dict[str, MetricStat] = Field(default_factory=dict)
    #: the most frequent error messages of the failed rows, most frequent first (ties: by message)
    errors: list[ErrorCount] = Field(default_factory=list)
    #: tokens, latency percentiles and cost (None: a summary written before usage was recorded)
    usage: Optional[SystemUsage] = None


class RunSummary(Record):
    """Per system and metric: mean, CI, n; counts of ok and failed items (``summary.json``)."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    gold: GoldRef
    confidence: float = 0.95
    n_resamples: int = 10000
    seed: int = 0
    systems: dict[str, SystemSummary]
    metrics: list[MetricSpec] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    #: which of ``notes`` a reader must not miss (a metric dropped text, outputs were cut...); the
    #: others are informational (throughput, how work was shared). None: not recorded (older runs)
    warnings: Optional[list[str]] = None
    #: the ``[prices]`` entries the costs were computed with (model -> USD per million tokens)
    prices: dict[str, Price] = Field(default_factory=dict)


class ItemDetail(Record):
    """Per-item diagnostics a metric keeps for reports (quote verdicts, missed key points, ...)."""

    schema_version: int = SCHEMA_VERSION
    system: str
    gold_id: str
    metric: str  # the metric family name, e.g. "quotes"
    detail: dict[str, Any]

