"""``evalkit merge SHARD_DIR... --out DIR``: shard runs into the run made in one piece, exactly.

The shards of a run (``evalkit run --shard I/N``, on as many machines as there are shards)
are merged only if they belong together — checked in merge_checks.py, each refusal one
line naming the difference. Then the merged run directory is written as one run over the
whole gold set:

* predictions: every shard's rows, in the order a one-piece run lists them (system, then
  gold file order);
* scores and details: concatenated from the shards for each item-local metric family
  (evalkit/scoring_split.py: rouge, quotes, numbers, extractiveness), in the order a
  one-piece run writes them. A family whose per-item numbers depend on the rest of the
  batch (bertscore, keypoints: an encoder's padded batches; idf), and an item-local family
  whose shards made statements about their own batch (notes, warnings), is scored again
  here over the whole set, in one context, as a one-piece run scores it;
* summary, CIs, comparisons and reports: recomputed over the whole set by the stages every
  run goes through (``pipeline.finish_run``), with the seed the shards share.

So scores.csv, details.jsonl, summary.json and comparisons.json are byte-identical to the
same run made in one piece with the same seed, given the same run directory name: a run's
id is its directory's name (summary.json and comparisons.json record it), for a merged run
as for any other. The merged manifest describes the whole gold set (``selection`` None)
and lists the shards in ``merged_from``; the rows keep the shards' ``cached`` flags, so a
run whose shards were answered by a cache counts those rows as cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pandas as pd

from evalkit.config import load_config
from evalkit.errors import UsageError
from evalkit.journal import write_rows_atomic
from evalkit.merge_checks import Shard, check_rows, check_together, load_full_gold, load_shards
from evalkit.metrics import ScoringContext
from evalkit.pipeline import finish_run, gold_ref, scorers_from_manifest
from evalkit.records import GoldSet, Manifest, MergedShard, MetricSpec, Prediction, RunIdentity
from evalkit.redact import redact_argv
from evalkit.rundir import SCORE_COLUMNS, RunDir, check_new_location, new_run_path
from evalkit.scoring import OnMetric, Scorer, ScoringResult, make_pairs
from evalkit.scoring_split import assemble, is_item_local, score_families

if TYPE_CHECKING:
    from evalkit.run import Run
    from evalkit.score_cache import ScoreCache


@dataclass
class MergeOptions:
    shards: Sequence[Path]
    out: Optional[Path] = None
    #: the full gold file (default: the source the shards recorded; its hash must be theirs)
    gold: Optional[str] = None
    config: Optional[Path] = None
    overwrite: bool = False
    argv: Sequence[str] = field(default_factory=tuple)
    #: show which report is being written (on a terminal)
    progress: bool = False


def merge_runs(opts: MergeOptions) -> Run:
    """Check that the shards belong together, then write the merged run (see the module doc)."""
    config = load_config(opts.config)
    shards = load_shards(opts.shards)
    check_together(shards)
    gold = load_full_gold(shards, opts.gold)
    predictions = merged_rows(shards, gold)
    scorers = scorers_from_manifest(shards[0].manifest)
    plan = rescore_plan(shards, scorers)
    out = new_run_path(opts.out, root=config.relative(config.run.out) if config.run.out else None)
    _not_a_shard(out, shards)
    check_new_location(out, overwrite=opts.overwrite)
    rundir = RunDir.create(out)
    with rundir.lock():
        check_new_location(out, overwrite=opts.overwrite, locked=True)
        if opts.overwrite:
            rundir.clear()
        manifest = merged_manifest(rundir, shards, gold, opts.argv)
        rundir.write_manifest(manifest)
        write_rows_atomic(rundir.predictions_path, predictions)
        recorded = list(shards[0].manifest.metrics)

        def scoring(gold: GoldSet, predictions: Sequence[Prediction], scorers: Sequence[Scorer],
                    source: str, cache: Optional[ScoreCache] = None, *,
                    on_metric: Optional[OnMetric] = None) -> ScoringResult:
            return merged_scores(shards, gold, predictions, scorers, recorded, plan, source)

        return finish_run(manifest, gold, predictions, scorers, min_items=config.stats.min_items, rundir=rundir,
                          scoring=scoring, prices=config.prices, progress=opts.progress)


def _not_a_shard(out: Path, shards: Sequence[Shard]) -> None:
    target = out.resolve()
    for shard in shards:
        if shard.rundir.path.resolve() == target:
            raise UsageError(f"--out {out} is one of the shards being merged; choose a new directory")


def merged_rows(shards: Sequence[Shard], gold: GoldSet) -> list[Prediction]:
    """Every row of every shard, in a one-piece run's order: system by system, in gold order."""
    rows: dict[tuple[str, str], Prediction] = {}
    for shard in shards:
        rows.update(check_rows(shard))
    systems = [s.name for s in shards[0].manifest.systems]
    return [rows[(s, item.id)] for s in systems for item in gold.items]


