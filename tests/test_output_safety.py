"""Issue 9, items 6 (rendering), 8 and 15: failures are loud in every report; user text with
Rich markup or control characters never crashes or corrupts an output.

Through the CLI a user types. These fail on main before this commit: there, `evalkit run -s
x[/]y=lead` exits 2 with a MarkupError after writing every file, a passing gate on such a run
raises (CI reads exit 1), `evalkit metrics` drops "[bracketed]" from a help text, the JUnit
file of a system named "a\\x01b" is not well-formed XML, ESC reaches report.md and gate.md
verbatim, and neither the terminal nor report.md names a failing system's error."""

from __future__ import annotations

import io
import json
import xml.dom.minidom
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
from judge_fixtures import invoke, make_run, noisy

from evalkit.gold import SHIPPED_GOLD
from evalkit.report.textsafe import rich_safe, visible_controls, xml_safe
from evalkit.rundir import RunDir

GOLD = SHIPPED_GOLD
MARKUP = "x[/]y"
BOLD = "a[bold]b[/bold]"


def test_markup_in_system_names_through_run_gate_compare_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("run", "-g", GOLD, "-s", f"{MARKUP}=lead", "-s", f"{BOLD}=lead:k=1", "--limit", "3", "--no-cache",
                 "--quiet", "--out", "r")
    assert res.exit_code == 0, res.output
    assert MARKUP in res.stdout and BOLD in res.stdout and "run directory: r" in res.stdout
    Path("evalkit.toml").write_text('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.1\n')
    res = invoke("gate", "r")
    assert res.exit_code == 0, res.output  # a passing gate passes, whatever the names
    assert MARKUP in res.stdout and BOLD in res.stdout and "gate passed" in res.stdout
    Path("evalkit.toml").write_text('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.99\n')
    res = invoke("gate", "r")
    assert res.exit_code == 1 and f"FAIL rule 1 (rougeLsum >= 0.99): {MARKUP}: rougeLsum" in res.stdout
    res = invoke("compare", "r", "--min-items", "2")
    assert res.exit_code == 0 and f"A = {MARKUP}   B = {BOLD}" in res.stdout
    assert invoke("report", "r").exit_code == 0
    # a warning naming a system: two runs, one system only in the second
    res = invoke("run", "-g", GOLD, "-s", f"{MARKUP}=lead", "--limit", "3", "--no-cache", "--quiet", "--out", "r2")
    assert res.exit_code == 0
    res = invoke("compare", "r2", "r", "--min-items", "2")
    assert res.exit_code == 0 and f"warning: not compared (only in run r): {BOLD}" in res.stderr


def test_bracketed_help_texts_are_shown():
    res = invoke("metrics")
    assert res.exit_code == 0
    assert "words a [bracketed] insertion may stand for" in " ".join(res.stdout.split())
    assert "quote_count (descriptive)" in res.stdout and "quote_altered ↓" in res.stdout
    rows = json.loads(invoke("metrics", "--json").stdout)
    assert next(r for r in rows if r["name"] == "extractiveness")["directions"]["density"] == "none"


