"""``evalkit cache stats`` / ``evalkit cache clear``: the prediction cache and the score cache."""

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
    help="Inspect or empty the cache of summaries and scores (.evalkit/cache.sqlite, or $EVALKIT_CACHE_DIR).\n\n"
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
    out.print(rich_safe(f"scores: {s.scores.entries} cached (metric, prediction, item) results, {s.scores.hits} hits served"))
    if s.scores.by_metric:
        table = Table("metric", "scores", "hits")
        for name, row in s.scores.by_metric.items():
            table.add_row(rich_safe(name), str(row["entries"]), str(row["hits"]))
        out.print(table)


@app.command("stats")
def stats(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """How many summaries (per backend) and scores (per metric) the cache holds, its size and hits.

    Example: evalkit cache stats --json
    """
    from evalkit.cache import cache_stats

    with cli_errors():
        result = cache_stats(directory)
    print_json(result.as_dict()) if as_json else _render(result)


@app.command("clear")
def clear(
    directory: DirOption = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="Only this backend's summaries (e.g. openai); scores are kept.")] = None,
    only: Annotated[Optional[str], typer.Option("--only", help="Clear one table: predictions (summaries) or scores.")] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="Only this metric family's scores (e.g. rouge); summaries are kept.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete cached summaries and scores (all, one table, one backend's or one metric's).

    The next run calls the backends / computes the scores again.

    Example: evalkit cache clear --backend openai

    Example: evalkit cache clear --only scores
    """
    from evalkit.cache import clear_cache

    with cli_errors():
        n = clear_cache(directory, backend, table=only, metric=metric)
    if as_json:
        print_json({"deleted": n.summaries, "deleted_scores": n.scores, "backend": backend, "metric": metric,
                    "only": only})
        return
    parts = []
    if backend is not None or metric is None and only != "scores":
        parts.append(f"{n.summaries} cached summaries" + (f" of backend {backend!r}" if backend else ""))
    if metric is not None or backend is None and only != "predictions":
        parts.append(f"{n.scores} cached scores" + (f" of metric {metric!r}" if metric else ""))
    out.print(rich_safe("deleted " + " and ".join(parts)))
