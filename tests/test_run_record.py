"""A run directory is one sealed record (issue 9): one identity per directory, --out onto a run
is refused unless --overwrite, --resume continues only the same run, --retry-failed redoes
failed rows, score --run never resurrects or drops data, failures are loud, bad input is one
located line with nothing written. Each test names the item it guards; each fails on main
before the commit that added it."""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest
from runner_fixtures import make_gold, write_gold_jsonl
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.records import Prediction
from evalkit.rundir import RunDir

SCRIPT = """\
import os, sys
article = sys.stdin.read()
if os.path.exists("FAIL") and os.environ["EVALKIT_GOLD_ID"] in open("FAIL").read().split():
    sys.exit("scripted failure for " + os.environ["EVALKIT_GOLD_ID"])
print(article.split(". ")[0] + ".")
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(3))
    (tmp_path / "summ.py").write_text(SCRIPT)
    return tmp_path


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def ok(*args: str):
    res = cli(*args)
    assert res.exit_code == 0, res.output
    return res


def board(res) -> dict:
    return {r["system"]: r for r in json.loads(res.stdout)["leaderboard"]}


def snapshot(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.exists() else {}


CMD = f"cmd={sys.executable} summ.py"
RUN = ("run", "-g", "gold.jsonl", "--metrics", "rouge,quotes,numbers", "--quiet")


# --- 1. --out onto an existing run --------------------------------------------------------------

def test_out_onto_an_existing_run_is_refused_and_overwrite_starts_clean(work):
    """[9.1] the reproduction: k=3 then k=1 into the same --out (main: the k=1 run kept the k=3
    summaries; a run naming other systems left the old rows, and score --run brought them back)."""
    ok(*RUN, "-s", "fast=lead:k=3", "--out", "r2")
    before = snapshot(work / "r2")
    res = cli(*RUN, "-s", "fast=lead:k=1", "--out", "r2")
    assert res.exit_code == 2
    assert "--out r2 already holds a run; continue it with --resume r2, replace it with --overwrite" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert snapshot(work / "r2") == before  # nothing written

    ok(*RUN, "-s", "fast=lead:k=1", "--out", "r2", "--overwrite")
    rows = RunDir.open(work / "r2").read_predictions()
    assert all(len(p.summary.splitlines()) == 1 for p in rows)  # one sentence each, as k=1 asks
    assert RunDir.open(work / "r2").read_manifest().systems[0].options == {"k": 1}

    ok(*RUN, "-s", "textrank", "--out", "r2", "--overwrite")
    journal = [json.loads(line) for line in (work / "r2" / "predictions.jsonl").read_text().splitlines()]
    assert {r["system"] for r in journal} == {"textrank"}
    assert set(board(ok("score", "--run", "r2", "--json"))) == {"textrank"}


def test_overwrite_deletes_only_run_files(work):
    (work / "notes").mkdir()
    (work / "notes" / "todo.txt").write_text("keep me")
    res = cli(*RUN, "-s", "lead", "--out", "notes", "--overwrite")
    assert res.exit_code == 2 and "holds 'todo.txt', which is not a run file" in res.output
    assert snapshot(work / "notes") == {"todo.txt": b"keep me"}
    (work / "empty").mkdir()
    ok(*RUN, "-s", "lead", "--out", "empty")  # an empty directory is a fine place for a new run


# --- --resume: the same run only --------------------------------------------------------------

def test_resume_refuses_a_changed_gold_set_or_system_naming_it(work):
    """[9.1] --resume of a changed run is refused, naming what changed, with nothing written."""
    ok(*RUN, "-s", f"c=command:{CMD}", "-s", "lead", "--out", "r")
    before = snapshot(work / "r")
    (work / "summ.py").write_text(SCRIPT + "# edited\n")
    res = cli("run", "--resume", "r")
    assert res.exit_code == 2
    assert "system 'c' changed since run r started (files.summ.py)" in res.output
    (work / "summ.py").write_text(SCRIPT)
    gold = make_gold(3)
    gold.items[1] = gold.items[1].model_copy(update={"key_points": ["Edited."]})
    write_gold_jsonl(work / "gold.jsonl", gold)
    res = cli("run", "--resume", "r")
    assert res.exit_code == 2 and "gold set gold.jsonl changed since run r was made" in res.output
    assert snapshot(work / "r") == before
    write_gold_jsonl(work / "gold.jsonl", make_gold(3))
    res = cli("run", "--resume", "r", "-s", "lead:k=1")
    assert res.exit_code == 2 and "-s 'lead:k=1' is not one of them" in res.output


def test_resume_retry_failed_redoes_failed_rows(work):
    """[9.1, 9.6] --resume keeps failed rows; --resume --retry-failed redoes them (main: --resume
    never redid a failed row although --max-errors told the user to use it)."""
    (work / "FAIL").write_text("g001")
    res = ok(*RUN, "-s", f"c=command:{CMD}", "--out", "r", "--json")
    assert board(res)["c"]["failed"] == 1
    (work / "FAIL").unlink()
    assert board(ok("run", "--resume", "r", "--json"))["c"]["failed"] == 1
    assert board(ok("run", "--resume", "r", "--retry-failed", "--json"))["c"]["failed"] == 0
    journal = [json.loads(line) for line in (work / "r" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["gold_id"] for r in journal) == ["g000", "g001", "g002"] and all(r["error"] is None for r in journal)


def test_max_errors_names_a_command_that_really_redoes_the_rows(work):
    """[9.6] the --max-errors message names --resume DIR --retry-failed, and that command works."""
    (work / "FAIL").write_text("g000 g001")
    res = cli(*RUN, "-s", f"c=command:{CMD}", "--out", "r", "--max-errors", "2", "--no-cache")
    assert res.exit_code == 2
    assert "evalkit run --resume r --retry-failed" in res.output
    (work / "FAIL").unlink()
    assert board(ok("run", "--resume", "r", "--retry-failed", "--no-cache", "--json"))["c"]["ok"] == 3


def test_retry_failed_without_resume_and_resume_with_run_options_are_refused(work):
    res = cli(*RUN, "-s", "lead", "--retry-failed", "--out", "r")
    assert res.exit_code == 2 and "--retry-failed goes with --resume DIR" in res.output
    ok(*RUN, "-s", "lead", "--out", "r")
    res = cli("run", "--resume", "r", "--metrics", "rouge1")
    assert res.exit_code == 2 and "--resume continues the run as its manifest records it" in res.output


# --- 6. failures are loud -------------------------------------------------------------------------

def test_a_system_with_no_successful_row_exits_1(work):
    """[9.6] every row of a system failed: exit 1 with its most frequent error (main: exit 0)."""
    (work / "FAIL").write_text("g000 g001 g002")
    res = cli(*RUN, "-s", f"c=command:{CMD}", "-s", "lead", "--out", "r")
    assert res.exit_code == 1, res.output
    assert "error: system 'c': all 3 rows failed; most frequent error (1x): exit code 1; stderr: scripted failure for g" \
        in res.output
    assert (work / "r" / "report.md").is_file()  # the run is complete all the same
    rows = RunDir.open(work / "r").read_predictions()
    assert all(p.error for p in rows if p.system == "c")


# --- 9. the manifest's completion is written last ---------------------------------------------

def test_an_incomplete_run_is_refused_by_readers(work):
    """[9.9] a run killed before it finished says so instead of being read as a result."""
    (work / "evalkit.toml").write_text('[[gate.rule]]\nmetric = "rouge1"\nmin = 0.1\n')
    ok(*RUN, "-s", "lead", "--out", "r")
    manifest = json.loads((work / "r" / "manifest.json").read_text())
    assert manifest["complete"] is True and list(manifest).index("complete") == len(manifest) - 1
    manifest["complete"] = False
    (work / "r" / "manifest.json").write_text(json.dumps(manifest))
    for args in (["report", "r"], ["gate", "r"], ["compare", "r"], ["baseline", "r", "--to", "b.json"]):
        res = cli(*args)
        assert res.exit_code == 2, (args, res.output)
        assert "run r is incomplete (interrupted before it finished); finish it with: evalkit run --resume r" \
            in res.output
    ok("run", "--resume", "r")
    assert json.loads((work / "r" / "manifest.json").read_text())["complete"] is True


# --- 5. score --run --------------------------------------------------------------------------------

def test_score_run_counts_missing_rows_as_failed(work):
    """[9.5] an incomplete journal: the missing items are failed rows (main: dropped, so a 3-item
    run showed items 1, ok 1, failed 0 and an errors max=0 rule passed)."""
    ok(*RUN, "-s", "textrank", "--out", "r")
    journal = work / "r" / "predictions.jsonl"
    journal.write_text(journal.read_text().splitlines(keepends=True)[0])
    row = board(ok("score", "--run", "r", "--json"))["textrank"]
    assert (row["items"], row["ok"], row["failed"]) == (3, 1, 2)
    summary = RunDir.open(work / "r").read_summary().systems["textrank"]
    assert (summary.items, summary.ok, summary.failed) == (3, 1, 2)


def test_score_run_never_resurrects_rows_of_other_systems(work):
    """[9.1] rows of a system the manifest does not list stay out of every table."""
    ok(*RUN, "-s", "textrank", "--out", "r")
    stray = Prediction(gold_id="g000", system="lead", summary="An old row.")
    with open(work / "r" / "predictions.jsonl", "a") as f:
        f.write(stray.model_dump_json() + "\n")
    assert set(board(ok("score", "--run", "r", "--json"))) == {"textrank"}
    assert set(pd.read_parquet(work / "r" / "scores.parquet").system) == {"textrank"}


def test_score_run_with_metrics_merges_into_the_run(work):
    """[9.5] --metrics re-scores the named metrics and keeps the others (main: quotes and numbers
    silently dropped); the result equals a fresh run with all of them, byte for byte."""
    ok(*RUN, "-s", "lead", "-s", "textrank", "--out", "r")
    ok("score", "--run", "r", "--metrics", "rouge1,extractiveness")
    manifest = RunDir.open(work / "r").read_manifest()
    assert [m.name for m in manifest.metrics] == ["rouge", "quotes", "numbers", "extractiveness"]
    assert manifest.metrics[0].outputs[:4] == ["rouge1", "rouge1_p", "rouge1_r", "rouge2"]  # all of rouge kept
    ok("run", "-g", "gold.jsonl", "--metrics", "rouge,quotes,numbers,extractiveness", "--quiet", "-s", "lead",
       "-s", "textrank", "--out", "fresh", "--no-cache")
    assert (work / "r" / "scores.csv").read_bytes() == (work / "fresh" / "scores.csv").read_bytes()
    assert (work / "r" / "details.jsonl").read_bytes() == (work / "fresh" / "details.jsonl").read_bytes()

    # another configuration of a family the run has replaces that family, and only it
    ok("score", "--run", "r", "--metrics", "rouge1:tokenizer=unicode")
    manifest = RunDir.open(work / "r").read_manifest()
    assert manifest.metrics[0].outputs == ["rouge1"] and manifest.metrics[0].config["tokenizer"] == "unicode"
    assert {"quote_fidelity", "number_fidelity", "density"} <= set(pd.read_parquet(work / "r" / "scores.parquet").metric)


# --- 16 + 9: validation before anything is created -------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--max-errors", "0"], "error: --max-errors must be at least 1"),
    (["--limit", "0"], "error: --limit must be at least 1"),
    (["--max-output-chars", "0"], "error: --max-output-chars must be at least 1"),
    (["--seed", "abc"], "error: evalkit run: Invalid value for '--seed'"),
    (["-s", "nope"], "unknown backend 'nope'"),
    (["-s", "lead:k=abc"], "bad options for backend 'lead'"),
    (["--metrics", "rogue"], "unknown metric 'rogue'"),
    (["-g", "missing.jsonl"], "error: missing.jsonl: no such file"),
    (["-s", "transformers:model=acme/not-downloaded"], "is neither a local directory nor in the local Hugging Face"),
])
def test_bad_options_are_one_line_and_write_nothing(work, monkeypatch, args, message):
    """[9.16, 9.9] main wrote manifest.json before refusing --max-errors 0; --seed abc was a box."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = cli("run", "-g", "gold.jsonl", "--out", "r", *args)
    assert res.exit_code == 2, res.output
    assert res.output.startswith(message) or message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert not (work / "r").exists() and not (work / "cache").exists()


