"""``Run``: one evaluation run, held in memory or read from a run directory.

The same class whether ``evalkit.evaluate(..., out=None)`` just made it or ``evalkit.load_run``
read it from disk, and every report is rendered from it (terminal, Markdown, HTML), so both
give the same reports. A run read from disk reads its tables when first asked for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from evalkit.comparison_records import RunComparisons
from evalkit.records import GoldItem, GoldSet, ItemDetail, Manifest, Prediction, RunSummary

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.compare import Comparison
    from evalkit.gate import GateReport, GateRules
    from evalkit.rundir import RunDir


class Run:
    """One evaluation run: what ran (``manifest``), the per-system statistics (``summary``), the
    pairwise comparisons every report shows (``comparisons``), and its tables as DataFrames.

    Made by :func:`evalkit.evaluate`, :func:`evalkit.score` or read by :func:`evalkit.load_run`;
    ``path`` is its run directory (None: held in memory only).
    """

    def __init__(self, manifest: Manifest, summary: RunSummary, *, comparisons: Optional[RunComparisons] = None,
                 scores: Optional[pd.DataFrame] = None, predictions: Optional[Sequence[Prediction]] = None,
                 details: Optional[Sequence[ItemDetail]] = None, gold: Optional[GoldSet] = None,
                 path: Optional[Path] = None, warnings: Sequence[str] = (), notes: Sequence[str] = ()) -> None:
        self.manifest = manifest
        self.summary = summary
        #: the run directory it was written to or read from (None: in memory only)
        self.path = Path(path) if path is not None else None
        #: what a reader must know about how the run went (outputs cut at the token limit, text a metric dropped)
        self.warnings = list(warnings)
        self._notes = list(notes)
        self._comparisons = comparisons
        self._comparisons_note: Optional[str] = None
        self._scores = scores
        self._predictions = list(predictions) if predictions is not None else None
        self._details = list(details) if details is not None else None
        self._gold = gold
        self._gold_loaded = gold is not None
        self._gold_notes: list[str] = []

    # --- reading a run directory ----------------------------------------------------------------
    @classmethod
    def load(cls, path: Union[str, Path]) -> Run:
        """The finished run in directory ``path`` (an incomplete one is refused, saying how to finish it)."""
        from evalkit.rundir import RunDir

        rundir = RunDir.open(path)
        return cls(rundir.read_manifest(), rundir.read_summary(), path=rundir.path)

    def _dir(self) -> Optional[RunDir]:
        from evalkit.rundir import RunDir

        return RunDir(self.path) if self.path is not None else None

    # --- the records ----------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's id (its directory name when written)."""
        return self.manifest.run_id

    @property
    def systems(self) -> list[str]:
        """The systems of the run, in run order."""
        return list(self.summary.systems) or [s.name for s in self.manifest.systems]

    @property
    def notes(self) -> list[str]:
        """What a reader must know about this reading of the run (e.g. its comparisons were computed now)."""
        return self._notes + ([self._comparisons_note] if self._comparisons_note else [])

    @property
    def comparisons(self) -> RunComparisons:
        """Every pair of systems on every ranked headline metric (``comparisons.json``)."""
        if self._comparisons is None:
            from evalkit.comparisons import compute_comparisons, load_comparisons

            rundir = self._dir()
            if rundir is not None:
                self._comparisons, self._comparisons_note = load_comparisons(rundir, self.summary, self._scores)
            else:
                self._comparisons = compute_comparisons(self.summary, self.scores)
        return self._comparisons

    def comparisons_at(self, min_items: Optional[int]) -> tuple[RunComparisons, Optional[str]]:
        """The comparisons with another ``min_items`` (None or the run's own: the run's), and a
        note when they had to be computed now (same function, same seeds)."""
        own = self.comparisons
        if min_items is None or min_items == own.min_items:
            return own, self._comparisons_note
        from evalkit.comparisons import compute_comparisons

        where = f"{self.path / 'comparisons.json'}" if self.path is not None else "the run's comparisons"
        return (compute_comparisons(self.summary, self.scores, min_items=min_items),
                f"{where} was computed with min_items={own.min_items}, not {min_items}: comparisons computed now")

    def with_comparisons(self, comparisons: RunComparisons, note: Optional[str] = None) -> Run:
        """The same run with other comparisons (another ``min_items``), for rendering."""
        other = Run(self.manifest, self.summary, comparisons=comparisons, scores=self._scores,
                    predictions=self._predictions, details=self._details, gold=self._gold if self._gold_loaded else None,
                    path=self.path, warnings=self.warnings, notes=[*self._notes, *([note] if note else [])])
        return other

    @property
    def scores(self) -> pd.DataFrame:
        """The tidy scores table as held (``scores_df()`` returns a copy)."""
        if self._scores is None:
            rundir = self._dir()
            assert rundir is not None, "an in-memory run always holds its scores"
            self._scores = rundir.read_scores()
        return self._scores

    @property
    def predictions(self) -> list[Prediction]:
        """One row per (system, item): what each system wrote, or its error."""
        if self._predictions is None:
            rundir = self._dir()
            self._predictions = rundir.read_predictions(self.manifest) if rundir is not None else []
        return self._predictions

    @property
    def details(self) -> list[ItemDetail]:
        """Per-item diagnostics of the metrics (quote verdicts, figures, key points...)."""
        if self._details is None:
            rundir = self._dir()
            self._details = rundir.read_details() if rundir is not None else []
        return self._details

    @property
    def gold(self) -> Optional[GoldSet]:
        """The gold set the run was made on: held, or read again from the source the manifest
        records when it still has the recorded content (None otherwise: see ``gold_notes``)."""
        if not self._gold_loaded:
            self._gold, self._gold_notes = recorded_gold(self.manifest)
            self._gold_loaded = True
        return self._gold

    @property
    def gold_notes(self) -> list[str]:
        """Why the gold set is not (exactly) available, when it is not."""
        _ = self.gold
        return list(self._gold_notes)

    def gold_items(self) -> dict[str, GoldItem]:
        """The gold items by id (empty when the gold set cannot be read)."""
        gold = self.gold
        return gold.by_id() if gold is not None else {}

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
        return max(counts.items(), key=lambda kv: kv[1]) if counts else ("", 0)

    # --- DataFrames -----------------------------------------------------------------------------
    def scores_df(self) -> pd.DataFrame:
        """Tidy scores: one row per (system, gold_id, metric) with its ``value`` (NaN: not applicable)."""
        from evalkit.frames import scores_frame

        return scores_frame(self.scores)

    def wide_df(self) -> pd.DataFrame:
        """One row per (system, item), one column per metric output (NaN: not applicable or failed)."""
        from evalkit.frames import wide_frame

        return wide_frame(self.scores, self.predictions, self.summary.metrics or self.manifest.metrics)

    def predictions_df(self) -> pd.DataFrame:
        """One row per (system, item): summary, key points, ok, error, latency, cache hit, model, tokens."""
        from evalkit.frames import predictions_frame

        return predictions_frame(self.predictions)

    def details_df(self) -> pd.DataFrame:
        """One row per quote, figure and key point judged: system, gold_id, metric, kind, verdict,
        text, match, similarity, note and summary / article offsets (see :func:`evalkit.frames.details_frame`)."""
        from evalkit.frames import details_frame

        return details_frame(self.details)

    def summary_df(self) -> pd.DataFrame:
        """One row per (system, metric): direction, mean, CI bounds, n and items not applicable."""
        from evalkit.frames import summary_frame

        return summary_frame(self.summary)

    # --- judging --------------------------------------------------------------------------------
    def compare(self, a: Union[str, Run, None] = None, b: Optional[str] = None, *,
                metric: Union[str, Sequence[str], None] = None, systems: Optional[Sequence[str]] = None,
                force: bool = False, alpha: float = 0.05, n_resamples: Optional[int] = None, seed: Optional[int] = None,
                min_items: Optional[int] = None) -> Comparison:
        """Paired comparisons with plain-language verdicts.

        ``run.compare("lead", "llm", metric="rougeLsum")``: two systems of this run (no
        arguments: every pair of its systems, or of ``systems``), with the numbers of its
        comparisons.json. ``run.compare(other_run)``: this run (A) against another (B), each
        system with itself (``systems`` to choose). ``metric``: one or more outputs (default: the
        headline metrics). Descriptive outputs are never called better; pairs with fewer than
        ``min_items`` shared items are "too few items to compare". Runs on different gold sets or
        metric configurations are refused unless ``force``.
        """
        from evalkit.compare import compare_runs

        metrics = [metric] if isinstance(metric, str) else list(metric) if metric is not None else None
        if isinstance(a, Run):
            if b is not None:
                raise TypeError("compare(other_run) takes no second system; use systems=[...]")
            return compare_runs(self, a, systems=systems, metrics=metrics, force=force, alpha=alpha,
                                n_resamples=n_resamples, seed=seed, min_items=min_items)
        names = [s for s in (a, b) if s is not None] or (list(systems) if systems else None)
        return compare_runs(self, None, systems=names, metrics=metrics, force=force, alpha=alpha,
                            n_resamples=n_resamples, seed=seed, min_items=min_items)

    def gate(self, config: Optional[GateRules] = None, *, baseline: Union[str, Path, None] = None,
             n_resamples: int = 10000, min_items: Optional[int] = None) -> GateReport:
        """Judge the run against gate rules; ``report.passed`` / ``report.exit_code`` say how it went.

        ``config``: a config file with a ``[gate]`` table, a ``Config``, a ``GateConfig`` or the
        ``[gate]`` table as a dict (None: ``./evalkit.toml`` or ``[tool.evalkit]`` in
        ``./pyproject.toml``, as ``evalkit gate`` does). ``baseline``: the baseline file for
        ``max_drop`` rules (default: the ``baseline`` the rules name, relative to the config file).
        """
        from evalkit.gate import gate_run

        return gate_run(self, config, baseline=baseline, n_resamples=n_resamples, min_items=min_items)

    # --- reports --------------------------------------------------------------------------------
    def to_markdown(self, path: Union[str, Path, None] = None) -> str:
        """The Markdown report (leaderboard, failures, pairwise comparisons); written to ``path`` if given."""
        from evalkit.report.markdown import render_run

        return _written(render_run(self), path)

    def to_html(self, path: Union[str, Path, None] = None) -> str:
        """The self-contained HTML report; written to ``path`` if given."""
        from evalkit.report.html import render_run_html

        return _written(render_run_html(self), path)

    def leaderboard(self, title: Optional[str] = None) -> Any:
        """The terminal leaderboard as a Rich renderable (``rich.print(run.leaderboard())``)."""
        from evalkit.report.terminal import leaderboard_view

        return leaderboard_view(self, title=title)

    def _repr_markdown_(self) -> str:  # how a notebook shows a Run
        return self.to_markdown()

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path is not None else " (in memory)"
        return (f"<evalkit.Run {self.run_id}{where}: {len(self.systems)} systems × {self.manifest.gold.items} items "
                f"of {self.manifest.gold.name}>")

    # --- writing --------------------------------------------------------------------------------
    def save(self, out: Union[str, Path], *, overwrite: bool = False) -> Run:
        """Write this run (held in memory) as a run directory, as ``evaluate(..., out=out)`` would
        have; returns the run as read back from there."""
        from evalkit.rundir import RunDir, check_new_location

        target = Path(out)
        check_new_location(target, overwrite=overwrite)
        rundir = RunDir.create(target)
        with rundir.lock():
            check_new_location(target, overwrite=overwrite, locked=True)
            if overwrite:
                rundir.clear()
            write_run(self, rundir, with_predictions=True)
        return Run.load(target)


