"""The ``evalkit`` command line: a thin client of the library.

Each command module parses options, calls one library function and renders the result.
Commands are wired here explicitly (no import-time registration).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from evalkit import __version__
from evalkit.cli import _common, cache, gold, info, judge, merge, meta, run

app = typer.Typer(
    name="evalkit",
    help="Evaluate summarizers: run backends over a gold set, score them (ROUGE, BERTScore, "
    "faithfulness), compare with confidence intervals, gate CI, write reports.\n\n"
    "Example: evalkit run -s lead -s textrank",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=_common.OneLineErrors,
)


def _print_version(value: Optional[bool]) -> None:
    # An option callback runs while the options are parsed, before click asks for a command,
    # so `evalkit --version` alone prints and exits 0 (a check in the group callback never ran).
    if value:
        typer.echo(f"evalkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                                    callback=_print_version, expose_value=False)] = None,
) -> None:
    _common.STATE["debug"] = debug or _common.STATE["debug"]


app.command("run")(run.run)
app.command("score")(run.score)
app.command("merge")(merge.merge)
app.command("backends")(info.backends)
app.command("metrics")(info.metrics)
app.command("compare")(judge.compare)
app.command("gate")(judge.gate)
app.command("baseline")(judge.baseline)
app.command("report")(judge.report)
app.add_typer(gold.app, name="gold")
app.command("meta-eval")(meta.meta_eval)
app.add_typer(cache.app, name="cache")


def main() -> None:
    app()
