"""`evalkit compare` and `evalkit baseline`: planted effects through the CLI, refusal of
incomparable runs, Holm over system pairs, direction of lower-is-better metrics, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from judge_fixtures import invoke, make_run, noisy

from evalkit import load_run
from evalkit.baseline import load_baseline

N = 50


def compare_json(*args):
    res = invoke("compare", *args, "--resamples", "999", "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture
def three(tmp_path):
    base = noisy(0.35, N, 1)
    rng = np.random.default_rng(9)
    return make_run(tmp_path / "three", {
        "lead": {"rougeLsum": base, "rouge1": noisy(0.4, N, 2)},
        "llm": {"rougeLsum": base + 0.04 + rng.normal(0, 0.02, N), "rouge1": noisy(0.4, N, 3)},
        "twin": {"rougeLsum": base + rng.normal(0, 0.02, N), "rouge1": noisy(0.4, N, 4)},
    })


def test_within_run_finds_planted_effect(three):
    out = compare_json(three.path, "--systems", "lead,llm", "--metric", "rougeLsum")
    assert out["kind"] == "systems" and len(out["pairs"]) == 1
    m = out["pairs"][0]["metrics"][0]
    assert m["metric"] == "rougeLsum" and m["n"] == N
    assert m["p_value"] < 0.01 and m["significant"]
    assert m["ci_low"] <= 0.04 <= m["ci_high"] and m["delta"] == pytest.approx(m["mean_b"] - m["mean_a"])
    assert m["wins"] + m["ties"] + m["losses"] == N and m["wins"] > 40
    assert m["verdict"].startswith("llm better than lead on rougeLsum (Δ +0.0")
    # within one run the family is every pair of the run's systems: the numbers of comparisons.json
    assert "the family is every pair of the run's 3 systems" in out["correction"]
    assert out["families"]["rougeLsum"] == "Holm across the 3 system pairs of rougeLsum with at least 10 shared items"


def test_all_pairs_holm(three):
    out = compare_json(three.path)
    assert [(p["system_a"], p["system_b"]) for p in out["pairs"]] == [("lead", "llm"), ("lead", "twin"), ("llm", "twin")]
    assert out["correction"].startswith("Holm within each metric, across its system pairs")
    assert [m["metric"] for m in out["pairs"][0]["metrics"]] == ["rougeLsum", "rouge1"]  # the metric specs' order
    for p in out["pairs"]:
        for m in p["metrics"]:
            assert m["p_adjusted"] >= m["p_value"]
    verdicts = out["verdicts"]
    assert any(v.startswith("llm better than lead on rougeLsum") and "Holm-adjusted" in v for v in verdicts)
    assert any(v.startswith("no significant difference between lead and twin on rougeLsum") for v in verdicts)
    assert any(v.startswith("llm better than twin on rougeLsum") for v in verdicts)


def test_two_runs_each_system_with_itself(tmp_path):
    a = make_run(tmp_path / "before", {"lead": {"rouge1": noisy(0.3, N, 1)}, "llm": {"rouge1": noisy(0.4, N, 2)}})
    b_vals = {"lead": {"rouge1": noisy(0.3, N, 1)}, "llm": {"rouge1": noisy(0.4, N, 2) - 0.05}}
    b = make_run(tmp_path / "after", b_vals)
    out = compare_json(a.path, b.path)
    assert out["kind"] == "runs" and out["runs"] == ["before", "after"]
    lead, llm = out["pairs"]
    assert lead["label_a"] == "lead (before)" and lead["label_b"] == "lead (after)"
    assert lead["metrics"][0]["p_value"] == 1.0 and lead["metrics"][0]["ties"] == N
    assert llm["metrics"][0]["significant"] and llm["metrics"][0]["delta"] == pytest.approx(-0.05, abs=0.01)
    assert out["verdicts"][1].startswith("llm (before) better than llm (after) on rouge1")
    # human output: tables, the correction, and the verdicts
    res = invoke("compare", a.path, b.path, "--resamples", "999")
    assert res.exit_code == 0
    assert "A = llm (before)" in res.stdout and "Holm within each metric, across its system pairs" in res.stdout
    assert json.loads(invoke("compare", a.path, b.path, "--resamples", "999", "--json").stdout)["families"] == {
        "rouge1": "Holm across the 2 system pairs of rouge1 with at least 10 shared items"}
    assert "• llm (before) better than llm (after) on rouge1" in res.stdout


def test_refuses_different_gold_sets(tmp_path):
    a = make_run(tmp_path / "a", {"lead": {"rouge1": noisy(0.3, 10, 1)}})
    b = make_run(tmp_path / "b", {"lead": {"rouge1": noisy(0.3, 10, 1)}}, gold_hash="sha256:" + "cd" * 32,
                 gold_name="other")
    res = invoke("compare", a.path, b.path)
    assert res.exit_code == 2 and res.stdout == ""
    assert "refusing to compare: gold sets differ" in res.stderr
    assert "synthetic (sha256:abababababab, 10 items)" in res.stderr and "other (sha256:cdcdcdcdcdcd" in res.stderr
    assert "--force" in res.stderr
    forced = invoke("compare", a.path, b.path, "--force", "--json", "--resamples", "999")
    assert forced.exit_code == 0
    assert "warning: compared despite: gold sets differ" in forced.stderr
    assert json.loads(forced.stdout)["warnings"][0].startswith("compared despite: gold sets differ")


def test_refuses_different_metric_config(tmp_path):
    a = make_run(tmp_path / "a", {"lead": {"rouge1": noisy(0.3, 10, 1)}})
    b = make_run(tmp_path / "b", {"lead": {"rouge1": noisy(0.3, 10, 1)}},
                 rouge_config={"tokenizer": "unicode", "use_stemmer": False, "lsum_split": "pysbd"})
    res = invoke("compare", a.path, b.path)
    assert res.exit_code == 2
    assert "metric 'rouge' configuration differs" in res.stderr
    assert "tokenizer: 'default' vs 'unicode'" in res.stderr and "use_stemmer: True vs False" in res.stderr


def test_usage_errors(tmp_path, three):
    for args, msg in [
        ((three.path, "--systems", "lead,gpt9"), "system 'gpt9' is not in run three (systems: lead, llm, twin)"),
        ((three.path, "--systems", "lead"), "need two systems to compare"),
        ((three.path, "--metric", "bleu"), "metric 'bleu' is not scored in both runs (common metrics: rougeLsum, rouge1)"),
        ((tmp_path / "nowhere",), "is not a run directory"),
        ((three.path, "--alpha", "2"), "alpha must be between 0 and 1"),
    ]:
        res = invoke("compare", *args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.stderr)


def test_lower_is_better_orientation(tmp_path):
    rates = noisy(0.2, N, 5, sd=0.05)
    run = make_run(tmp_path / "r", {"careful": {"hallucination_rate": rates},
                                    "sloppy": {"hallucination_rate": rates + 0.1}})
    out = compare_json(run.path, "--systems", "careful,sloppy")
    m = out["pairs"][0]["metrics"][0]
    assert m["direction"] == "lower" and m["delta"] == pytest.approx(0.1)
    assert m["wins"] == 0 and m["losses"] == N  # B (sloppy) is worse on every item
    assert m["verdict"].startswith("careful better than sloppy on hallucination_rate")


def test_compare_json_is_byte_identical(three):
    first = invoke("compare", three.path, "--json", "--resamples", "999")
    second = invoke("compare", three.path, "--json", "--resamples", "999")
    assert first.exit_code == 0 and first.stdout == second.stdout
    other_seed = invoke("compare", three.path, "--json", "--resamples", "999", "--seed", "1")
    assert other_seed.stdout != first.stdout  # the seed is really used


def test_items_missing_on_one_side_are_not_paired(tmp_path):
    a = make_run(tmp_path / "a", {"x": {"rouge1": noisy(0.3, 10, 1)}, "y": {"rouge1": noisy(0.5, 10, 2)}},
                 failed={"y": [0, 1, 2]})
    c = load_run(a.path).compare("x", "y", n_resamples=999)
    assert c.pairs[0].metrics[0].n == 7


# --- baseline ----------------------------------------------------------------------------

def test_baseline_roundtrip(tmp_path):
    vals = noisy(0.3, 8, 1)
    vals[2] = np.nan
    run = make_run(tmp_path / "r", {"lead": {"rouge1": vals, "quote_fidelity": [1.0] * 8}})
    target = tmp_path / "deep" / "baseline.json"
    res = invoke("baseline", run.path, "--to", target)
    assert res.exit_code == 0 and f"wrote {target}" in res.stdout and "1 systems" not in res.stdout
    b = load_baseline(target)
    assert b.run_id == "r" and b.gold.hash == run.read_manifest().gold.hash
    assert b.metrics == run.read_manifest().metrics and b.summary == run.read_summary()
    assert b.scores["lead"]["rouge1"]["d002"] is None
    assert b.scores["lead"]["rouge1"]["d005"] == vals[5]  # exact, not rounded
    frame = b.scores_frame().sort_values(["system", "metric", "gold_id"]).reset_index(drop=True)
    orig = run.read_scores().sort_values(["system", "metric", "gold_id"]).reset_index(drop=True)
    assert frame["gold_id"].tolist() == orig["gold_id"].tolist()
    for x, y in zip(frame["value"], orig["value"]):
        assert (math.isnan(x) and math.isnan(y)) or x == y
    # promoting twice writes the same bytes (no timestamp of the promotion itself)
    first = target.read_bytes()
    invoke("baseline", run.path, "--to", target)
    assert target.read_bytes() == first
    res = invoke("baseline", run.path, "--to", tmp_path)
    assert res.exit_code == 2 and "is a directory" in res.stderr
