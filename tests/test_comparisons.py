"""Issue 9, item 7: direction is part of a metric's recorded spec, descriptive outputs are never
ranked, one comparisons.json per run feeds every renderer, compare and the gate, and a pair
with too few shared items is "too few items to compare", never "not significantly different".

Every test here fails on the code before comparisons.json existed (there was no direction in
the spec; extractiveness outputs were ranked as higher-is-better; the terminal, report.md and
report.html each ran their own tests; a 4-item "best" made 0.011 bold)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from judge_fixtures import invoke, make_run, noisy
from render_cells import html_cells, md_cells, table_cells
from rich.console import Console

from evalkit import load_run
from evalkit.comparison_records import RunComparisons
from evalkit.comparisons import DESCRIPTIVE, NOT_RECORDED, load_comparisons
from evalkit.gold import SHIPPED_GOLD
from evalkit.metrics import build_metric
from evalkit.report.html import render_run_html
from evalkit.report.markdown import render_run
from evalkit.report.terminal import leaderboard_view
from evalkit.rundir import RunDir
from evalkit.scoring import Scorer

GOLD = SHIPPED_GOLD
MARKS = ("★", "▼", "†")


def terminal_text(run: RunDir) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(leaderboard_view(load_run(run.path)))
    return console.export_text()


# --------------------------------------------------------------------------------------------
# direction in the recorded spec
# --------------------------------------------------------------------------------------------

def test_metric_specs_record_each_outputs_direction():
    ext = build_metric("extractiveness").identity()
    assert set(ext.directions.values()) == {"none"} and set(ext.directions) == set(ext.outputs)
    quotes = build_metric("quotes").identity().directions
    assert quotes == {"quote_fidelity": "higher", "quote_count": "none", "quote_altered": "lower",
                      "quote_not_found": "lower"}
    numbers = build_metric("numbers").identity().directions
    assert numbers == {"number_fidelity": "higher", "number_count": "none", "number_unsupported": "lower"}
    assert set(build_metric("rouge").identity().directions.values()) == {"higher"}
    # --metrics rouge1: the spec keeps the directions of the outputs kept
    spec = Scorer(build_metric("rouge"), ("rouge1",)).spec()
    assert spec.outputs == ["rouge1"] and spec.directions == {"rouge1": "higher"}


def test_descriptive_outputs_are_never_ranked_anywhere(tmp_path, monkeypatch):
    """A real `evalkit run` with extractiveness: summary_words/coverage/density are shown with n
    but never starred, bolded, marked ▼ or called better (terminal, report.md, report.html,
    compare, gate); rougeLsum in the same run is ranked."""
    monkeypatch.chdir(tmp_path)
    Path("evalkit.toml").write_text("[stats]\nmin_items = 5\n")
    res = invoke("run", "-g", GOLD, "-s", "lead", "-s", "textrank", "-s", "one=lead:k=1", "--limit", "12",
                 "--metrics", "rougeLsum,extractiveness", "--no-cache", "--quiet", "--out", "r")
    assert res.exit_code == 0, res.output
    run = RunDir.open("r")
    for specs in (run.read_manifest().metrics, run.read_summary().metrics):
        ext = next(s for s in specs if s.name == "extractiveness")
        assert ext.directions["summary_words"] == "none" and ext.directions["density"] == "none"
    comps, note = load_comparisons(run)
    assert note is None and comps.min_items == 5  # [stats] min_items of evalkit.toml
    assert [m.metric for m in comps.metrics] == ["rougeLsum"]
    assert comps.not_compared == dict.fromkeys(["summary_words", "coverage", "density"], DESCRIPTIVE)
    assert comps.get("rougeLsum").versus_best["one"] == "worse"  # ranking still works where it should

    descriptive = ("summary_words", "coverage", "density")
    term = table_cells(res.stdout, "summary_words")
    assert "▼" in term["one"]["rougeLsum"]
    for system in ("lead", "textrank", "one"):
        for m in descriptive:
            cell = term[system][m]
            assert re.search(r"n=12", cell) and not any(mark in cell for mark in MARKS), (system, m, cell)
    md = md_cells(run.report_md.read_text())
    assert "▼" in md["one"]["rougeLsum"]
    for system in ("lead", "textrank", "one"):
        for m in descriptive:
            cell = md[system][f"{m.replace('_', chr(92) + '_')} (descriptive)"]
            assert "n=12" in cell and "**" not in cell and "▼" not in cell and "too few" not in cell, cell
    page = run.report_html.read_text()
    cells = html_cells(page)
    assert 'title="significantly worse' in cells["one"][0]  # rougeLsum
    for system in ("lead", "textrank", "one"):
        for cell in cells[system][1:4]:  # summary_words, coverage, density (then ok, errors)
            assert "best" not in cell and "tied" not in cell and "★" not in cell and "▼" not in cell, cell
            assert "n=12" in cell
    assert '<option>summary_words</option>' not in page  # the "lost to" filter offers ranked metrics only
    # compare: a significant difference of a descriptive output is "differ", never "better"
    out = json.loads(invoke("compare", "r", "-m", "summary_words,rougeLsum", "--json").stdout)
    words = [m for p in out["pairs"] for m in p["metrics"] if m["metric"] == "summary_words"]
    assert all(m["direction"] == "none" and m["wins"] is None for m in words)
    assert any(m["outcome"] == "differ" for m in words)
    assert not any("better than" in m["verdict"] for m in words)
    assert any("descriptive, so neither is better" in v for v in out["verdicts"])
    assert any(v.startswith("textrank better than one on rougeLsum") for v in out["verdicts"])
    # the gate: bounds on a descriptive output are fine, max_drop is refused
    invoke("baseline", "r", "--to", "base.json")
    Path("g.toml").write_text('[gate]\nbaseline = "base.json"\n[[gate.rule]]\nmetric = "summary_words"\nmax = 500\n')
    assert invoke("gate", "r", "-c", "g.toml").exit_code == 0
    Path("g.toml").write_text('[gate]\nbaseline = "base.json"\n[[gate.rule]]\nmetric = "summary_words"\nmax_drop = 5\n')
    res = invoke("gate", "r", "-c", "g.toml")
    assert res.exit_code == 2 and "max_drop does not apply to a descriptive output" in res.stderr
    assert res.stderr.count("\n") == 1


def test_a_run_without_recorded_directions_is_said_not_assumed(tmp_path):
    """A run directory from before directions were recorded: nothing is ranked or called better,
    and every reader says why (no silent "higher is better")."""
    run = make_run(tmp_path / "old", {"lead": {"rouge1": noisy(0.3, 30, 1)}, "llm": {"rouge1": noisy(0.5, 30, 2)}},
                   directions=False, comparisons=False)
    res = invoke("compare", run.path, "--json", "--resamples", "999")
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    m = out["pairs"][0]["metrics"][0]
    assert m["direction"] is None and m["outcome"] == "differ" and m["wins"] is None
    assert "better than" not in m["verdict"] and "direction is not recorded" in m["verdict"]
    assert any("records no direction for rouge1" in w for w in out["warnings"])
    assert any("has no comparisons.json" in w for w in out["warnings"])
    # the gate cannot tell a drop from a gain: exit 2, naming the way out
    assert invoke("baseline", run.path, "--to", tmp_path / "b.json").exit_code == 0
    (tmp_path / "g.toml").write_text('[gate]\nbaseline = "b.json"\n[[gate.rule]]\nmetric = "rouge1"\nmax_drop = 0.01\n')
    res = invoke("gate", run.path, "-c", tmp_path / "g.toml")
    assert res.exit_code == 2 and "does not record the direction of 'rouge1'" in res.stderr
    assert "evalkit score --run" in res.stderr
    # evalkit report stores comparisons.json (once) and says what it did; nothing is marked
    res = invoke("report", run.path)
    assert res.exit_code == 0 and "comparisons computed and stored" in res.stderr
    stored = RunComparisons.model_validate_json((run.path / "comparisons.json").read_text())
    assert stored.metrics == [] and stored.not_compared == {"rouge1": NOT_RECORDED}
    text = run.report_md.read_text()
    assert "▼" not in text and "**0." not in text and "rouge1: direction not recorded" in text
    assert "rouge1: direction not recorded" in terminal_text(run)
    assert invoke("report", run.path).stderr == ""  # stored now: read, not recomputed


# --------------------------------------------------------------------------------------------
# one comparison, computed once
# --------------------------------------------------------------------------------------------

@pytest.fixture
def three(tmp_path):
    base = noisy(0.35, 40, 1)
    rng = np.random.default_rng(9)
    return make_run(tmp_path / "three", {
        "lead": {"rougeLsum": base, "quote_fidelity": noisy(0.9, 40, 5)},
        "llm": {"rougeLsum": base + 0.05 + rng.normal(0, 0.02, 40), "quote_fidelity": noisy(0.9, 40, 6)},
        "twin": {"rougeLsum": base + rng.normal(0, 0.02, 40), "quote_fidelity": noisy(0.9, 40, 7)},
    })


def test_comparisons_json_record(three):
    data = json.loads((three.path / "comparisons.json").read_text())
    assert data["schema_version"] == 1 and data["kind"] == "evalkit-comparisons" and data["min_items"] == 10
    comps = RunComparisons.model_validate(data)
    assert [m.metric for m in comps.metrics] == ["rougeLsum", "quote_fidelity"]
    mc = comps.get("rougeLsum")
    assert mc.direction == "higher" and mc.tested == 3
    assert mc.family == "Holm across the 3 system pairs of rougeLsum with at least 10 shared items"
    assert [(p.system_a, p.system_b) for p in mc.pairs] == [("lead", "llm"), ("lead", "twin"), ("llm", "twin")]
    for p in mc.pairs:
        assert p.n == 40 and p.wins + p.ties + p.losses == 40 and p.p_adjusted >= p.p_value
        assert p.ci_low <= p.delta <= p.ci_high
    assert mc.best == "llm" and mc.versus_best == {"lead": "worse", "llm": "best", "twin": "worse"}
    assert mc.pair("llm", "lead").outcome == "b_better"


def test_every_renderer_reads_comparisons_json_and_none_computes(three, monkeypatch):
    """With the statistics functions disabled, the terminal, report.md, report.html and compare
    (within the run) still render, and all show exactly comparisons.json's marks and numbers."""
    comps = RunComparisons.model_validate_json((three.path / "comparisons.json").read_text())

    def forbidden(*a, **k):
        raise AssertionError("a renderer ran a statistical test")

    for name in ("evalkit.stats.paired_test", "evalkit.stats.paired_tests", "evalkit.comparisons.paired_tests",
                 "evalkit.stats.bootstrap_ci", "evalkit.stats.bootstrap_cis"):
        monkeypatch.setattr(name, forbidden)
    worse = {s for s, v in comps.get("rougeLsum").versus_best.items() if v == "worse"}
    term = table_cells(terminal_text(three), "rougeLsum")
    assert {s for s, row in term.items() if "▼" in row["rougeLsum"]} == worse
    assert "★" in term["llm"]["rougeLsum"]
    md = md_cells(render_run(load_run(three.path)))
    assert {s for s, row in md.items() if "▼" in row["rougeLsum"]} == worse
    assert md["llm"]["rougeLsum"].startswith("**")
    cells = html_cells(render_run_html(load_run(three.path)))
    assert {s for s, c in cells.items() if "significantly worse" in c[0]} == worse
    assert 'class="num best"' in cells["llm"][0]
    res = invoke("compare", three.path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for pair in out["pairs"]:
        for m in pair["metrics"]:
            stored = comps.get(m["metric"]).pair(pair["system_a"], pair["system_b"])
            assert (m["p_value"], m["p_adjusted"], m["delta"], m["ci_low"], m["n"]) == (
                stored.p_value, stored.p_adjusted, stored.delta, stored.ci_low, stored.n)


def test_same_numbers_when_computed_on_the_fly(three, tmp_path):
    """compare with another alpha re-judges the stored p-values; other resamples recompute with the
    same function; an old run directory (no comparisons.json) gets the same numbers in memory."""
    stored = load_comparisons(three)[0]
    (three.path / "comparisons.json").unlink()
    computed, note = load_comparisons(three)
    assert note and "has no comparisons.json" in note
    assert computed == stored
    strict = json.loads(invoke("compare", three.path, "--json", "--alpha", "0.000001").stdout)
    assert not any(m["significant"] for p in strict["pairs"] for m in p["metrics"])
    # a re-scored summary makes the stored file stale: it is not trusted
    invoke("report", three.path)
    summary = three.read_summary()
    summary.seed = 7
    three.write_summary(summary)
    fresh, note = load_comparisons(three)
    assert "does not match summary.json" in note and fresh.seed == 7


# --------------------------------------------------------------------------------------------
# too few items
# --------------------------------------------------------------------------------------------

@pytest.fixture
def sparse(tmp_path):
    """The issue's case: lead quotes in only 4 of 44 items (all verbatim); the others quote in
    every item and are mostly wrong. rougeLsum is scored everywhere."""
    n = 44
    lead_q = np.full(n, np.nan)
    lead_q[[3, 17, 25, 40]] = 1.0
    textrank_q = np.zeros(n)
    textrank_q[5] = 0.5
    oracle_q = np.zeros(n)
    oracle_q[[8, 9]] = 0.33
    return make_run(tmp_path / "sparse", {
        "lead": {"rougeLsum": noisy(0.35, n, 1), "quote_fidelity": lead_q},
        "textrank": {"rougeLsum": noisy(0.36, n, 2), "quote_fidelity": textrank_q},
        "oracle": {"rougeLsum": noisy(0.5, n, 3), "quote_fidelity": oracle_q},
    })


def test_too_few_items_is_never_not_significantly_different(sparse, tmp_path):
    comps = load_comparisons(sparse)[0]
    mc = comps.get("quote_fidelity")
    assert mc.best != "lead" and mc.versus_best["lead"] == "too_few_items"
    pair = mc.pair("lead", "textrank")
    assert pair.n == 4 and pair.outcome == "too_few_items" and pair.p_value is None and pair.delta == -1.0
    assert mc.tested == 1  # only textrank-oracle is tested; the family says so
    assert "(2 pairs with fewer not tested)" in mc.family
    # report.md: lead's 1.000 is not bold, not the best, and says why; no 4-item "best" bolds 0.011
    md = md_cells(render_run(load_run(sparse.path)))
    lead_cell = md["lead"]["quote\\_fidelity"]
    assert "**" not in lead_cell and "too few items to compare (n=4)" in lead_cell
    assert "1.000" in lead_cell and "n=4 (40 n/a)" in lead_cell
    # terminal: † and the sentence under the table
    text = terminal_text(sparse)
    assert "†" in table_cells(text, "quote_fidelity")["lead"]["quote_fidelity"]
    assert "quote_fidelity: lead: too few items to compare (n=4)" in text
    # HTML: the same words in lead's cell, no star
    lead_html = html_cells(render_run_html(load_run(sparse.path)))["lead"][1]
    assert "too few items to compare (n=4)" in lead_html and "★" not in lead_html
    # compare: the verdict is "too few items", never "no significant difference"
    sys_pair = invoke("compare", sparse.path, "--systems", "lead,textrank", "-m", "quote_fidelity", "--json")
    m = json.loads(sys_pair.stdout)["pairs"][0]["metrics"][0]
    assert m["outcome"] == "too_few_items" and "no significant" not in m["verdict"]
    assert m["verdict"] == "lead vs textrank on quote_fidelity: too few items to compare (n=4)"


def test_min_items_from_option_and_pair_counts(tmp_path):
    n = 30
    a_q = np.full(n, np.nan)
    a_q[:4] = [1.0, 1.0, 1.0, 1.0]
    b_q = np.full(n, 0.1)
    run = make_run(tmp_path / "r", {"a": {"quote_fidelity": a_q}, "b": {"quote_fidelity": b_q}})
    res = invoke("compare", run.path, "--json")
    m = json.loads(res.stdout)["pairs"][0]["metrics"][0]
    assert m["outcome"] == "too_few_items" and m["verdict"] == "a vs b on quote_fidelity: too few items to compare (n=4)"
    assert m["p_value"] is None and m["n"] == 4
    # --min-items 3: now tested (exact: 2^4 sign patterns, two-sided p >= 0.125)
    res = invoke("compare", run.path, "--json", "--min-items", "3")
    m = json.loads(res.stdout)["pairs"][0]["metrics"][0]
    assert m["outcome"] == "no_difference" and m["p_value"] == pytest.approx(0.125)
    # evalkit report --min-items stores the new minimum
    res = invoke("report", run.path, "--min-items", "3")
    assert res.exit_code == 0 and "computed with min_items=10, not 3" in res.stderr
    assert load_comparisons(run)[0].min_items == 3
    assert invoke("compare", run.path, "--min-items", "0").exit_code == 2
