"""``evalkit cache stats`` / ``evalkit cache clear``: the prediction cache."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, out, print_json
from evalkit.report.textsafe import rich_safe

if TYPE_CHECKING:  # evalkit.cache pulls the records (pydantic): imported when a command runs
    from evalkit.cache import CacheStats

app = typer.Typer(
    help="Inspect or empty the prediction cache (.evalkit/cache.sqlite, or $EVALKIT_CACHE_DIR).\n\n"
    "Example: evalkit cache stats",
    no_args_is_help=True,
)

DirOption = Annotated[
    Optional[Path],
    typer.Option("--dir", help="Cache directory (default: $EVALKIT_CACHE_DIR, else .evalkit).", show_default=False),
]


def _when(ts: Optional[float]) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _render(s: CacheStats) -> None:
    if not s.exists:
        out.print(rich_safe(f"no cache yet at {s.path}"))
        return
    out.print(rich_safe(f"cache {s.path}: {s.entries} summaries, {s.size_bytes / 1e6:.2f} MB, {s.hits} hits served "
              f"(oldest {_when(s.oldest)}, newest {_when(s.newest)})"))
    if s.by_backend:
        table = Table("backend", "summaries", "hits")
        for name, row in s.by_backend.items():
            table.add_row(rich_safe(name), str(row["entries"]), str(row["hits"]))
        out.print(table)


@app.command("stats")
def stats(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """How many summaries the cache holds, per backend, its size and hits.

    Example: evalkit cache stats --json
    """
    from evalkit.cache import cache_stats

    with cli_errors():
        result = cache_stats(directory)
    print_json(result.as_dict()) if as_json else _render(result)


@app.command("clear")
def clear(
    directory: DirOption = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="Only this backend's summaries (e.g. openai).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete cached summaries (all, or one backend's); the next run calls the backends again.

    Example: evalkit cache clear --backend openai
    """
    from evalkit.cache import clear_cache

    with cli_errors():
        n = clear_cache(directory, backend)
    if as_json:
        print_json({"deleted": n, "backend": backend})
    else:
        out.print(rich_safe(f"deleted {n} cached summaries" + (f" of backend {backend!r}" if backend else "")))
