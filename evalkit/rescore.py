"""``evalkit score --run DIR [--metrics ...]``: re-score a run's saved predictions in place.

Rows: the journal rows of the systems the manifest lists, made under the identity it
records (``RunDir.read_predictions``): rows of any other system are never brought back. An
item a system has no row for (a run interrupted before it) counts as a failed row, as
``evalkit score --predictions`` counts a missing prediction.

Metrics: without ``--metrics``, every metric the run has is computed again. With
``--metrics``, the named metrics are computed and **merged** into the run:

- a family the run has with the same configuration: the named outputs are recomputed, the
  run's other outputs of that family are kept (``--metrics rouge1`` keeps rouge2...);
- a family the run has with another configuration: the family is replaced (its old
  outputs were computed under the old configuration and are dropped);
- a family the run does not have: added;
- every other family the run has: kept as it is, scores, details and configuration.

The manifest's metric list is updated to match. Keeping scores needs a complete run (its
scores written from the same rows); an incomplete one is re-scored whole, with the named
metrics added.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pandas as pd

from evalkit.config import load_config
from evalkit.pipeline import finish_run, open_caches, reload_gold, resolve_scorers, scorers_from_manifest
from evalkit.records import GoldSet, Manifest, MetricSpec, Prediction
from evalkit.rundir import SCORE_COLUMNS, RunDir
from evalkit.scoring import Scorer, ScoringResult

if TYPE_CHECKING:
    from evalkit.config import Config
    from evalkit.run import Run
    from evalkit.score_cache import ScoreCache


def rescore(path: Path, *, metrics: Optional[str] = None, config: Optional[Config] = None,
            config_path: Optional[Path] = None, progress: bool = False,
            score_cache: Optional[ScoreCache] = None) -> Run:
    """``score_cache``: results computed before (by any run) are read from it, new ones stored."""
    rundir = RunDir.open(path, require_complete=False)
    with rundir.lock():
        manifest = rundir.read_manifest()
        config = config if config is not None else load_config(config_path)
        gold = reload_gold(manifest)
        predictions = complete_rows(gold, manifest, rundir)
        recorded = scorers_from_manifest(manifest)
        open_caches(score_cache)  # a damaged cache: refused before anything is written
        if metrics is None:
            return finish_run(manifest, gold, predictions, recorded, min_items=config.stats.min_items, rundir=rundir,
                              prices=config.prices, progress=progress, score_cache=score_cache)
        scorers, keep = plan_merge(recorded, resolve_scorers(metrics, config), manifest, rundir)
        return finish_run(manifest, gold, predictions, scorers, keep=keep, min_items=config.stats.min_items,
                          rundir=rundir, prices=config.prices, progress=progress, score_cache=score_cache)


def complete_rows(gold: GoldSet, manifest: Manifest, rundir: RunDir) -> list[Prediction]:
    """One row per (manifest system, gold item): the journal's, else a failed "no prediction" row."""
    rows = {(p.system, p.gold_id): p for p in rundir.read_predictions(manifest)}
    digests = manifest.identity.digests() if manifest.identity is not None else {}
    why = (f"no prediction: the run stopped before this row (finish it with: evalkit run --resume {rundir.path})"
           if manifest.kind == "run" else "no prediction in the run's predictions file")
    out = []
    for spec in manifest.systems:
        for item in gold.items:
            out.append(rows.get((spec.name, item.id))
                       or Prediction(gold_id=item.id, system=spec.name, system_digest=digests.get(spec.name), error=why))
    return out


def plan_merge(recorded: Sequence[Scorer], requested: Sequence[Scorer], manifest: Manifest,
               rundir: RunDir) -> tuple[list[Scorer], Optional[ScoringResult]]:
    """The scorers to run, and what to keep of the run's scores (None: re-score everything)."""
    rec = {s.metric.family: s for s in recorded}
    req = {s.metric.family: s for s in requested}
    families = list(rec) + [f for f in req if f not in rec]
    can_keep = manifest.complete is not False and rundir.scores_parquet.is_file()
    to_run: list[Scorer] = []
    specs: list[MetricSpec] = []
    dropped: set[str] = set()  # outputs of the run whose old values go
    for family in families:
        old, new = rec.get(family), req.get(family)
        if new is None:
            assert old is not None
            specs.append(old.spec())
            if not can_keep:
                to_run.append(old)
            continue
        if old is not None and old.spec().config == new.spec().config:
            union = tuple(o for o in new.metric.outputs() if o in set(old.outputs) | set(new.outputs))
            specs.append(Scorer(new.metric, union).spec())
            to_run.append(new if can_keep else Scorer(new.metric, union))
            dropped |= set(new.outputs)
        else:
            specs.append(new.spec())
            to_run.append(new)
            dropped |= set(old.outputs) if old is not None else set()
            dropped |= set(new.outputs)
    if not can_keep:
        return to_run, None
    scores = rundir.read_scores()
    details = [d for d in rundir.read_details() if d.metric not in req]
    replaced = tuple(f"{f}:" for f in req)
    notes = [n for n in (rundir.read_summary().notes if rundir.summary_path.is_file() else []) if not n.startswith(replaced)]
    kept = scores[~scores["metric"].isin(dropped)].reset_index(drop=True)
    return to_run, ScoringResult(kept, details, specs, notes=notes)


def merge_scoring(keep: ScoringResult, new: ScoringResult, predictions: Sequence[Prediction]) -> ScoringResult:
    """``keep``'s scores, details and notes with ``new``'s, in the order a fresh run writes them
    (metric family, then row, then output); the metric list is ``keep.metrics``."""
    family_of = {o: i for i, spec in enumerate(keep.metrics) for o in spec.outputs}
    output_pos = {o: j for spec in keep.metrics for j, o in enumerate(spec.outputs)}
    row_pos = {(p.system, p.gold_id): i for i, p in enumerate(predictions)}
    scores = pd.concat([keep.scores[SCORE_COLUMNS], new.scores[SCORE_COLUMNS]], ignore_index=True)
    keys = pd.DataFrame({
        "family": scores["metric"].map(family_of).fillna(len(family_of)),
        "row": pd.Series(list(zip(scores["system"], scores["gold_id"])), dtype=object).map(row_pos).fillna(0),
        "output": scores["metric"].map(output_pos).fillna(0),
    })
    order = keys.sort_values(["family", "row", "output"], kind="stable").index
    scores = scores.loc[order].reset_index(drop=True)
    scores["value"] = scores["value"].astype("float64")
    family_index = {spec.name: i for i, spec in enumerate(keep.metrics)}
    details = sorted([*keep.details, *new.details],
                     key=lambda d: (family_index.get(d.metric, len(family_index)), row_pos.get((d.system, d.gold_id), 0)))
    notes = list(dict.fromkeys([*keep.notes, *new.notes]))
    return ScoringResult(scores, details, list(keep.metrics), notes, list(new.warnings))