def write_run(run: Run, rundir: RunDir, *, with_predictions: bool = False, progress: bool = False) -> None:
    """Persist a finished run into ``rundir`` (whose lock the caller holds), in crash-safe order:
    the manifest marked incomplete → (predictions) → scores → details → summary →
    comparisons.json → report.md, report.html → the manifest marked complete, last.
    ``progress``: say which file is being written (on a terminal)."""
    from evalkit.comparisons import comparisons_path
    from evalkit.fsutil import write_json_atomic, write_text_atomic
    from evalkit.journal import write_rows_atomic
    from evalkit.progress import Steps
    from evalkit.report.html import render_run_html
    from evalkit.report.markdown import render_run

    manifest = run.manifest.model_copy(update={"complete": False})
    rundir.write_manifest(manifest)
    if with_predictions:
        write_rows_atomic(rundir.predictions_path, run.predictions)
    rundir.write_scores(run.scores)
    rundir.write_details(run.details)
    rundir.write_summary(run.summary)
    write_json_atomic(comparisons_path(rundir), run.comparisons.model_dump(mode="json"))
    on_disk = run.with_comparisons(run.comparisons)
    on_disk.path = rundir.path
    with Steps("writing reports", enabled=progress, total=2) as steps:
        with steps.step(rundir.report_md.name):
            write_text_atomic(rundir.report_md, render_run(on_disk))
        with steps.step(rundir.report_html.name):
            write_text_atomic(rundir.report_html, render_run_html(on_disk))
    manifest.complete = True
    rundir.write_manifest(manifest)
    run.manifest.complete = True
    run.path = rundir.path


