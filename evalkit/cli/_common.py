"""What every command shares: error handling (one line, exit 2), consoles, ``--json`` output.

A command body is ``with cli_errors(): result = library_function(...)`` then a render.
Command-line parsing errors (``--seed abc``, an unknown option) are one line and exit 2 too
(``OneLineErrors``, the app's click group). Every error line is redacted (``evalkit.redact``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from evalkit.errors import EvalkitError
from evalkit.redact import redact_text

#: set by the ``--debug`` root option: show tracebacks instead of one-line errors
STATE = {"debug": os.environ.get("EVALKIT_DEBUG") == "1"}

# Not a terminal (pipes, CI logs, files): do not squeeze tables into 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of a table.")]


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn evalkit errors (and stray exceptions) into one clear line and exit code 2."""
    try:
        yield
    except typer.Exit:
        raise
    except EvalkitError as e:
        if STATE["debug"]:
            raise
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except Exception as e:
        if STATE["debug"]:
            raise
        print(f"error: {one_line(f'{type(e).__name__}: {e}')} (run with --debug for the traceback)", file=sys.stderr)
        raise typer.Exit(2) from None


def one_line(message: str) -> str:
    """A message as one redacted line."""
    return " ".join(redact_text(message).split())


def _usage_error() -> type[Exception]:
    """click's UsageError: typer >= 0.2x vendors click as ``typer._click``; older typer uses click."""
    vendored = getattr(getattr(typer, "_click", None), "exceptions", None)
    if vendored is not None:
        return vendored.UsageError
    import click

    return click.UsageError


_UsageError = _usage_error()


class OneLineErrors(TyperGroup):
    """The app's click group: a command-line error is ``error: <command>: <problem>`` on one line
    and exit code 2, instead of click's usage box."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _UsageError as e:
            _usage_exit(e)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _UsageError as e:
            _usage_exit(e)


def _usage_exit(e: Any) -> NoReturn:
    if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: typer prints its help
        raise e
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else "evalkit"
    print(f"error: {where}: {one_line(e.format_message())} (see {where} --help)", file=sys.stderr)
    raise typer.Exit(2)


def print_json(data: Any) -> None:
    """Deterministic JSON on stdout (sorted keys stay as given; floats as Python prints them)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
