"""``evalkit backends`` and ``evalkit metrics``: what is installed, with options."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, out, print_json
from evalkit.report.textsafe import rich_safe


def _render(title: str, rows: list[dict[str, Any]], extra: str) -> None:
    table = Table(title=title, show_lines=True)
    table.add_column("name", style="bold")
    table.add_column("from")
    table.add_column(extra)
    table.add_column("options (type = default: help)")
    for r in rows:  # help texts, names and plug-in errors are user text: never Rich markup
        opts = "\n".join(f"{o['name']}: {o['type']} = {o['default']!r}" + (f"  {o['help']}" if o["help"] else "")
                         for o in r["options"]) or "-"
        table.add_row(*(rich_safe(x) for x in (r["name"], r["source"], r[extra], opts)))
    out.print(table)


def backends(as_json: JsonOption = False) -> None:
    """List installed summarizer backends (built-in and plug-ins) and their options.

    Example: evalkit backends --json
    """
    from evalkit.inventory import backend_inventory

    with cli_errors():
        rows = backend_inventory()
        print_json(rows) if as_json else _render("backends (evalkit.backends entry points)", rows, "description")


def metrics(as_json: JsonOption = False) -> None:
    """List installed metrics, the scores each one outputs, and their options.

    Example: evalkit metrics
    """
    from evalkit.inventory import metric_inventory

    with cli_errors():
        rows = metric_inventory()
        print_json(rows) if as_json else _render("metrics (evalkit.metrics entry points)", rows, "outputs")
