"""``evalkit gold validate|stats|import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, out, print_json
from evalkit.report.textsafe import rich_safe

app = typer.Typer(help="Check, describe and import gold sets.\n\nExample: evalkit gold validate my-gold.jsonl",
                  no_args_is_help=True)

PathArg = Annotated[Optional[str], typer.Argument(help="Gold file (.jsonl/.json/.csv/.parquet) or hf:NAME[:CONFIG][:SPLIT]; default: the shipped news-v1 set.", metavar="PATH", show_default=False)]
FieldOpt = Annotated[Optional[list[str]], typer.Option("--field", help="Map GOLD_FIELD=COLUMN for hf: datasets (repeatable), e.g. key_points=highlights.")]


def _fields(pairs: Optional[list[str]]) -> dict[str, str]:
    from evalkit.cli.run import _fields as parse

    return parse(pairs)


@app.command("validate")
def validate(
    path: PathArg = None,
    field: FieldOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Check a gold set; exit 0 if valid, 2 with the file, line and field of the first problem.

    Example: evalkit gold validate my-gold.jsonl
    """
    from evalkit.gold import default_gold_path, load_gold

    with cli_errors():
        path = path or str(default_gold_path())
        gold = load_gold(path, fields=_fields(field))
        if as_json:
            print_json({"valid": True, "name": gold.name, "items": len(gold), "hash": gold.hash})
        else:
            out.print(rich_safe(f"ok: {path}: {len(gold)} items, {gold.hash}"))


@app.command("stats")
def stats(
    path: PathArg = None,
    field: FieldOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a gold set: items, words per article, key points per item, quotes and figures per article.

    Example: evalkit gold stats --json   (the shipped news-v1 set)
    """
    from evalkit.gold import default_gold_path, gold_stats, load_gold

    with cli_errors():
        s = gold_stats(load_gold(path or default_gold_path(), fields=_fields(field)))
        if as_json:
            print_json(s)
            return
        table = Table(title=rich_safe(f"{s['name']} ({s['items']} items) {s['hash']}"))
        for col in ("", "min", "mean", "median", "max"):
            table.add_column(col, justify="right" if col else "left")
        for key in ("words_per_article", "key_points_per_item", "quotes_per_article", "figures_per_article"):
            d = s[key]
            table.add_row(key.replace("_", " "), *(str(d[k]) for k in ("min", "mean", "median", "max")))
        out.print(table)
        out.print(rich_safe("desks: " + ", ".join(f"{k} {v}" for k, v in s["desks"].items())))


@app.command("import")
def import_(
    spec: Annotated[str, typer.Argument(help="Source: hf:NAME[:CONFIG][:SPLIT] or any gold file.")],
    to: Annotated[Path, typer.Option("--to", help="JSONL file to write.")],
    field: FieldOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Keep only the first N items.")] = None,
) -> None:
    """Import a dataset as a gold JSONL file (validated on the way).

    Example: evalkit gold import hf:cnn_dailymail:3.0.0:test --to gold/cnndm.jsonl --field key_points=highlights
    """
    from evalkit.gold import load_gold, write_gold_jsonl

    with cli_errors():
        from evalkit.subset import select

        gold, _ = select(load_gold(spec, fields=_fields(field)), limit=limit)
        write_gold_jsonl(gold, to)
        out.print(rich_safe(f"wrote {to}: {len(gold)} items, {gold.hash}"))
