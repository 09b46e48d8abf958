"""``evalkit merge``: shard runs into one run over the whole gold set (see evalkit/merge.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from evalkit.cli._common import JsonOption, cli_errors
from evalkit.cli.run import ConfigOpt, OverwriteOpt, _exit_if_a_system_failed, _render


def merge(
    shards: Annotated[list[Path], typer.Argument(help="The shard run directories (evalkit run --shard I/N ...), all N of them.", show_default=False)],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="The merged run directory to write (default: reports/runs/<run id>). Its name is the run's id.")] = None,
    gold: Annotated[Optional[str], typer.Option("--gold", "-g", help="The full gold file, where it is not at the path the shards recorded (its hash must be theirs).")] = None,
    config: ConfigOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress (metrics scored again, reports written).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Merge shard runs into the run made in one piece: byte-identical scores, summary and comparisons.

    Refused, with one line naming the difference (exit 2), unless the shards are complete runs of one evalkit version over one gold set with the same systems, metric configurations and seed, and their parts partition the gold set (shards 0..N-1 each once). Summary, CIs, comparisons and reports are recomputed over the whole set.

    Example: evalkit merge shards/0 shards/1 shards/2 --out reports/runs/nightly
    """
    from evalkit.merge import MergeOptions, merge_runs

    with cli_errors():
        outcome = merge_runs(MergeOptions(shards=shards, out=out_dir, gold=gold, config=config, overwrite=overwrite,
                                          argv=sys.argv[1:], progress=not quiet and not as_json and sys.stderr.isatty()))
        _render(outcome, as_json)
    _exit_if_a_system_failed(outcome)
