"""Markdown reports: the run leaderboard (CIs, significance marks, pairwise table, escaping),
`evalkit report --markdown`, and the gate summary naming each failed rule with its numbers."""

from __future__ import annotations

import numpy as np
from judge_fixtures import invoke, make_run, noisy

from evalkit import load_run
from evalkit.gate import evaluate_gate, parse_gate
from evalkit.report.markdown import esc, render_gate, render_run, write_gate_markdown

N = 40


def _lines_with(text: str, needle: str) -> list[str]:
    """Lines starting with ``needle`` (a leaderboard row starts with its system's cell)."""
    return [line for line in text.splitlines() if line.startswith(needle)]


def test_run_report_leaderboard_and_marks(tmp_path):
    base = noisy(0.35, N, 1)
    rng = np.random.default_rng(2)
    run = make_run(tmp_path / "r", {
        "lead": {"rougeLsum": base, "quote_fidelity": [np.nan] * N},
        "llm": {"rougeLsum": base + 0.08 + rng.normal(0, 0.02, N), "quote_fidelity": [1.0] * N},
        "llm2": {"rougeLsum": base + 0.08 + rng.normal(0, 0.02, N), "quote_fidelity": [1.0] * N},
    }, failed={"llm2": [0]})
    text = render_run(load_run(run.path))
    summary = run.read_summary()
    assert text.startswith("# evalkit run `r`")
    assert "| system | rougeLsum | quote\\_fidelity | ok | failed |" in text
    lead_row, = _lines_with(text, "| lead |")
    st = summary.systems["lead"].metrics["rougeLsum"]
    assert f"{st.mean:.3f} [{st.ci_low:.3f}, {st.ci_high:.3f}] n=40 ▼" in lead_row  # significantly below the best
    assert "| n/a (40 n/a) |" in lead_row  # no quotes at all: not applicable, not 1.0
    best = max(("llm", "llm2"), key=lambda s: summary.systems[s].metrics["rougeLsum"].mean)
    other = "llm2" if best == "llm" else "llm"
    for s in (best, other):  # the best, and the one not significantly different from it: bold
        st = summary.systems[s].metrics["rougeLsum"]
        assert f"**{st.mean:.3f} [{st.ci_low:.3f}, {st.ci_high:.3f}] n={st.n}**" in _lines_with(text, f"| {s} |")[0]
    assert _lines_with(text, "| llm2 |")[0].endswith("| 39 | **1** |")
    assert "Holm within each metric, across its system pairs with at least 10 shared items" in text
    # pairwise section: one row per metric and pair
    pair_rows = [line for line in text.splitlines() if line.startswith("| rougeLsum | ")]
    assert len(pair_rows) == 3
    assert any("| lead | llm |" in r and "✱" in r for r in pair_rows)
    assert not any("| llm | llm2 |" in r and "✱" in r for r in pair_rows)
    assert render_run(load_run(run.path)) == text  # deterministic


def test_report_command_rerenders(tmp_path):
    run = make_run(tmp_path / "r", {"a": {"rouge1": noisy(0.3, 10, 1)}, "b": {"rouge1": noisy(0.3, 10, 2)}})
    target = tmp_path / "out" / "report.md"
    res = invoke("report", run.path, "--markdown", target)
    assert res.exit_code == 0 and f"wrote {target}" in res.stdout
    assert target.read_text() == render_run(load_run(run.path))
    res = invoke("report", run.path)
    assert res.exit_code == 0 and run.report_md.read_text() == render_run(load_run(run.path))
    assert invoke("report", tmp_path / "missing").exit_code == 2


def test_single_system_and_many_systems(tmp_path):
    one = make_run(tmp_path / "one", {"solo": {"rouge1": noisy(0.3, 10, 1)}})
    text = render_run(load_run(one.path))
    assert "▼" not in text and "Pairwise" not in text and "**" not in _lines_with(text, "| solo |")[0]
    # 28 pairs in one Holm family: enough resamples that p can get below 0.05 / 28
    many = make_run(tmp_path / "many", {f"s{i}": {"rouge1": noisy(0.2 + 0.05 * i, 20, i, sd=0.02)} for i in range(8)},
                    n_resamples=4999)
    text = render_run(load_run(many.path))
    assert "All 28 system pairs are in `comparisons.json`" in text  # marks from all pairs, table too long
    assert "| rouge1 | s0 | s1 |" not in text
    assert "**" in _lines_with(text, "| s7 |")[0] and "▼" in _lines_with(text, "| s0 |")[0]


