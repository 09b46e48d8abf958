"""``evalkit compare``, ``gate``, ``baseline`` and ``report``: judging finished runs.

Each reads the run with ``evalkit.load_run`` and calls the ``Run`` method (``compare``, ``gate``,
``to_markdown``/``to_html``) or the baseline writer on it; what it prints is a rendering.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from evalkit.cli._common import JsonOption, cli_errors, err, out, print_json
from evalkit.report.textsafe import rich_safe

RunArg = Annotated[Path, typer.Argument(help="A run directory (reports/runs/<run id>).", show_default=False)]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Config file with the \\[gate] table (default: ./evalkit.toml or \\[tool.evalkit] in ./pyproject.toml).")]
ResamplesOpt = Annotated[int, typer.Option("--resamples", help="Resamples for bootstrap CIs and permutation tests.", min=99)]
MinItemsOpt = Annotated[Optional[int], typer.Option("--min-items", help="Pairs sharing fewer scored items are reported as 'too few items to compare', not tested (default: the run's, else \\[stats] min_items, else 10).", min=1)]


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    names = [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
    return names or None


def compare(
    run_a: RunArg,
    run_b: Annotated[Optional[Path], typer.Argument(help="A second run directory; omit to compare systems within RUN_A.", show_default=False)] = None,
    systems: Annotated[Optional[list[str]], typer.Option("--systems", "-s", help="Systems to compare, comma-separated (within one run: every pair of them; across runs: each one with itself).")] = None,
    metric: Annotated[Optional[list[str]], typer.Option("--metric", "-m", help="Metric to compare (repeatable or comma-separated; default: the headline metrics).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Compare even if the gold sets or metric configurations differ (with a warning).")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level for the verdicts.")] = 0.05,
    resamples: Annotated[Optional[int], typer.Option("--resamples", help="Resamples for bootstrap CIs and permutation tests (default: the run's).", min=99)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for resampling (default: the run's seed).")] = None,
    min_items: MinItemsOpt = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="With two runs: write the diff report here (every item worst first, the summaries side by side with a word diff, quotes no longer verbatim, figures newly unsupported, key points newly missed).")] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="With two runs: write the diff as Markdown for a pull-request comment (at most 60 KB, no links).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress while the diff report is written.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare two runs, or systems within one run, with paired significance tests.

    Metric by metric: means, Δ with a paired-bootstrap CI, a paired permutation test (Holm-adjusted over system
    pairs), wins/ties/losses and a plain-language verdict. Within one run the numbers are the run's comparisons.json
    (the ones its reports show). Descriptive outputs are never called better. Exit 2 if the runs used different
    gold sets or metric configurations (unless --force).

    Example: evalkit compare reports/runs/before reports/runs/after --metric rougeLsum

    Example: evalkit compare reports/runs/main reports/runs/pr --html diff.html --markdown diff.md
    """
    from evalkit.api import load_run
    from evalkit.errors import UsageError
    from evalkit.report import write_diff_files
    from evalkit.stats import fmt_num, fmt_p

    written: list[Path] = []
    with cli_errors():
        if (html or markdown) and run_b is None:
            raise UsageError("--html/--markdown write the diff of two runs: give BASE and NEW run directories")
        first = load_run(run_a)
        second = load_run(run_b) if run_b else None
        result = first.compare(second, systems=_split(systems), metric=_split(metric),
                               force=force, alpha=alpha, n_resamples=resamples, seed=seed, min_items=min_items)
        if second is not None and (html or markdown):
            _, written = write_diff_files(first, second, result, html=html, markdown=markdown,
                                          progress=not quiet and not as_json and sys.stderr.isatty())
    for w in result.warnings:
        err.print(f"[bold yellow]warning:[/] {rich_safe(w)}")
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    if result.scope:
        out.print(f"[bold]part of the gold set:[/] {rich_safe(result.scope)}")
    narrow = out.width < 100  # the CI under Δ instead of beside it: no cell is cut at 80 columns
    ci_head = f"{result.confidence:.0%} CI"
    for pair in result.pairs:
        table = Table(title=rich_safe(f"A = {pair.label_a}   B = {pair.label_b}"), title_justify="left")
        heads = ("metric", "A", "B", f"Δ B−A\n{ci_head}" if narrow else "Δ B−A", *(() if narrow else (ci_head,)),
                 "p", "W/T/L", "n")
        for col in heads:
            table.add_column(col, justify="left" if col == "metric" else "right", overflow="fold",
                             no_wrap=col == "metric")
        for m in pair.metrics:
            style = {"b_better": "green", "a_better": "red"}.get(m.outcome, "default")
            if m.outcome in ("too_few_items", "no_items"):
                p_cell = "too few items" if m.outcome == "too_few_items" else "no items"
            else:
                p_cell = fmt_p(m.p_adjusted) + (" *" if m.significant else "")
            wtl = f"{m.wins}/{m.ties}/{m.losses}" if m.wins is not None else "—"
            name = rich_safe(m.metric) + ("" if m.direction in ("higher", "lower") else
                                          "\n(descriptive)" if m.direction == "none" else "\n(direction?)")
            delta = f"[{style}]{fmt_num(m.delta, signed=True)}[/]"
            ci = f"[{fmt_num(m.ci_low, signed=True)}, {fmt_num(m.ci_high, signed=True)}]" if m.ci_low is not None else ""
            cells = [f"{delta}\n{rich_safe(ci)}"] if narrow else [delta, rich_safe(ci)]
            table.add_row(name, fmt_num(m.mean_a), fmt_num(m.mean_b), *cells, p_cell, wtl, str(m.n))
        out.print(table)
    out.print(f"test: {rich_safe(result.test)}; multiple comparisons: {rich_safe(result.correction)}; "
              f"* significant at α = {result.alpha:g}; W/T/L = items where B is better/equal/worse "
              f"(— for outputs without a direction); fewer than {result.min_items} shared items: not tested")
    for v in result.verdicts:
        out.print(f"• {rich_safe(v)}")
    for path in written:
        out.print(f"wrote {rich_safe(path)}")