def recorded_gold(manifest: Manifest) -> tuple[Optional[GoldSet], list[str]]:
    """The gold set the manifest records, read again from its source (the part the run recorded:
    ``--limit``, ``--sample``, ``--shard``), and notes for a reader when it cannot be read or changed."""
    from evalkit.errors import EvalkitError
    from evalkit.gold import load_gold

    try:
        gold = load_gold(manifest.gold.source)
    except EvalkitError as e:
        return None, [f"Articles are not shown: the gold set could not be loaded ({e})."]
    if gold.hash == manifest.gold.hash:
        return gold, []
    from evalkit.subset import reselect

    try:  # a run on part of the gold set (--limit, --sample, --shard)
        part: Optional[GoldSet] = reselect(gold, manifest.selection, limit=manifest.limit or manifest.gold.items)
    except EvalkitError:
        part = None
    if part is not None and part.hash == manifest.gold.hash:
        return part, []
    return gold, [f"The gold file {manifest.gold.source} has changed since this run "
                  f"({gold.hash[:19]}… vs {manifest.gold.hash[:19]}…): articles shown may differ."]


def _written(text: str, path: Union[str, Path, None]) -> str:
    if path is not None:
        from evalkit.fsutil import write_text_atomic
        from evalkit.rundir import refuse_run_record

        refuse_run_record(path, "the report")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)
    return text