def test_escaping_of_names_and_notes(tmp_path):
    run = make_run(tmp_path / "r", {"a|b <script>": {"rouge1": noisy(0.3, 10, 1)}, "c": {"rouge1": noisy(0.3, 10, 2)}})
    text = render_run(load_run(run.path))
    assert "<script>" not in text and "a\\|b \\<script\\>" in text
    assert esc("x\ny*z") == "x y\\*z"


def test_reports_posted_to_pull_requests_mention_and_link_nobody(tmp_path):
    """report.md and the gate summary go to PR comments and step summaries: a model's error text
    or a system's name must not ping @people, link #issues or autolink URLs."""
    hostile = "ask @octocat about #12 at https://evil.example or www.evil.example"
    run = make_run(tmp_path / "r", {"@team": {"rouge1": noisy(0.3, 12, 1)}, "c": {"rouge1": noisy(0.3, 12, 2)}},
                   failed={"c": [0]}, errors={"c": hostile})
    gate = evaluate_gate(parse_gate({"rule": [{"metric": "rouge1", "min": 0.1}, {"metric": "errors", "max": 0}]}),
                         run.read_manifest(), run.read_summary(), run.read_scores(), n_resamples=199)
    for text in (render_run(load_run(run.path)), render_gate(gate)):
        assert "@\u200bteam" in text
        for raw in ("@team", "@octocat", "#12", "https://", "www.evil"):
            assert raw not in text, raw
    report = render_run(load_run(run.path))
    assert "@\u200boctocat about #\u200b12 at https\u200b://evil.example or www\u200b.evil.example" in report


def test_gate_markdown_names_failed_rules_with_numbers(tmp_path, monkeypatch):
    run = make_run(tmp_path / "r", {"lead": {"rougeLsum": [0.2, 0.3, 0.25, 0.25], "quote_fidelity": [1.0, 0.5, np.nan, 1.0]},
                                    "llm": {"rougeLsum": [0.4, 0.5, 0.45, 0.45], "quote_fidelity": [1.0] * 4}},
                   failed={"llm": [3]})
    gate = parse_gate({"rule": [{"metric": "rougeLsum", "min": 0.3}, {"metric": "quote_fidelity", "min": 0.98},
                                {"metric": "errors", "max": 0}]})
    report = evaluate_gate(gate, run.read_manifest(), run.read_summary(), run.read_scores(), n_resamples=199)
    text = render_gate(report)
    assert "## ❌ evalkit gate failed: 3 of 6 checks" in text
    failed_lines = _lines_with(text, "- **rule")
    assert len([line for line in text.splitlines() if "FAIL" in line]) == 3
    assert len(failed_lines) == 3
    assert "**rule 1: rougeLsum \\>= 0.3** — lead: rougeLsum = 0.2500" in failed_lines[0]
    assert "required \\>= 0.3 — below the floor" in failed_lines[0]
    assert "**rule 2: quote\\_fidelity \\>= 0.98** — lead: quote\\_fidelity = 0.8333" in failed_lines[1]
    assert "**rule 3: errors \\<= 0** — llm: errors = 1; required \\<= 0" in failed_lines[2]
    assert "| ❌ FAIL | 3: errors \\<= 0 | llm | 1 |" in text and "| ✅ pass | 3: errors \\<= 0 | lead | 0 |" in text
    assert text.rstrip().endswith("3 passed, 3 failed, 0 not applicable.")
    # without GITHUB_STEP_SUMMARY nothing but the file is written; with it, the text is appended
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_gate_markdown(report, tmp_path / "g.md") == [tmp_path / "g.md"]
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))
    write_gate_markdown(report, None)
    write_gate_markdown(report, None)
    assert (tmp_path / "step.md").read_text() == (text + "\n") * 2


def test_gate_markdown_passed(tmp_path):
    run = make_run(tmp_path / "r", {"lead": {"rouge1": [0.5, 0.6]}})
    report = evaluate_gate(parse_gate({"rule": [{"metric": "rouge1", "min": 0.1}]}), run.read_manifest(),
                           run.read_summary(), run.read_scores())
    text = render_gate(report)
    assert text.startswith("## ✅ evalkit gate passed") and "Failed checks" not in text
