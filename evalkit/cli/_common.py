"""What every command shares: error handling (one line, exit 2), consoles, ``--json`` output.

A command body is ``with cli_errors(): result = library_function(...)`` then a render.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from evalkit.errors import EvalkitError

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
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except Exception as e:
        if STATE["debug"]:
            raise
        print(f"error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        raise typer.Exit(2) from None


def print_json(data: Any) -> None:
    """Deterministic JSON on stdout (sorted keys stay as given; floats as Python prints them)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
