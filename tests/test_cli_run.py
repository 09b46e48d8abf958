"""`evalkit run` end to end, in-process: no arguments → the shipped gold set, the baselines,
ROUGE; every run-directory file is written; the scores equal rouge-score called directly."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from rouge_score import rouge_scorer
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.rundir import RunDir
from evalkit.text import split_sentences

runner = CliRunner()
RUN_FILES = ("manifest.json", "predictions.jsonl", "scores.parquet", "scores.csv", "summary.json", "report.md")


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        res = runner.invoke(app, ["run"])
    assert res.exit_code == 0, res.output
    runs = list((cwd / "reports" / "runs").iterdir())
    assert len(runs) == 1
    return res.output, RunDir.open(runs[0])


def test_no_argument_run_prints_leaderboard_and_writes_every_file(default_run):
    output, rundir = default_run
    for name in ("lead", "textrank", "oracle", "rougeLsum", "run directory:"):
        assert name in output
    assert str(rundir.path.name) in output
    for f in RUN_FILES:
        assert (rundir.path / f).is_file(), f
    manifest = rundir.read_manifest()
    assert [s.name for s in manifest.systems] == ["lead", "textrank", "oracle"]
    assert manifest.gold.hash == load_gold(SHIPPED_GOLD).hash
    assert manifest.metrics[0].config["use_stemmer"] is True
    summary = json.loads(rundir.summary_path.read_text())
    assert summary["schema_version"] == 1
    for system in ("lead", "textrank", "oracle"):
        s = summary["systems"][system]
        assert s["ok"] == 44 and s["failed"] == 0
        m = s["metrics"]["rougeLsum"]
        assert m["ci_low"] <= m["mean"] <= m["ci_high"] and m["n"] == 44
    assert summary["systems"]["oracle"]["metrics"]["rouge2"]["mean"] > summary["systems"]["lead"]["metrics"]["rouge2"]["mean"]


def test_scores_equal_rouge_score_called_directly(default_run):
    _, rundir = default_run
    gold = load_gold(SHIPPED_GOLD).by_id()
    scores = pd.read_parquet(rundir.scores_parquet)
    assert list(scores.columns) == ["system", "gold_id", "metric", "value"]
    csv = pd.read_csv(rundir.scores_csv)
    assert len(csv) == len(scores)
    direct = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    table = scores.set_index(["system", "gold_id", "metric"])["value"]
    predictions = rundir.read_predictions()
    assert len(predictions) == 3 * 44
    for p in predictions:
        expected = direct.score("\n".join(gold[p.gold_id].key_points), "\n".join(split_sentences(p.summary)))
        for t, s in expected.items():
            assert abs(table[(p.system, p.gold_id, t)] - s.fmeasure) <= 1e-9
            assert abs(table[(p.system, p.gold_id, t + "_p")] - s.precision) <= 1e-9
            assert abs(table[(p.system, p.gold_id, t + "_r")] - s.recall) <= 1e-9


def test_options_limit_systems_metrics_json(tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "-s", "lead:k=1", "-s", "two=lead:k=2", "--limit", "3", "--metrics",
                              "rouge1,rougeLsum", "--out", str(out), "--no-cache", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [r["system"] for r in data["leaderboard"]] == ["lead:k=1", "two"]
    assert set(data["leaderboard"][0]) >= {"rouge1", "rougeLsum"}
    assert "rouge2" not in data["leaderboard"][0]
    scores = pd.read_parquet(out / "scores.parquet")
    assert set(scores.metric) == {"rouge1", "rougeLsum"} and scores.gold_id.nunique() == 3


@pytest.mark.parametrize("args, message", [
    (["-s", "nope"], "unknown backend 'nope'"),
    (["-s", "lead:k=abc"], "bad options for backend 'lead'"),
    (["-s", "lead:colour=red"], "unknown option"),
    (["--metrics", "rogue"], "unknown metric 'rogue'"),
    (["--gold", "missing.jsonl"], "missing.jsonl: no such file"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["-s", "lead", "-s", "lead"], "given twice"),
    # an option given twice was last-wins, silently (fails on main before this commit)
    (["-s", "lead:k=1,k=2"], "system 'lead:k=1,k=2': option 'k' given twice"),
    (["--metrics", "rouge1:use_stemmer=false,rouge2:use_stemmer=true"],
     "metric 'rouge': option 'use_stemmer' given twice with different values ('false', 'true')"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path, args, message):
    res = runner.invoke(app, ["run", "--out", str(tmp_path / "r"), "--no-cache", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_every_command_help_has_an_example():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    commands = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert {"run", "score", "backends", "metrics", "gold"} <= set(commands)
    for name in commands:
        r = runner.invoke(app, [name, "--help"])
        assert r.exit_code == 0, name
        assert "Example" in r.output, name


def test_backends_lists_builtins_with_options():
    res = runner.invoke(app, ["backends", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert {"lead", "textrank", "oracle"} <= set(rows)
    assert rows["lead"]["options"][0]["name"] == "k" and rows["lead"]["options"][0]["default"] == 3


def test_help_and_rouge_only_runs_do_not_import_heavy_libraries(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from evalkit.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0\n"
        f"r = CliRunner().invoke(app, ['run', '--limit', '2', '--no-cache', '--out', r'{tmp_path / 'r'}'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'bert_score', 'datasets') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout
