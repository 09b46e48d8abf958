"""`evalkit score`: predictions made elsewhere (JSONL/CSV) scored into a run directory."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.rundir import RunDir

runner = CliRunner()
GOLD = [
    {"id": "g1", "article": "The council met on Monday. It voted 7-2 to close two libraries.",
     "key_points": ["Vote: The council voted 7-2 to close two libraries."]},
    {"id": "g2", "article": "Rain fell for three days. The river rose by 2 metres.",
     "key_points": ["Flood: The river rose by 2 metres after three days of rain."]},
]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_jsonl_and_missing_rows_count_as_failures(tmp_path):
    gold = write(tmp_path / "gold.jsonl", GOLD)
    preds = write(tmp_path / "preds.jsonl", [
        {"gold_id": "g1", "system": "a", "summary": "The council voted 7-2 to close two libraries."},
        {"gold_id": "g2", "system": "a", "summary": "The river rose."},
        {"gold_id": "g1", "system": "b", "summary": "Libraries close."},
    ])
    res = runner.invoke(app, ["score", "--gold", str(gold), "--predictions", str(preds), "--out", str(tmp_path / "run"),
                              "--metrics", "rouge", "--json"])
    assert res.exit_code == 0, res.output
    board = {r["system"]: r for r in json.loads(res.output)["leaderboard"]}
    assert board["a"]["ok"] == 2 and board["b"]["ok"] == 1 and board["b"]["failed"] == 1
    rundir = RunDir.open(tmp_path / "run")
    assert rundir.read_manifest().kind == "score"
    errors = [p.error for p in rundir.read_predictions() if p.error]
    assert errors == ["no prediction in preds.jsonl"]
    scores = pd.read_parquet(rundir.scores_parquet)
    from rouge_score import rouge_scorer

    expected = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(
        GOLD[0]["key_points"][0], "The council voted 7-2 to close two libraries.")["rouge1"].fmeasure
    got = scores[(scores.system == "a") & (scores.gold_id == "g1") & (scores.metric == "rouge1")].value.item()
    assert abs(got - expected) <= 1e-9 and expected > 0.9


def test_score_csv_and_rescore_in_place(tmp_path):
    gold = write(tmp_path / "gold.jsonl", GOLD)
    pd.DataFrame([{"gold_id": "g1", "system": "x", "summary": "It voted 7-2."},
                  {"gold_id": "g2", "system": "x", "summary": "The river rose by 2 metres."}]).to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "run"
    res = runner.invoke(app, ["score", "-g", str(gold), "-p", str(tmp_path / "p.csv"), "-o", str(out), "-m", "rouge1"])
    assert res.exit_code == 0, res.output
    assert set(pd.read_parquet(out / "scores.parquet").metric) == {"rouge1"}
    res = runner.invoke(app, ["score", "--run", str(out), "-m", "rouge1,rouge2"])
    assert res.exit_code == 0, res.output
    assert set(pd.read_parquet(out / "scores.parquet").metric) == {"rouge1", "rouge2"}


def test_bad_predictions_are_located(tmp_path):
    gold = write(tmp_path / "gold.jsonl", GOLD)
    cases = [
        ([{"gold_id": "g9", "system": "a", "summary": "x"}], ["line 1", "field 'gold_id'", "not in gold set"]),
        ([{"gold_id": "g1", "summary": "x"}], ["line 1", "field 'system'", "missing"]),
        ([{"gold_id": "g1", "system": "a", "summary": "x"}, {"gold_id": "g1", "system": "a", "summary": "y"}],
         ["line 2", "second prediction"]),
        # a system named "" became a nameless column and an empty CSV cell (fails on main before this commit)
        ([{"gold_id": "g1", "system": "a", "summary": "x"}, {"gold_id": "g2", "system": " ", "summary": "y"}],
         ["line 2", "field 'system'", "empty"]),
    ]
    for rows, fragments in cases:
        preds = write(tmp_path / "p.jsonl", rows)
        res = runner.invoke(app, ["score", "-g", str(gold), "-p", str(preds), "-o", str(tmp_path / "r"), "-m", "rouge1"])
        assert res.exit_code == 2, res.output
        for f in fragments:
            assert f in res.output, (f, res.output)
        assert not (tmp_path / "r").exists()
