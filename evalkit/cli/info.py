"""``evalkit backends`` and ``evalkit metrics``: what is installed, with options."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, out, print_json
from evalkit.report.textsafe import rich_safe


def _render(title: str, rows: list[dict[str, Any]], extra: str) -> None:
    from evalkit.inventory import option_line

    table = Table(title=title, show_lines=True)
    table.add_column("name", style="bold")
    table.add_column("from")
    table.add_column(extra)
    table.add_column("options (name: type = default  help)")
    for r in rows:  # help texts, names and plug-in errors are user text: never Rich markup
        opts = "\n".join(option_line(o) for o in r["options"]) or "-"
        table.add_row(*(rich_safe(x) for x in (r["name"], r["source"], r[extra], opts)))
    out.print(table)


def _names(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for v in values or [] if v.strip()]


def backends(
    backend: Annotated[Optional[list[str]], typer.Option("--backend", "-b", help="Only this backend: a registered name or package.module:Class (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List installed summarizer backends (built-in and plug-ins) and their options.

    Example: evalkit backends --json

    Example: evalkit backends --backend mypkg.summarizers:MySummarizer
    """
    from evalkit.inventory import backend_inventory

    with cli_errors():
        rows = backend_inventory(_names(backend))
        print_json(rows) if as_json else _render("backends (evalkit.backends entry points)" if not backend else "backends", rows, "description")


def metrics(
    metric: Annotated[Optional[list[str]], typer.Option("--metric", "-m", help="Only this metric: a registered name or package.module:Class (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List installed metrics, the scores each one outputs (↓ lower is better, descriptive: never ranked), and their options.

    Example: evalkit metrics

    Example: evalkit metrics --metric mypkg.metrics:Hallucination --json
    """
    from evalkit.inventory import metric_inventory

    with cli_errors():
        rows = metric_inventory(_names(metric))
        print_json(rows) if as_json else _render("metrics (evalkit.metrics entry points)" if not metric else "metrics", rows, "outputs")