def test_out_naming_a_file_or_an_unwritable_place(work):
    """[9.16] one located line, nothing created."""
    (work / "afile").write_text("x")
    res = cli(*RUN, "-s", "lead", "--out", "afile")
    assert res.exit_code == 2 and "afile: exists and is not a directory; --out names a run directory" in res.output
    res = cli(*RUN, "-s", "lead", "--out", "afile/sub")
    assert res.exit_code == 2 and "afile/sub: cannot create the run directory: afile is not a directory" in res.output
    if os.geteuid() != 0:  # root may write anywhere
        (work / "ro").mkdir(mode=0o555)
        res = cli(*RUN, "-s", "lead", "--out", "ro/run")
        assert res.exit_code == 2 and "ro is not writable" in res.output
    assert (work / "afile").read_text() == "x" and not (work / "cache").exists()


def test_an_unreadable_gold_file_is_one_located_line(work):
    """[9.16] main: a generic "error: PermissionError ..." message."""
    if os.geteuid() != 0:
        (work / "gold.jsonl").chmod(0)
        target, reason = "gold.jsonl", "Permission denied"
    else:  # root reads anything; a read that fails at the device does the same
        (work / "bad.jsonl").symlink_to("/proc/self/mem")
        target, reason = "bad.jsonl", "Input/output error"
    res = cli("run", "-g", target, "-s", "lead", "--out", "r")
    assert res.exit_code == 2 and f"error: {target}: cannot read: {reason}" in res.output
    assert not (work / "r").exists()


