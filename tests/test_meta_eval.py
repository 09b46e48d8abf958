"""meta-eval: reproduces G-Eval Table 1 (ROUGE, summary level) on SummEval; the correlation
protocol on planted data; input errors name file, line and field (exit 2)."""

from __future__ import annotations

import json
import math

import pytest
from tiny_bert import SUMMEVAL, build_tiny_bert, summeval_rows
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError, UsageError
from evalkit.meta_eval import MetaRow, correlate, load_rows, run_meta_eval

HUMAN = ["coherence", "consistency", "fluency", "relevance"]
#: G-Eval (Liu et al., EMNLP 2023) Table 1, summary-level Spearman ρ / Kendall τ on SummEval;
#: ROUGE-L there is summary-level rougeLsum with the 11 references averaged
GEVAL_TABLE1 = {
    "rouge1": {"coherence": (0.167, 0.126), "consistency": (0.160, 0.130), "fluency": (0.115, 0.094), "relevance": (0.326, 0.252)},
    "rouge2": {"coherence": (0.184, 0.139), "consistency": (0.187, 0.155), "fluency": (0.159, 0.128), "relevance": (0.290, 0.219)},
    "rougeLsum": {"coherence": (0.128, 0.099), "consistency": (0.115, 0.092), "fluency": (0.105, 0.084), "relevance": (0.311, 0.237)},
}

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["meta-eval", *args])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_reproduces_geval_table1_rouge_rows_on_summeval():
    res = invoke(str(SUMMEVAL), "--human", ",".join(HUMAN), "--metrics", "rouge1,rouge2,rougeLsum", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["rows"], data["docs"], data["systems"], data["level"]) == (1600, 100, 16, "summary")
    got = {(c["metric"], c["human"]): c for c in data["correlations"]}
    diffs = {}
    for metric, row in GEVAL_TABLE1.items():
        for human, (rho, tau) in row.items():
            cell = got[(metric, human)]
            assert cell["n"] == 100 - cell["skipped"]
            diffs[(metric, human)] = (cell["spearman"] - rho, cell["kendall"] - tau)
    off = {f"{m}/{h}": (round(a, 4), round(b, 4)) for (m, h), (a, b) in diffs.items() if max(abs(a), abs(b)) > 0.005}
    assert not off, f"cells off by more than 0.005 (ours - published, rho/tau): {off}"


# --- the protocol on planted data ------------------------------------------------------------

def rows_for(table: dict[str, list[float]]) -> list[MetaRow]:
    """One row per (doc, system) with human score h; systems s0..sN in order."""
    return [MetaRow(doc, f"s{i}", "x", ("r",), "", (), {"h": h}) for doc, hs in table.items() for i, h in enumerate(hs)]


def test_summary_level_averages_per_document_and_skips_constant_sides():
    rows = rows_for({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": [2, 2, 2, 2], "d": [1, 2, 3, 4]})
    metric = [0.1, 0.2, 0.3, 0.4,   # a: agrees perfectly
              0.4, 0.3, 0.2, 0.1,   # b: perfectly reversed
              0.1, 0.5, 0.2, 0.3,   # c: human constant -> skipped
              0.7, 0.7, 0.7, 0.7]   # d: metric constant -> skipped
    (cell,) = correlate(rows, {"m": metric}, ["h"], "summary")
    assert (cell.spearman, cell.kendall, cell.pearson) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)
    assert (cell.n, cell.skipped) == (2, 2)


def test_summary_level_drops_systems_without_a_score():
    rows = rows_for({"a": [1, 2, 3, 5], "b": [3, 1, 2, 1]})
    nan = float("nan")
    metric = [1.0, 2.0, 8.0, nan,  # the system without a score is left out of document a
              nan, nan, nan, 0.5]  # document b has one scored system: skipped
    (cell,) = correlate(rows, {"m": metric}, ["h"], "summary")
    assert cell.spearman == pytest.approx(1.0) and cell.kendall == pytest.approx(1.0)
    assert cell.pearson == pytest.approx(0.9244734516419051)  # pearsonr([1,2,8],[1,2,3])
    assert (cell.n, cell.skipped) == (1, 1)


def test_system_level_correlates_per_system_means():
    rows = rows_for({"a": [1, 2, 3], "b": [3, 4, 5]})  # human means per system: 2, 3, 4
    metric = [0.0, 0.5, 0.9, 0.2, 0.5, 1.1]  # metric means: 0.1, 0.5, 1.0
    (cell,) = correlate(rows, {"m": metric}, ["h"], "system")
    assert (cell.spearman, cell.kendall) == pytest.approx((1.0, 1.0))
    assert cell.pearson == pytest.approx(0.9979487157886733)  # pearsonr([.1,.5,1],[2,3,4])
    assert cell.n == 3


def test_kendall_is_tau_b_with_ties():
    rows = rows_for({"a": [1, 1, 2, 3]})
    (cell,) = correlate(rows, {"m": [1, 2, 2, 3]}, ["h"], "summary")
    # 4 concordant pairs, 0 discordant, one tie on each side: tau-b = 4 / sqrt(5 * 5) (tau-a would be 4/6)
    assert cell.kendall == pytest.approx(0.8)
    assert cell.spearman == pytest.approx(0.8333333333333335)


# --- end to end on a few SummEval rows ------------------------------------------------------

def test_cli_table_and_json_on_a_slice(tmp_path):
    data = tmp_path / "slice.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in summeval_rows(48)))
    res = invoke(str(data), "--human", "coherence,relevance", "--metrics", "rouge")
    assert res.exit_code == 0, res.output
    assert "summary-level correlation" in res.stdout and "rougeLsum" in res.stdout and "relevance" in res.stdout
    res = invoke(str(data), "--human", "coherence,relevance", "--metrics", "rouge2", "--level", "system",
                 "--aggregate", "max", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["metrics"] == ["rouge2"] and out["level"] == "system" and out["systems"] == 16
    assert out["metric_specs"][0]["config"]["multi_ref"] == "max"
    assert {c["human"] for c in out["correlations"]} == {"coherence", "relevance"}
    assert all(-1 <= c["spearman"] <= 1 and c["n"] == 16 for c in out["correlations"])


def test_a_whole_family_correlates_its_headline_outputs(tmp_path):
    data = tmp_path / "slice.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in summeval_rows(32)))
    result = run_meta_eval(data, human=["relevance"], metrics="rouge")
    assert result.metrics == ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert result.docs == 2 and all(c.n == 2 for c in result.cells)


def test_bertscore_with_a_local_model_through_meta_eval(tmp_path):
    model = build_tiny_bert(tmp_path / "tiny")
    data = tmp_path / "slice.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in summeval_rows(32)))
    result = run_meta_eval(data, human=HUMAN, metrics=f"bertscore:model={model},rouge1", aggregate="max")
    assert result.metrics == ["bertscore_f1", "rouge1"]
    assert all(c.spearman is not None and math.isfinite(c.spearman) for c in result.cells)
    spec = next(s for s in result.metric_specs if s["name"] == "bertscore")
    assert spec["config"]["multi_ref"] == "max" and spec["config"]["bert_score_hash"]
    assert any("distinct texts embedded once" in n for n in result.notes)


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("row,field,message", [
    ({"doc_id": "d", "system_id": "s", "summary": "x", "references": ["r"]}, "coherence", "human rating column missing"),
    ({"doc_id": "d", "system_id": "s", "summary": "x", "references": ["r"], "coherence": "high"}, "coherence", "finite number"),
    ({"doc_id": "d", "system_id": "s", "summary": "x", "coherence": 3}, "references", "references"),
    ({"doc_id": "d", "system_id": "s", "summary": "x", "references": "r", "source": 5, "coherence": 3}, "source", "string"),
    ({"doc_id": "d", "system_id": "s", "summary": "x", "references": [1], "coherence": 3}, "references", "list of strings"),
    ({"system_id": "s", "summary": "x", "references": ["r"], "coherence": 3}, "doc_id", "missing"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, row, field, message):
    data = tmp_path / "bad.jsonl"
    good = {"doc_id": "d0", "system_id": "s", "summary": "x", "references": ["r"], "coherence": 1}
    data.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    res = invoke(str(data), "--human", "coherence")
    assert res.exit_code == 2
    assert f"{data}, line 2, field '{field}'" in res.output and message in res.output
    assert "Traceback" not in res.output


def test_invalid_json_duplicates_and_missing_file(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"doc_id": "d"\n')
    with pytest.raises(InputError, match="line 1: not valid JSON"):
        load_rows(data, ["h"])
    row = json.dumps({"doc_id": "d", "system_id": "s", "summary": "x", "references": ["r"], "h": 1})
    data.write_text(row + "\n\n" + row + "\n")
    with pytest.raises(InputError, match="line 3, field 'system_id': duplicate .* first on line 1"):
        load_rows(data, ["h"])
    res = invoke(str(tmp_path / "missing.jsonl"), "--human", "h")
    assert res.exit_code == 2 and "missing.jsonl" in res.output and "cannot read" in res.output


def test_usage_errors(tmp_path):
    data = tmp_path / "ok.jsonl"
    data.write_text(json.dumps({"doc_id": "d", "system_id": "s", "summary": "x", "references": ["r"], "h": 1}) + "\n")
    with pytest.raises(UsageError, match="--human"):
        run_meta_eval(data, human=[" "])
    res = invoke(str(data), "--human", "h", "--metrics", "nosuchmetric")
    assert res.exit_code == 2 and "unknown metric 'nosuchmetric'" in res.output
    res = invoke(str(data), "--human", "h", "--level", "corpus")
    assert res.exit_code == 2


def test_a_metric_with_nothing_to_compare_against_is_an_input_error(tmp_path):
    """Rows with a source but no references: ROUGE has nothing to compare with in any row. That is
    said as such (was: a table of n/a 'constant metric' cells); quotes, which read the source, run."""
    data = tmp_path / "src_only.jsonl"
    rows = [{"doc_id": f"d{i}", "system_id": s, "summary": f"The council said {i + j} things.", "references": [],
             "source": f"The council said {i + j} things on Monday.", "h": float(i + j)}
            for i in range(4) for j, s in enumerate(("a", "b"))]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = invoke(str(data), "--human", "h", "--metrics", "rouge1")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"{data}, field 'references': metric 'rouge' reads 'references', but no row has any" in " ".join(res.output.split())
    res = invoke(str(data), "--human", "h", "--metrics", "numbers", "--json")
    assert res.exit_code == 0, res.output