def rescore_plan(shards: Sequence[Shard], scorers: Sequence[Scorer]) -> set[str]:
    """The metric families scored again over the whole set (see the module doc)."""
    if len(shards) == 1:
        return set()  # one run over the whole set: its numbers and statements are the whole set's
    families = [s.metric.name for s in scorers]
    plan = {s.metric.name for s in scorers if not is_item_local(s)}
    for shard in shards:
        for note in shard.summary.notes:
            said = [f for f in families if note.startswith(f"{f}:")]
            if said:
                plan.add(said[0])
            elif not plan:  # a statement no family claims, and no family to be recomputed made it
                plan.update(families)
    for scorer in scorers:
        if scorer.metric.name in plan:
            mine = scorer.spec()
            theirs = next(m for m in shards[0].manifest.metrics if m.name == scorer.metric.name)
            if mine != theirs:
                from evalkit.identity import identity_changes

                diff = ", ".join(identity_changes(theirs.model_dump(), mine.model_dump())[:4])
                raise UsageError(f"cannot merge: metric {scorer.metric.name!r} must be computed again over the whole "
                                 f"set, and here it would not be the metric the shards recorded ({diff} differ): "
                                 f"merge on a machine with the shards' libraries and models")
    return plan


def merged_scores(shards: Sequence[Shard], gold: GoldSet, predictions: Sequence[Prediction],
                  scorers: Sequence[Scorer], recorded: list[MetricSpec], plan: set[str], source: str) -> ScoringResult:
    """The shards' scores of the kept families, the planned ones computed here, assembled in run order."""
    again = [s for s in scorers if s.metric.name in plan]
    computed = dict(zip((s.metric.name for s in again),
                        score_families(make_pairs(gold, predictions, source=source), again, ScoringContext())))
    ok = [p for p in predictions if p.ok]
    position = {(p.system, p.gold_id): i for i, p in enumerate(ok)}
    parts = []
    for spec in recorded:
        part = computed.get(spec.name)
        parts.append(part if part is not None else _kept(shards, spec, position))
    result = assemble(scorers, parts)
    result.metrics = recorded  # what was computed is what the shards recorded (checked)
    if len(shards) == 1:
        result.notes, result.warnings = list(shards[0].summary.notes), []
    return result


def _kept(shards: Sequence[Shard], spec: MetricSpec, position: dict[tuple[str, str], int]) -> ScoringResult:
    """One family's scores and details from the shards, in a one-piece run's order."""
    outputs = {o: j for j, o in enumerate(spec.outputs)}
    frames = []
    for shard in shards:
        frame = shard.scores[shard.scores["metric"].isin(list(outputs))]
        known = [(s, g) in position for s, g in zip(frame["system"], frame["gold_id"])]
        if not all(known) or len(frame) != len(shard.ok_rows) * len(outputs):
            raise UsageError(f"cannot merge: {shard.label}: its scores of metric {spec.name!r} do not match its "
                             f"predictions; re-score it (evalkit score --run {shard.label}) and merge again")
        frames.append(frame[SCORE_COLUMNS])
    scores = pd.concat(frames, ignore_index=True)
    key = [position[(s, g)] * len(outputs) + outputs[m]
           for s, g, m in zip(scores["system"], scores["gold_id"], scores["metric"])]
    scores = scores.iloc[sorted(range(len(key)), key=key.__getitem__)].reset_index(drop=True)
    scores["value"] = scores["value"].astype("float64")
    details = sorted((d for shard in shards for d in shard.details if d.metric == spec.name),
                     key=lambda d: position[(d.system, d.gold_id)])
    return ScoringResult(scores, details, [spec])


def merged_manifest(rundir: RunDir, shards: Sequence[Shard], gold: GoldSet, argv: Sequence[str]) -> Manifest:
    first = shards[0].manifest
    assert first.identity is not None
    commits = {s.manifest.git_commit for s in shards}
    return Manifest(
        run_id=rundir.run_id, evalkit_version=first.evalkit_version, versions=first.versions, gold=gold_ref(gold),
        systems=list(first.systems), metrics=list(first.metrics), seed=first.seed, selection=None,
        git_commit=commits.pop() if len(commits) == 1 else None, argv=redact_argv(argv),
        identity=RunIdentity(gold_hash=gold.hash, systems=list(first.identity.systems),
                             max_output_chars=first.identity.max_output_chars),
        complete=False,
        merged_from=[MergedShard(path=str(s.rundir.path), run_id=s.manifest.run_id, created=s.manifest.created,
                                 items=len(s.ids), git_commit=s.manifest.git_commit,
                                 shard_index=s.manifest.selection.shard_index if s.manifest.selection else None,
                                 shard_count=s.manifest.selection.shard_count if s.manifest.selection else None)
                     for s in shards])