@pytest.mark.parametrize("row, where", [
    ({"key_points": 7}, "line 1, field 'key_points': expected a list of strings (or one string, a key point per line), got int"),
    ({"key_points": [1, 2]}, "line 1, field 'key_points': item 1: expected a string, got int"),
    ({"error": 5}, "line 1, field 'error': expected a string (the row's error message) or null, got int"),
    ({"usage": {"prompt_tokens": -1}}, "line 1, field 'usage.prompt_tokens': Input should be greater than or equal to 0"),
])
def test_bad_fields_of_a_predictions_file_are_located(work, row, where):
    """[9.16] main: 4-7 lines of pydantic text."""
    (work / "p.jsonl").write_text(json.dumps({"gold_id": "g000", "system": "a", "summary": "Text.", **row}) + "\n")
    res = cli("score", "-g", "gold.jsonl", "-p", "p.jsonl", "--out", "r", "-m", "rouge1")
    assert res.exit_code == 2, res.output
    assert res.output.strip() == f"error: p.jsonl, {where}"
    assert not (work / "r").exists()


def test_a_run_journal_can_be_scored_as_a_predictions_file(work):
    ok(*RUN, "-s", "lead", "--out", "r")
    res = ok("score", "-g", "gold.jsonl", "-p", "r/predictions.jsonl", "--out", "s", "-m", "rouge1", "--json")
    assert board(res)["lead"]["ok"] == 3


