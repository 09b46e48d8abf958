"""``evalkit run --resume DIR [--retry-failed]``: continue a run, and only the same run.

The run's manifest records its identity (gold hash, each system's identity digest, the
output cap). Resuming rebuilds every system from the manifest, recomputes its identity and
refuses, naming what changed, when the gold file or a system (its prompt file, script,
model files, library versions...) is no longer what the run was made with. Nothing is
written before these checks pass.

Secrets were never recorded: an option the manifest shows as ``***`` is supplied again from
``-s NAME=...`` given with ``--resume``, else from the config file's system of that name;
keys read from the environment (``api_key_env``) are read again at each request. If none
of these has it, resuming is refused with the option to supply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from evalkit.backends import Backend, parse_system
from evalkit.config import Config
from evalkit.errors import UsageError
from evalkit.identity import BuiltSystem, build_systems, close_systems, identity_changes
from evalkit.pipeline import finish_run, open_caches, reload_gold, scorers_from_manifest
from evalkit.records import Manifest, SystemSpec
from evalkit.redact import is_redacted, redact_value
from evalkit.rundir import RunDir

if TYPE_CHECKING:
    from evalkit.cache import PredictionCache
    from evalkit.executors import Executor
    from evalkit.run import Run
    from evalkit.score_cache import ScoreCache


def resume_run(path: Path | str, config: Config, *, systems: Sequence[str] = (),
               backends: Optional[Mapping[str, Backend]] = None, cache: Optional[PredictionCache] = None,
               max_errors: Optional[int] = None, progress: bool = False, retry_failed: bool = False,
               executor: Optional[Executor] = None, score_cache: Optional[ScoreCache] = None) -> Run:
    """Finish the run in directory ``path`` (see the module doc). ``systems``: ``-s`` texts that
    re-supply secrets; ``backends``: systems given again as built backends (a Backend instance
    or a function the run was made with), by name. ``executor``: where backends and metrics run
    (default: this process). ``score_cache``: scores computed before are read from it."""
    from evalkit.executors.local import LocalExecutor
    from evalkit.runner import run_built

    executor = executor or LocalExecutor()
    rundir = RunDir.open(path, require_complete=False)
    backends = dict(backends or {})
    with rundir.lock():
        manifest = rundir.read_manifest()
        if manifest.kind != "run":
            raise UsageError(f"{rundir.path} holds predictions scored by `evalkit score`; there is nothing to resume")
        if manifest.identity is None:
            raise UsageError(f"{rundir.path} was written by an evalkit that did not record the run's identity; "
                             f"it cannot be resumed safely: start a new run")
        gold = reload_gold(manifest)
        stray = [n for n in backends if n not in {s.name for s in manifest.systems}]
        if stray:
            raise UsageError(f"system {stray[0]!r} is not in run {manifest.run_id}")
        specs = resupply_secrets([s for s in manifest.systems if s.name not in backends], systems, config, rundir)
        specs = [next((s for s in specs if s.name == r.name), r) for r in manifest.systems]
        scorers = scorers_from_manifest(manifest)
        built = build_systems(specs, backends)
        try:
            check_systems(manifest, built)
            open_caches(cache, score_cache)
            with executor:  # Ray: joins or starts the cluster before anything is written
                manifest.complete = False
                rundir.write_manifest(manifest)
                predictions = run_built(gold, built, rundir, cache=cache, max_errors=max_errors, progress=progress,
                                        retry_failed=retry_failed, max_output_chars=manifest.identity.max_output_chars,
                                        executor=executor)
                close_systems(built)  # models unloaded before the metrics load theirs
                return finish_run(manifest, gold, predictions, scorers, min_items=config.stats.min_items,
                                  rundir=rundir, scoring=executor.score_predictions, prices=config.prices,
                                  progress=progress, score_cache=score_cache)
        finally:
            close_systems(built)


def check_systems(manifest: Manifest, built: Sequence[BuiltSystem]) -> None:
    """Refuse a system whose identity is not the one the run recorded, naming what changed."""
    assert manifest.identity is not None
    recorded = {s.name: s for s in manifest.identity.systems}
    for b in built:
        rec = recorded.get(b.name)
        if rec is None:
            raise UsageError(f"system {b.name!r} is not in run {manifest.run_id}")
        if rec.digest != b.digest:
            changed = identity_changes(rec.identity, b.identity) or ["its identity"]
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            raise UsageError(f"system {b.name!r} changed since run {manifest.run_id} started ({shown}); "
                             f"--resume continues only the same run: start a new one (--out NEW, or --overwrite)")


def resupply_secrets(recorded: Sequence[SystemSpec], given: Sequence[str], config: Config,
                     rundir: RunDir) -> list[SystemSpec]:
    """The run's systems with every redacted option supplied again (see the module doc)."""
    supplied = {s.name: s for s in (parse_system(t, config.systems) for t in given)}
    names = [s.name for s in recorded]
    stray = [n for n in supplied if n not in names]
    if stray:
        raise UsageError(f"--resume continues the run's own systems ({', '.join(names)}); -s {stray[0]!r} is not "
                         f"one of them (-s with --resume only re-supplies a system's secrets)")
    out = []
    for spec in recorded:
        if spec.name in supplied:
            new = supplied[spec.name]
            if new.backend != spec.backend:
                raise UsageError(f"-s {spec.name!r}: the run used backend {spec.backend!r}, not {new.backend!r}")
            out.append(new)  # everything but its secrets must match: the identity check decides
            continue
        missing = [k for k, v in spec.options.items() if is_redacted(v)]
        if not missing:
            out.append(spec)
            continue
        source = config.systems.get(spec.name)
        options = dict(spec.options)
        for key in missing:
            value = source.options.get(key) if source is not None and source.backend == spec.backend else None
            if value is None or is_redacted(value) or redact_value(key, value) != spec.options[key]:
                raise UsageError(
                    f"system {spec.name!r}: option {key!r} held a secret, which the run did not record; supply it "
                    f"again: evalkit run --resume {rundir.path} -s '{spec.name}={spec.backend}:...,{key}=...' (the "
                    f"system as first given), or define system {spec.name!r} in the config file")
            options[key] = value
        out.append(spec.model_copy(update={"options": options}))
    return out
