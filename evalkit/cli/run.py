"""``evalkit run`` and ``evalkit score``: produce a run directory and print its leaderboard.

Both are thin shells over the Python API (``evalkit.evaluate``, ``evalkit.resume_run``,
``evalkit.score``, ``evalkit.rescore_run``): parse the options, call one of them, render the Run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from evalkit.cli._common import JsonOption, cli_errors, err, out, print_json
from evalkit.report.textsafe import rich_safe, visible_controls

if TYPE_CHECKING:  # the library pulls pandas: imported by the commands that run, not by --help
    from evalkit.config import Config
    from evalkit.run import Run

GoldOpt = Annotated[Optional[str], typer.Option("--gold", "-g", help="Gold set: .jsonl/.json/.csv/.parquet path or hf:NAME[:CONFIG][:SPLIT]. Default: the shipped news-v1 gold set (evalkit gold validate prints its path).")]
MetricsOpt = Annotated[Optional[str], typer.Option("--metrics", "-m", help="Comma-separated metrics or outputs, with options: rouge,quotes,numbers,keypoints,bertscore,extractiveness; rouge:tokenizer=unicode. See `evalkit metrics`.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Config file (default: ./evalkit.toml or \\[tool.evalkit] in ./pyproject.toml).")]
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


def _check_options(**values: Optional[int]) -> None:
    from evalkit.errors import UsageError

    for name, value in values.items():
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")


def _check_resume(resume: Optional[Path], retry_failed: bool, **run_options: object) -> None:
    """--resume continues the run as recorded: the options that define a new run do not go with it."""
    from evalkit.errors import UsageError

    if resume is not None and any(v not in (None, False, {}, []) for v in run_options.values()):
        raise UsageError("--resume continues the run as its manifest records it (gold set, systems, metrics, "
                         "part of the gold set); drop --gold/--limit/--sample/--shard/--out/--metrics/--overwrite/"
                         "--max-output-chars "
                         "(-s only re-supplies a system's secrets)")
    if resume is None and retry_failed:
        raise UsageError("--retry-failed goes with --resume DIR (it redoes the failed rows of that run)")


def _new_run_dir(config: Config) -> Path:
    """Where a run goes without --out: reports/runs/<run id> (or under [run] out of the config)."""
    from evalkit.rundir import new_run_path

    return new_run_path(None, root=config.relative(config.run.out) if config.run.out else None)


def _render(run_: Run, as_json: bool) -> None:
    if as_json:
        from evalkit.report.terminal import leaderboard_rows

        print_json({"run_dir": str(run_.path), "run_id": run_.manifest.run_id, "gold": run_.manifest.gold.model_dump(),
                    "leaderboard": leaderboard_rows(run_.summary, run_.comparisons), "warnings": run_.warnings,
                    "failed_systems": run_.failed_systems})
        return
    for w in run_.warnings:
        err.print(f"[bold yellow]warning:[/] {rich_safe(w)}")
    out.print(run_.leaderboard(title=f"{run_.manifest.gold.name} · {run_.manifest.gold.items} items"))
    out.print(f"run directory: {rich_safe(run_.path)}")


def _exit_if_a_system_failed(run_: Run) -> None:
    """Exit 1 when a system produced no summary at all (every one of its rows failed)."""
    failed = run_.failed_systems
    for name in failed:
        message, count = run_.top_error(name)
        items = run_.summary.systems[name].items
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
    max_output_chars: Annotated[Optional[int], typer.Option("--max-output-chars", help="A backend output longer than this is recorded as that row's error, never scored (default 200000, or \\[run] max_output_chars).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Use only the first N gold items.")] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", help="Use a seeded random sample of N gold items (--seed S; the same items whatever the file order).")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run shard I of N (I/N, numbered 0..N-1; balanced by article length) — merge the shards with evalkit merge.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call every backend and compute every score; do not read or write the prediction or score cache.")] = False,
    max_errors: Annotated[Optional[int], typer.Option("--max-errors", help="Abort once this many rows have failed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (backends, scoring, reports).")] = False,
    seed: SeedOpt = None,
    field: FieldOpt = None,
    executor: Annotated[Optional[str], typer.Option("--executor", help="Where backends and metrics run: local (this process; default, or \\[run] executor) or ray (a Ray cluster; needs the \\[ray] extra).")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="With --executor ray: the cluster to join (default: RAY_ADDRESS, else \\[run] ray_address, else a local Ray instance started for the run).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run summarizer systems over a gold set, score them and print the leaderboard.

    With no arguments: the shipped gold set, the lead/textrank/oracle baselines, ROUGE.
    Exit code 1 when a system has no successful row at all.

    Example: evalkit run -s lead:k=3 -s textrank --metrics rouge,quotes,numbers --limit 10
    """
    with cli_errors():
        _check_options(max_errors=max_errors, limit=limit, sample=sample, max_output_chars=max_output_chars)
        fields = _fields(field)
        _check_resume(resume, retry_failed, gold=gold, limit=limit, sample=sample, shard=shard, out=out_dir, metrics=metrics, overwrite=overwrite,
                      max_output_chars=max_output_chars, field=fields)
        from evalkit.api import evaluate, resume_run
        from evalkit.config import load_config

        cfg = load_config(config)
        progress = not quiet and not as_json and sys.stderr.isatty()
        if resume is not None:
            run_ = resume_run(resume, systems=systems or [], cache=not no_cache, config=cfg, max_errors=max_errors,
                              progress=progress, retry_failed=retry_failed, executor=executor,
                              ray_address=ray_address)
        else:
            run_ = evaluate(gold, systems or [], metrics=metrics, out=out_dir or _new_run_dir(cfg), cache=not no_cache,
                            seed=seed, progress=progress, config=cfg, limit=limit, sample=sample, shard=shard,
                            max_errors=max_errors, max_output_chars=max_output_chars, overwrite=overwrite, argv=sys.argv[1:], fields=fields,
                            executor=executor, ray_address=ray_address)
        _render(run_, as_json)
    _exit_if_a_system_failed(run_)