# --- 13. the output cap ----------------------------------------------------------------------------

def test_an_output_over_max_output_chars_is_the_rows_error(work):
    """[9.13] a 1 MB one-paragraph output (999,999 characters once stripped) from a command backend is recorded as an error, never
    parsed or scored, and the run goes on (main: the run stalled in key-point parsing)."""
    (work / "big.py").write_text("import sys\nsys.stdin.read()\nprint('word ' * 200000)\n")
    res = cli(*RUN, "-s", f"big=command:cmd={sys.executable} big.py", "-s", "lead", "--out", "r")
    assert res.exit_code == 1, res.output  # every row of "big" failed
    rows = [p for p in RunDir.open(work / "r").read_predictions() if p.system == "big"]
    assert [p.error for p in rows] == ["backend output of 999,999 characters is longer than max_output_chars="
                                       "200,000 (not scored; raise --max-output-chars if it is real)"] * 3
    assert all(p.summary is None and p.key_points == [] for p in rows)
    assert RunDir.open(work / "r").read_manifest().identity.max_output_chars == 200_000
    assert cli(*RUN, "-s", "lead", "--out", "r3", "--max-output-chars", "20").exit_code == 1
    assert all(p.error and "max_output_chars=20 " in p.error for p in RunDir.open(work / "r3").read_predictions())


STOPPER = """\
from evalkit import Backend, BackendOptions, GoldItem, UsageError


class StopperOptions(BackendOptions):
    after: int = 0


class Stopper(Backend):
    # answers ``after`` items, then stops the run as a model that will not load would

    name = "stopper"
    Options = StopperOptions
    options: StopperOptions

    def summarize(self, item: GoldItem) -> str:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > self.options.after:
            raise UsageError("the model will not load")
        return item.article.split(". ")[0] + "."
"""


def test_overwrite_that_fails_before_its_first_row_puts_the_old_run_back(work):
    """--overwrite whose new run stops at its first call (a model that will not load) leaves the
    old run as it was; one that wrote rows keeps them, a partial run to --resume."""
    (work / "stopper.py").write_text(STOPPER)
    ok(*RUN, "-s", "lead", "--out", "r")
    before = snapshot(work / "r")
    res = cli(*RUN, "-s", "x=stopper:Stopper", "--out", "r", "--overwrite", "--no-cache")
    assert res.exit_code == 2 and "the model will not load" in res.output
    assert snapshot(work / "r") == before  # every file back, byte for byte, nothing left aside
    assert RunDir.open(work / "r").read_manifest().complete

    res = cli(*RUN, "-s", "x=stopper:Stopper:after=2", "--out", "r", "--overwrite", "--no-cache")
    assert res.exit_code == 2
    rows = RunDir.open(work / "r", require_complete=False).read_predictions()
    assert [p.system for p in rows] == ["x", "x"]  # the new run's rows, kept for --resume; the old run gone
    assert sorted(p.name for p in (work / "r").iterdir() if p.name.startswith(".")) == []
