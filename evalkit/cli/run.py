"""``evalkit run`` and ``evalkit score``: produce a run directory and print its leaderboard."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from evalkit.cli._common import JsonOption, cli_errors, err, out, print_json
from evalkit.report.textsafe import rich_safe, visible_controls

if TYPE_CHECKING:  # the pipeline pulls pandas: imported by the commands that run, not by --help
    from evalkit.pipeline import RunOutcome

GoldOpt = Annotated[Optional[str], typer.Option("--gold", "-g", help="Gold set: .jsonl/.json/.csv/.parquet path or hf:NAME[:CONFIG][:SPLIT]. Default: the shipped news-v1 gold set (evalkit gold validate prints its path).")]
MetricsOpt = Annotated[Optional[str], typer.Option("--metrics", "-m", help="Comma-separated metrics or outputs, with options: rouge,quotes,numbers,keypoints,bertscore,extractiveness; rouge:tokenizer=unicode. See `evalkit metrics`.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Config file (default: ./evalkit.toml or [tool.evalkit] in ./pyproject.toml).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory to write (default: reports/runs/<run id>).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Seed for bootstrap CIs and --sample (default 0).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="--out may name an existing run directory: its run files are deleted first (a run directory holds one run).")]
FieldOpt = Annotated[Optional[list[str]], typer.Option("--field", help="Map a gold field to a dataset column, e.g. --field key_points=highlights (repeatable).")]


def _fields(pairs: Optional[list[str]]) -> dict[str, str]:
    from evalkit.errors import UsageError

    out_: dict[str, str] = {}
    for p in pairs or []:
        if "=" not in p:
            raise UsageError(f"--field {p!r}: use GOLD_FIELD=COLUMN")
        k, _, v = p.partition("=")
        out_[k.strip()] = v.strip()
    return out_


def _render(outcome: RunOutcome, as_json: bool, quiet: bool = False) -> None:
    from evalkit.report.terminal import leaderboard_rows, leaderboard_view

    if as_json:
        from evalkit.comparisons import load_comparisons

        comparisons, _ = load_comparisons(outcome.rundir, outcome.summary)
        print_json({"run_dir": str(outcome.rundir.path), "run_id": outcome.manifest.run_id,
                    "gold": outcome.manifest.gold.model_dump(),
                    "leaderboard": leaderboard_rows(outcome.summary, comparisons), "warnings": outcome.warnings,
                    "failed_systems": outcome.failed_systems})
        return
    for w in outcome.warnings:
        err.print(f"[bold yellow]warning:[/] {rich_safe(w)}")
    out.print(leaderboard_view(outcome.rundir, outcome.summary,
                               title=f"{outcome.manifest.gold.name} · {outcome.manifest.gold.items} items"))
    out.print(f"run directory: {rich_safe(outcome.rundir.path)}")


def _exit_if_a_system_failed(outcome: RunOutcome) -> None:
    """Exit 1 when a system produced no summary at all (every one of its rows failed)."""
    failed = outcome.failed_systems
    for name in failed:
        message, count = outcome.top_error(name)
        items = outcome.summary.systems[name].items
        print(visible_controls(f"error: system {name!r}: all {items} rows failed; most frequent error ({count}x): {message}"),
              file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def run(
    systems: Annotated[Optional[list[str]], typer.Option("--system", "-s", help="A system: a name from the config, or [NAME=]BACKEND[:key=value,...] (repeatable). Default: lead, textrank, oracle.")] = None,
    gold: GoldOpt = None,
    metrics: MetricsOpt = None,
    config: ConfigOpt = None,
    out_dir: OutOpt = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Finish an interrupted run in this run directory (no row is redone or duplicated); refused if the gold set or a system changed since.")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="With --resume: redo the rows that failed.")] = False,
    overwrite: OverwriteOpt = False,
    max_output_chars: Annotated[Optional[int], typer.Option("--max-output-chars", help="A backend output longer than this is recorded as that row's error, never scored (default 200000, or [run] max_output_chars).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Use only the first N gold items.")] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", help="Use a seeded random sample of N gold items (--seed S; the same items whatever the file order).")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run shard I of N (I/N, numbered 0..N-1; balanced by article length) — merge the shards with evalkit merge.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call every backend and compute every score; do not read or write the prediction or score cache.")] = False,
    max_errors: Annotated[Optional[int], typer.Option("--max-errors", help="Abort once this many rows have failed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    seed: SeedOpt = None,
    field: FieldOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Run summarizer systems over a gold set, score them and print the leaderboard.

    With no arguments: the shipped gold set, the lead/textrank/oracle baselines, ROUGE.
    Exit code 1 when a system has no successful row at all.

    Example: evalkit run -s lead:k=3 -s textrank --metrics rouge,quotes,numbers --limit 10
    """
    from evalkit.pipeline import RunOptions, run_evaluation

    with cli_errors():
        outcome = run_evaluation(RunOptions(
            gold=gold, systems=systems or [], metrics=metrics, out=out_dir, resume=resume, limit=limit, sample=sample, shard=shard,
            config=config, use_cache=not no_cache, max_errors=max_errors,
            progress=not quiet and not as_json and sys.stderr.isatty(), seed=seed, argv=sys.argv[1:],
            gold_fields=_fields(field), overwrite=overwrite, retry_failed=retry_failed,
            max_output_chars=max_output_chars))
        _render(outcome, as_json)
    _exit_if_a_system_failed(outcome)


def score(
    gold: Annotated[Optional[str], typer.Option("--gold", "-g", help="Gold set the predictions were made for.")] = None,
    predictions: Annotated[Optional[Path], typer.Option("--predictions", "-p", help="JSONL or CSV with gold_id, system, summary.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run", help="Re-score this run directory's saved predictions in place. With --metrics, the named metrics are (re)computed and merged into the run's others.")] = None,
    metrics: MetricsOpt = None,
    config: ConfigOpt = None,
    out_dir: OutOpt = None,
    seed: SeedOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Score predictions produced elsewhere into a run directory, same as `run`; or re-score a run.

    Example: evalkit score --gold my-gold.jsonl --predictions preds.jsonl --metrics rouge,quotes

    Example: evalkit score --run reports/runs/20261125-101500-ab12 --metrics rouge,bertscore
    """
    from evalkit.pipeline import rescore_run, score_predictions_file

    with cli_errors():
        from evalkit.errors import UsageError

        if run_dir is not None:
            if gold or predictions or out_dir or overwrite:
                raise UsageError("--run re-scores a run in place: drop --gold/--predictions/--out/--overwrite")
            outcome = rescore_run(run_dir, metrics=metrics, config_path=config)
        else:
            if not gold or not predictions:
                raise UsageError("give --gold and --predictions (or --run DIR to re-score a run)")
            outcome = score_predictions_file(gold, predictions, metrics=metrics, out=out_dir, config_path=config,
                                             seed=seed, argv=sys.argv[1:], overwrite=overwrite)
        _render(outcome, as_json)