def test_control_characters_in_names_junit_markdown_html(tmp_path):
    name, esc_name = "a\x01b", "e\x1b[31mred\u202e"
    run = make_run(tmp_path / "r", {name: {"rougeLsum": noisy(0.3, 12, 1)}, esc_name: {"rougeLsum": noisy(0.5, 12, 2)}},
                   failed={name: [0]}, errors={name: "bad byte \x00 and bell \x07 [red]"})
    cfg = tmp_path / "evalkit.toml"
    cfg.write_text('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.4\n[[gate.rule]]\nmetric = "errors"\nmax = 0\n')
    junit, md = tmp_path / "gate.xml", tmp_path / "gate.md"
    res = invoke("gate", run.path, "-c", cfg, "--junit", junit, "--markdown", md)
    assert res.exit_code == 1, res.output
    root = ET.parse(junit).getroot()  # well-formed XML 1.0
    xml.dom.minidom.parse(str(junit))
    names = [c.get("name") for c in root.iter("testcase")]
    assert "rule 1: rougeLsum >= 0.4 [a\\x01b]" in names
    assert "rule 1: rougeLsum >= 0.4 [e\\x1b[31mred\u202e]" in names  # bidi is valid XML; ESC is not
    for text in (md.read_text(), res.stdout):
        assert "\x1b" not in text and "\x01" not in text
    assert "a\\\\x01b" in md.read_text() and "e\\\\x1b\\[31mred\\\\u202e" in md.read_text()
    assert "\\x1b[31mred\\u202e" in res.stdout  # the terminal shows the escape, the terminal is not recoloured
    assert invoke("report", run.path).exit_code == 0
    report_md = run.report_md.read_text()
    assert "\x1b" not in report_md and "\x00" not in report_md and "\x07" not in report_md
    assert "bad byte \\\\x00 and bell \\\\x07 \\[red\\]" in report_md
    page = run.report_html.read_text()
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(page)  # raises on a control character in the stream
    assert "a\\x01b" in page


def test_text_safety_helpers():
    assert rich_safe("x[/]y") == "x\\[/]y" and rich_safe("[bold]") == "\\[bold]"
    assert visible_controls("a\x1bb\x7f\x85\u2066") == "a\\x1bb\\x7f\\x85\\u2066"
    assert visible_controls("tab\tnl\ncr\r") == "tab\tnl\ncr\r"
    assert xml_safe("a\x01\ud800\ufffe\U0001f600\u202e") == "a\\x01\\ud800\\ufffe\U0001f600\u202e"
    ET.fromstring(f"<a b='{xml_safe(chr(0x1b))}'>{xml_safe(''.join(map(chr, range(0x20))))}</a>")


# --------------------------------------------------------------------------------------------
# failures are loud
# --------------------------------------------------------------------------------------------

def test_failing_systems_most_frequent_error_in_summary_terminal_markdown_html(tmp_path):
    from rich.console import Console

    from evalkit import load_run
    from evalkit.report.terminal import leaderboard_view

    msgs = ["HTTP 500: upstream [overloaded]", "timeout after 30 s", "HTTP 500: upstream [overloaded]"]
    run = make_run(tmp_path / "r", {"ok": {"rouge1": noisy(0.3, 12, 1)}, "flaky": {"rouge1": noisy(0.3, 12, 2)}},
                   failed={"flaky": [1, 4, 7]}, errors={"flaky": msgs})
    summary = json.loads(run.summary_path.read_text())
    assert summary["systems"]["flaky"]["failed"] == 3
    assert summary["systems"]["flaky"]["errors"] == [{"message": "HTTP 500: upstream [overloaded]", "count": 2},
                                                     {"message": "timeout after 30 s", "count": 1}]
    assert summary["systems"]["ok"]["errors"] == []
    line = "flaky: 3 of 12 items failed; most frequent error (2×): HTTP 500: upstream [overloaded]"
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(leaderboard_view(load_run(run.path)))
    assert line in console.export_text()
    assert invoke("report", run.path).exit_code == 0
    md = run.report_md.read_text()
    assert "- **flaky**: 3 of 12 items failed; most frequent error (2×): HTTP 500: upstream \\[overloaded\\]" in md
    page = run.report_html.read_text()
    assert "3 failed item(s); most frequent error (2×): <code>HTTP 500: upstream [overloaded]</code>" in page