def gate(
    run_dir: RunArg,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", "-b", help="Baseline file for max_drop rules (default: \\[gate] baseline in the config).")] = None,
    config: ConfigOpt = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write JUnit XML here (one testcase per check).")] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Write a Markdown summary here (also appended to $GITHUB_STEP_SUMMARY when set).")] = None,
    resamples: ResamplesOpt = 10000,
    min_items: MinItemsOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Judge a run against the \\[gate] rules; exit 1 if any check fails.

    Rules: floors (min/max) and allowed drops against the committed baseline (optionally only significant drops fail). Prints every check
    with its numbers. Exit 0 all pass, 1 a check failed, 2 usage or input error.

    Example: evalkit gate reports/runs/latest --junit gate.xml --markdown gate.md
    """
    from evalkit.api import load_run
    from evalkit.report import write_gate_files

    with cli_errors():
        report = load_run(run_dir).gate(config, baseline=baseline, n_resamples=resamples, min_items=min_items)
        write_gate_files(report, junit=junit, markdown=markdown)
    if as_json:
        print_json(report.model_dump(mode="json"))
        raise typer.Exit(report.exit_code)
    title = f"evalkit gate · run {report.run_id}" + (f" · baseline {report.baseline}" if report.baseline else "")
    if report.scope:
        out.print(f"[bold]part of the gold set:[/] {rich_safe(report.scope)}")
    table = Table(title=rich_safe(title), title_justify="left")
    for col in ("verdict", "rule", "system", "details"):
        table.add_column(col, overflow="fold")
    verdicts = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "n/a": "[dim]n/a[/]"}
    for ch in report.checks:
        details = ch.message.removeprefix(f"{ch.system}: ")
        table.add_row(verdicts[ch.status], rich_safe(f"{ch.rule}: {ch.label}"), rich_safe(ch.system), rich_safe(details))
    out.print(table)
    if report.correction:
        out.print(f"multiple comparisons: {rich_safe(report.correction)}")
    for note in report.notes:
        err.print(f"[bold yellow]note:[/] {rich_safe(note)}")
    c = report.counts
    summary = f"{c['pass']} passed, {c['fail']} failed, {c['n/a']} not applicable"
    if report.passed:
        out.print(f"[bold green]gate passed[/] ({summary})")
    else:
        out.print(f"[bold red]gate failed[/] ({summary})")
        for f in report.failed:
            out.print(f"  FAIL rule {f.rule} ({rich_safe(f.label)}): {rich_safe(f.message)}")
    raise typer.Exit(report.exit_code)


def baseline(
    run_dir: RunArg,
    to: Annotated[Path, typer.Option("--to", help="Baseline file to write.")] = Path("reports/baseline.json"),
    as_json: JsonOption = False,
) -> None:
    """Promote a run to the CI baseline file (commit it).

    Writes the run's summary, gold hash, metric configuration and per-item scores (for the gate's paired significance test).

    Example: evalkit baseline reports/runs/20250101-120000-ab12 --to reports/baseline.json
    """
    from evalkit.api import load_run
    from evalkit.baseline import promote

    with cli_errors():
        b = promote(load_run(run_dir), to)
    info = {"baseline": str(to), "run_id": b.run_id, "gold": b.gold.name, "gold_hash": b.gold.hash,
            "systems": list(b.scores), "metrics": sorted({m for s in b.scores.values() for m in s})}
    if as_json:
        print_json(info)
        return
    out.print(rich_safe(f"wrote {to}: run {b.run_id}, gold {b.gold.name} ({b.gold.items} items), "
                        f"systems {', '.join(info['systems'])}, {len(info['metrics'])} metrics"))


def report(
    run_dir: RunArg,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Write the Markdown report here (default: RUN/report.md).")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Write the self-contained HTML report here (default: RUN/report.html).")] = None,
    min_items: MinItemsOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress while the reports are rendered.")] = False,
) -> None:
    """Re-render a run's reports from its saved files (nothing is re-scored).

    The marks come from the run's comparisons.json; it is written first when the run has none (an older run),
    when the summary changed since, or with another --min-items.

    Example: evalkit report reports/runs/20250101-120000-ab12 --markdown report.md --html report.html
    """
    from evalkit.api import load_run
    from evalkit.report import rerender_run

    with cli_errors():
        written, note = rerender_run(load_run(run_dir), markdown=markdown, html=html, min_items=min_items,
                                     progress=not quiet and sys.stderr.isatty())
    if note:
        err.print(f"[bold yellow]note:[/] {rich_safe(note)}")
    for path in written:
        out.print(f"wrote {rich_safe(path)}")