def score(
    gold: Annotated[Optional[str], typer.Option("--gold", "-g", help="Gold set the predictions were made for.")] = None,
    predictions: Annotated[Optional[Path], typer.Option("--predictions", "-p", help="JSONL or CSV with gold_id, system, summary.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run", help="Re-score this run directory's saved predictions in place. With --metrics, the named metrics are (re)computed and merged into the run's others.")] = None,
    metrics: MetricsOpt = None,
    config: ConfigOpt = None,
    out_dir: OutOpt = None,
    seed: SeedOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress (which metric is being scored, which report written).")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Compute every score; do not read or write the score cache.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Score predictions produced elsewhere into a run directory, same as `run`; or re-score a run.

    Example: evalkit score --gold my-gold.jsonl --predictions preds.jsonl --metrics rouge,quotes

    Example: evalkit score --run reports/runs/20261125-101500-ab12 --metrics rouge,bertscore
    """
    with cli_errors():
        from evalkit.api import rescore_run
        from evalkit.api import score as score_predictions
        from evalkit.config import load_config
        from evalkit.errors import UsageError

        progress = not quiet and not as_json and sys.stderr.isatty()
        if run_dir is not None:
            if gold or predictions or out_dir or overwrite:
                raise UsageError("--run re-scores a run in place: drop --gold/--predictions/--out/--overwrite")
            run_ = rescore_run(run_dir, metrics, config=load_config(config), progress=progress, cache=not no_cache)
        else:
            if not gold or not predictions:
                raise UsageError("give --gold and --predictions (or --run DIR to re-score a run)")
            cfg = load_config(config)
            run_ = score_predictions(gold, predictions, metrics, out=out_dir or _new_run_dir(cfg), seed=seed, config=cfg,
                                     overwrite=overwrite, argv=sys.argv[1:], progress=progress, cache=not no_cache)
        _render(run_, as_json)
