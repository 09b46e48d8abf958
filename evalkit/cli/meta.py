"""``evalkit meta-eval``: correlate metrics with human ratings (summary or system level)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, err, out, print_json
from evalkit.report.textsafe import rich_safe

if TYPE_CHECKING:  # meta_eval pulls scoring (pandas): imported when the command runs
    from evalkit.meta_eval import MetaEvalResult


class Level(str, Enum):
    summary = "summary"
    system = "system"


class Aggregate(str, Enum):
    mean = "mean"
    max = "max"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _render(result: MetaEvalResult) -> None:
    table = Table(title=rich_safe(f"{result.level}-level correlation with human ratings — {result.file} "
                                  f"({result.rows} rows, {result.docs} docs, {result.systems} systems; "
                                  f"references aggregated by {result.aggregate})"))
    table.add_column("metric", style="bold")
    for h in result.human:
        table.add_column(f"{rich_safe(h)}\nρ / τ / r", justify="right")
    for metric in result.metrics:
        cells = [result.cell(metric, h) for h in result.human]
        table.add_row(rich_safe(metric), *[f"{_fmt(c.spearman)} / {_fmt(c.kendall)} / {_fmt(c.pearson)}" for c in cells])
    out.print(table)
    if result.level == "summary":
        c = result.cells[0] if result.cells else None
        if c is not None:
            out.print(f"ρ Spearman, τ Kendall tau-b, r Pearson; averaged over {c.n} documents "
                      f"({c.skipped} skipped: constant metric or human scores).")
    for line in result.warnings:
        err.print(f"warning: {rich_safe(line)}")


def meta_eval(
    file: Annotated[Path, typer.Argument(help="JSONL rows: doc_id, system_id, summary, references (list) and/or "
                                              "source, and the human rating columns (SummEval's shape).")],
    human: Annotated[str, typer.Option("--human", help="Comma-separated human rating columns, "
                                                       "e.g. coherence,consistency,fluency,relevance.")],
    metrics: Annotated[Optional[str], typer.Option("--metrics", "-m", help="Metrics or outputs to correlate, with options "
                                                   "(e.g. rouge1,rougeLsum,bertscore:model=PATH); default: rouge,quotes,numbers.",
                                                   show_default=False)] = None,
    level: Annotated[Level, typer.Option("--level", help="summary: per document, averaged; system: per-system means.")] = Level.summary,
    aggregate: Annotated[Aggregate, typer.Option("--aggregate", help="Combine scores against several references by "
                                                 "mean or max (metrics with a multi_ref option).")] = Aggregate.mean,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress (which metric is being scored).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Correlate metrics with human ratings (Spearman, Kendall tau-b, Pearson) to check a metric before trusting it.

    Example: evalkit meta-eval ../shared/data/summeval.jsonl --human coherence,consistency,fluency,relevance --metrics rouge1,rouge2,rougeLsum
    """
    from evalkit.meta_eval import run_meta_eval
    from evalkit.metrics import DEFAULT_METRICS

    with cli_errors():
        result = run_meta_eval(file, human=human.split(","), metrics=metrics or ",".join(DEFAULT_METRICS), level=level.value,
                               aggregate=aggregate.value, progress=not quiet and not as_json and sys.stderr.isatty())
    if as_json:
        print_json(result.to_json())
    else:
        _render(result)