def test_run_prints_the_error_of_a_failing_system(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cmd = 'python -c "import sys; sys.stderr.write(\'boom [red]x[/]\'); sys.exit(3)"'
    res = invoke("run", "-g", GOLD, "-s", "lead", "-s", f"bad=command:cmd={cmd}", "--limit", "3", "--no-cache",
                 "--quiet", "--out", "r")
    assert res.exit_code in (0, 1), res.output  # (whether zero successful rows exits 1 is decided elsewhere)
    assert "bad: 3 of 3 items failed; most frequent error (3×): exit code 3; stderr: boom [red]x[/]" in res.stdout
    md = RunDir.open("r").report_md.read_text()
    assert "- **bad**: 3 of 3 items failed; most frequent error (3×): exit code 3; stderr: boom \\[red\\]x\\[/\\]" in md
    systems = json.loads((tmp_path / "r" / "summary.json").read_text())["systems"]
    assert systems["bad"]["errors"][0]["count"] == 3 and systems["lead"]["ok"] == 3


def test_gold_and_cache_commands_print_names_as_text(tmp_path):
    gold = tmp_path / "news[bold]v1[red].jsonl"
    gold.write_bytes(GOLD.read_bytes())
    res = invoke("gold", "validate", gold)
    assert res.exit_code == 0 and f"ok: {gold}: 44 items" in res.stdout
    res = invoke("gold", "stats", gold)
    assert res.exit_code == 0 and "news[bold]v1[red] (44 items)" in res.stdout
    res = invoke("cache", "stats", "--dir", tmp_path / "c[red]d")
    assert res.exit_code == 0 and "c[red]d" in " ".join(res.stdout.split())


def test_an_output_path_naming_a_file_of_a_run_is_refused_and_the_run_kept(tmp_path):
    """`--markdown RUN/predictions.jsonl` (a slip of the tab key) wrote the report over the run's
    journal, its only copy of what the models wrote (fails on main before this commit: exit 0
    for compare/gate/baseline, and the file replaced)."""
    base = make_run(tmp_path / "base", {"a": {"rouge1": [0.5, 0.6, 0.7]}, "b": {"rouge1": [0.4, 0.5, 0.6]}})
    new = make_run(tmp_path / "new", {"a": {"rouge1": [0.5, 0.6, 0.8]}, "b": {"rouge1": [0.4, 0.5, 0.6]}})
    rules = tmp_path / "evalkit.toml"
    rules.write_text('[[gate.rule]]\nmetric = "rouge1"\nmin = 0.1\n')
    before = {p.name: p.read_bytes() for p in base.path.iterdir()}
    cases = [
        ("report", base.path, "--markdown", base.path / "predictions.jsonl"),
        ("report", base.path, "--html", base.path / "summary.json"),
        ("compare", base.path, new.path, "--html", base.path / "manifest.json"),
        ("compare", base.path, new.path, "--markdown", base.path / "scores.csv"),
        ("gate", base.path, "--config", rules, "--junit", base.path / "scores.parquet"),
        ("gate", base.path, "--config", rules, "--markdown", base.path / "details.jsonl"),
        ("baseline", base.path, "--to", base.path / "comparisons.json"),
    ]
    for args in cases:
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert f"would replace the {Path(args[-1]).name} of run directory" in " ".join(res.output.split())
    assert {p.name: p.read_bytes() for p in base.path.iterdir()} == before
    res = invoke("report", base.path, "--markdown", base.path / "report.md")  # its own report: re-rendered
    assert res.exit_code == 0, res.output


def test_no_help_text_has_a_bracket_that_rich_would_swallow():
    """Help texts are Rich markup: an unescaped ``[run]`` or ``[tool.evalkit]`` is read as a style
    tag and vanishes from ``--help`` ("./evalkit.toml or  in ./pyproject.toml"). Every command's
    and option's help must escape such brackets (``\\\\[run]``)."""
    import re

    import click
    import typer

    from evalkit.cli import app

    tag = re.compile(r"(?<!\\)\[[A-Za-z_.][A-Za-z0-9_. -]*\]")  # what Rich would take for markup
    found = []

    def walk(cmd: click.Command, path: str) -> None:
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        found.extend(f"{path}: {m}" for t in texts for m in tag.findall(t))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "evalkit")
    assert found == []
    res = invoke("run", "--help", env={"COLUMNS": "300"})
    assert "./evalkit.toml or [tool.evalkit] in ./pyproject.toml" in res.stdout
