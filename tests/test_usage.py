"""Usage and cost per system (issue 15): tokens the loopback OpenAI server reports, latency
p50/p95 of the rows, cost from ``[prices]`` in evalkit.toml, in summary.json, the terminal
leaderboard, report.md and report.html; gate rules bounding cost and latency (pass and fail).

Every number is checked against the rows of predictions.jsonl (the server counts prompt words
as prompt tokens and summary words as completion tokens; it names the model ``<model>-served``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from openai_server import FakeOpenAI, openai_server  # noqa: F401 - fixture
from runner_fixtures import make_gold, write_gold_jsonl
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.records import Prediction, Price, RunSummary, SystemSpec, Usage
from evalkit.usage import add_usage, system_usage

PRICE_IN, PRICE_OUT = 0.15, 0.60  # per million tokens: gpt-4o-mini's list price
N = 12


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def config(tmp_path: Path, server: FakeOpenAI, prices: str, gate: str = "") -> Path:
    path = tmp_path / "evalkit.toml"
    path.write_text(f'''
[systems.llm]
backend = "openai"
model = "gpt-test"
base_url = "{server.base_url}"
concurrency = 4

[prices]
{prices}
{gate}
''', encoding="utf-8")
    return path


@pytest.fixture
def priced_run(openai_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    openai_server.latency = 0.02
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(N))
    cfg = config(tmp_path, openai_server, f'"gpt-test" = {{input = {PRICE_IN}, output = {PRICE_OUT}}}')
    res = invoke("run", "--gold", "gold.jsonl", "-s", "llm", "-s", "lead", "--metrics", "rouge", "--out", "run",
                 "--config", cfg)
    assert res.exit_code == 0, res.output
    return tmp_path / "run", res.output


def rows_of(run: Path, system: str) -> list[dict]:
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    return [r for r in rows if r["system"] == system]


def test_tokens_latency_and_cost_in_summary_json(priced_run, openai_server):
    run, _ = priced_run
    summary = json.loads((run / "summary.json").read_text())
    rows = rows_of(run, "llm")
    assert len(rows) == N and all(r["model"] == "gpt-test-served" for r in rows)
    prompt = sum(r["usage"]["prompt_tokens"] for r in rows)
    completion = sum(r["usage"]["completion_tokens"] for r in rows)
    # the server's own count of what it was sent and what it answered
    assert prompt == sum(len(r.body["messages"][-1]["content"].split()) for r in openai_server.log)
    usage = summary["systems"]["llm"]["usage"]
    assert usage["prompt_tokens"] == prompt and usage["completion_tokens"] == completion
    assert usage["rows"] == usage["rows_with_usage"] == N
    latencies = np.array([r["latency_s"] for r in rows])
    assert latencies.min() >= 0.02  # the server's latency is in every row
    assert usage["latency_p50"] == pytest.approx(np.percentile(latencies, 50), abs=1e-6)
    assert usage["latency_p95"] == pytest.approx(np.percentile(latencies, 95), abs=1e-6)
    # the server reports "gpt-test-served", not in the table: priced under the configured model
    assert usage["models"] == ["gpt-test"] and usage["unpriced"] == []
    assert usage["cost_usd"] == pytest.approx((prompt * PRICE_IN + completion * PRICE_OUT) / 1e6, rel=1e-9)
    assert summary["prices"] == {"gpt-test": {"input": PRICE_IN, "output": PRICE_OUT}}
    lead = summary["systems"]["lead"]["usage"]  # no model call: no tokens, no cost, but latencies
    assert lead["prompt_tokens"] is None and lead["cost_usd"] is None and lead["rows_with_usage"] == 0
    assert lead["latency_p50"] is not None and lead["latency_p50"] <= lead["latency_p95"]


def test_usage_in_the_leaderboard_report_md_and_html(priced_run):
    run, output = priced_run
    usage = json.loads((run / "summary.json").read_text())["systems"]["llm"]["usage"]
    tokens_in, tokens_out = f"{usage['prompt_tokens']:,}", f"{usage['completion_tokens']:,}"
    cost = f"${usage['cost_usd']:.4f}"
    table = output.split("usage", 1)[1]
    llm_line = next(line for line in table.splitlines() if "│ llm" in line)
    assert tokens_in in llm_line and tokens_out in llm_line and cost in llm_line
    lead_line = next(line for line in table.splitlines() if "│ lead" in line)
    assert "—" in lead_line and "$" not in lead_line
    md = (run / "report.md").read_text()
    assert f"| llm | {tokens_in} | {tokens_out} |" in md and cost in md and "gpt-test $0.15 in / $0.6 out" in md
    page = (run / "report.html").read_text()
    usage_html = page.split('id="usage-table"', 1)[1].split("</table>", 1)[0]
    assert tokens_in in usage_html and tokens_out in usage_html and cost in usage_html


def test_a_gate_rule_on_cost_passes_under_the_cap_and_fails_over_it(priced_run, tmp_path, openai_server):
    run, _ = priced_run
    cost = json.loads((run / "summary.json").read_text())["systems"]["llm"]["usage"]["cost_usd"]
    p95 = json.loads((run / "summary.json").read_text())["systems"]["llm"]["usage"]["latency_p95"]
    prices = f'"gpt-test" = {{input = {PRICE_IN}, output = {PRICE_OUT}}}'
    ok = config(tmp_path, openai_server, prices, f'[gate]\nsystems = ["llm"]\n[[gate.rule]]\nmetric = "cost_usd"\n'
                f'max = {cost * 2}\n[[gate.rule]]\nmetric = "latency_p95"\nmax = 60\n')
    res = invoke("gate", run, "--config", ok, "--json")
    assert res.exit_code == 0, res.output
    checks = json.loads(res.stdout)["checks"]
    assert [(c["metric"], c["status"], c["observed"]) for c in checks] == [("cost_usd", "pass", cost),
                                                                        ("latency_p95", "pass", p95)]
    strict = config(tmp_path, openai_server, prices, f'[gate]\nsystems = ["llm"]\n[[gate.rule]]\nmetric = "cost_usd"\n'
                    f'max = {cost / 2}\n')
    res = invoke("gate", run, "--config", strict, "--markdown", tmp_path / "gate.md")
    assert res.exit_code == 1, res.output
    assert f"llm: cost_usd = ${cost:.6g} (over {N} rows with token counts); required <= ${cost / 2:.6g}" in " ".join(
        res.output.split())
    assert "above the ceiling" in res.output
    assert f"${cost:.6g}" in (tmp_path / "gate.md").read_text()


def test_a_cost_cap_on_a_model_without_a_price_fails_and_lead_is_not_applicable(priced_run, tmp_path, openai_server):
    run, _ = priced_run
    cfg = config(tmp_path, openai_server, '"other-model" = {input = 1.0, output = 2.0}',
                 '[gate]\n[[gate.rule]]\nmetric = "cost_usd"\nmax = 1.0\n[[gate.rule]]\nmetric = "cost_ud"\nmax = 1\n')
    res = invoke("gate", run, "--config", cfg)
    assert res.exit_code == 2 and "has no metric 'cost_ud' (did you mean 'cost_usd'?)" in res.output
    cfg = config(tmp_path, openai_server, '"other-model" = {input = 1.0, output = 2.0}',
                 '[gate]\n[[gate.rule]]\nmetric = "cost_usd"\nmax = 1.0\n')
    res = invoke("gate", run, "--config", cfg, "--json")
    # the cost is the run's, as summary.json recorded it with the prices of its own time
    checks = {c["system"]: c for c in json.loads(res.stdout)["checks"]}
    assert res.exit_code == 0 and checks["llm"]["status"] == "pass"
    assert checks["lead"]["status"] == "n/a" and "reports no token usage" in checks["lead"]["message"]
    # re-scored under a table that does not price the model: the cost is unknown, and a cap fails
    res = invoke("score", "--run", run, "--config", cfg, "--quiet")
    assert res.exit_code == 0, res.output
    usage = json.loads((run / "summary.json").read_text())["systems"]["llm"]["usage"]
    assert usage["cost_usd"] is None and usage["unpriced"] == ["gpt-test-served"]
    res = invoke("gate", run, "--config", cfg)
    assert res.exit_code == 1 and "no price for model" in res.output


def test_pricing_prefers_the_model_the_server_reported():
    rows = [Prediction(gold_id=str(i), system="s", summary="x", latency_s=float(i), model="m-2024",
                       usage=Usage(prompt_tokens=1000, completion_tokens=100)) for i in range(5)]
    spec = SystemSpec(name="s", backend="openai", options={"model": "m"})
    both = {"m": Price(input=1.0, output=1.0), "m-2024": Price(input=2.0, output=10.0)}
    usage, used = system_usage(rows, spec, both)
    assert used == {"m-2024"} and usage.cost_usd == pytest.approx(5 * (1000 * 2.0 + 100 * 10.0) / 1e6)
    usage, used = system_usage(rows, spec, {"m": Price(input=1.0, output=1.0)})
    assert used == {"m"} and usage.cost_usd == pytest.approx(5 * 1100 / 1e6)
    assert usage.latency_p50 == 2.0 and usage.latency_p95 == pytest.approx(3.8)
    usage, used = system_usage(rows, spec, {})  # no table: tokens, no cost, nothing "unpriced"
    assert usage.cost_usd is None and usage.unpriced == [] and usage.prompt_tokens == 5000
    failed = [*rows, Prediction(gold_id="9", system="s", error="boom", latency_s=99.0)]
    assert system_usage(failed, spec, {})[0].latency_p95 == usage.latency_p95  # failures are not latencies


def test_prices_table_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "evalkit.toml"
    path.write_text('[prices]\n"gpt-4o-mini" = {input = 0.15, outptu = 0.6}\n')
    res = invoke("run", "--config", path, "-s", "lead", "--limit", "2", "--out", tmp_path / "r")
    assert res.exit_code == 2
    assert "prices.gpt-4o-mini.outptu" in res.output and "did you mean 'output'?" in res.output
    path.write_text('[prices]\n"gpt-4o-mini" = {input = -1, output = 0.6}\n')
    res = invoke("run", "--config", path, "-s", "lead", "--limit", "2", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "prices.gpt-4o-mini.input" in res.output
    # an infinite price made cost_usd Infinity, which summary.json wrote as invalid JSON
    # (fails on main before this commit: accepted)
    for value in ("inf", "nan"):
        path.write_text(f'[prices]\n"gpt-4o-mini" = {{input = 0.15, output = {value}}}\n')
        res = invoke("run", "--config", path, "-s", "lead", "--limit", "2", "--out", tmp_path / "r")
        assert res.exit_code == 2 and "prices.gpt-4o-mini.output" in res.output and "finite" in res.output, res.output
    assert not (tmp_path / "r").exists()


def test_summary_written_before_usage_still_reads():
    summary = RunSummary.model_validate({"run_id": "r", "gold": {"name": "g", "source": "s", "hash": "h", "items": 1},
                                         "systems": {"a": {"items": 1, "ok": 1, "failed": 0}}})
    assert summary.systems["a"].usage is None and summary.prices == {} and summary.warnings is None
    add_usage(summary, [], [], {})
    assert summary.systems["a"].usage is not None and summary.systems["a"].usage.rows == 0


def test_usage_rules_on_a_system_whose_every_row_failed_say_so():
    """Not applicable, for the right reason: the openai backend reports tokens, but no row
    returned (fails on main before this commit: "its backend reports no token usage")."""
    from evalkit.gate_checks import usage_check
    from evalkit.records import SystemSummary

    spec = SystemSpec(name="s", backend="openai", options={"model": "m"})
    failed = [Prediction(gold_id=str(i), system="s", error="connection error") for i in range(3)]
    usage, _ = system_usage(failed, spec, {"m": Price(input=1.0, output=1.0)})
    summary = SystemSummary(items=3, ok=0, failed=3, usage=usage)
    for metric in ("latency_p95", "cost_usd", "total_tokens"):
        check = usage_check(1, f"{metric} <= 1", metric, "max", 1.0, "s", summary)
        assert check.status == "n/a" and check.observed is None
        assert check.message == f"s: {metric} unknown: no row returned a summary (every row failed: see the errors rule)"


def test_rows_without_token_counts_beside_rows_with_them_leave_the_cost_unknown(tmp_path):
    """A row cached by an evalkit that kept no usage (or a reply without ``usage``) beside rows
    with it: the sum is a lower bound, so the cost is unknown and a cost cap fails rather than
    passing on part of the bill (fails on main before this commit: the cost of the rows that
    had counts, and the cap passed)."""
    from evalkit.gate_checks import usage_check
    from evalkit.records import SystemSummary
    from evalkit.usage import fmt_cost

    spec = SystemSpec(name="s", backend="openai", options={"model": "m"})
    rows = [Prediction(gold_id=str(i), system="s", summary="x", latency_s=0.1,
                       usage=Usage(prompt_tokens=1000, completion_tokens=100)) for i in range(3)]
    rows.append(Prediction(gold_id="3", system="s", summary="x", latency_s=0.1, cached=True))
    prices = {"m": Price(input=1.0, output=1.0)}
    usage, _ = system_usage(rows, spec, prices)
    assert usage.cost_usd is None and usage.prompt_tokens == 3000 and usage.rows_with_usage == 3
    assert fmt_cost(usage) == "unknown: 1 rows without token counts"
    check = usage_check(1, "cost_usd <= 1", "cost_usd", "max", 1.0, "s", SystemSummary(items=4, ok=4, failed=0, usage=usage))
    assert check.status == "fail" and "1 of its 4 rows that returned a summary have no token counts" in check.message
    assert system_usage(rows[:3], spec, prices)[0].cost_usd == pytest.approx(3 * 1100 / 1e6)  # all counted: a cost
