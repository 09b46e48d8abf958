"""The CI gate: every rule kind passes and fails on purpose, exit codes 0/1/2, JUnit, step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from judge_fixtures import LowerIsBetter, invoke, make_run, noisy

from evalkit import load_run
from evalkit.errors import InputError, UsageError
from evalkit.gate import parse_gate
from evalkit.gold import SHIPPED_GOLD

N = 40


@pytest.fixture
def base(tmp_path: Path):
    """A baseline run (two systems) promoted to tmp/baseline.json."""
    run = make_run(tmp_path / "base", {
        "lead": {"rougeLsum": noisy(0.35, N, 1), "quote_fidelity": np.ones(N)},
        "llm": {"rougeLsum": noisy(0.45, N, 2), "quote_fidelity": np.ones(N)},
    })
    assert invoke("baseline", run.path, "--to", tmp_path / "baseline.json").exit_code == 0
    return run


def config(tmp_path: Path, body: str, name: str = "evalkit.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def gate(tmp_path: Path, run, body: str, *extra: str, env=None):
    cfg = config(tmp_path, body)
    return invoke("gate", run.path, "--config", cfg, "--resamples", "999", *extra, env=env)


def gate_json(tmp_path: Path, run, body: str, *extra: str):
    res = gate(tmp_path, run, body, "--json", *extra)
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


# --- floors and ceilings -----------------------------------------------------------------

def test_min_floor_passes_and_fails(tmp_path, base):
    code, rep = gate_json(tmp_path, base, '[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.30\n')
    assert code == 0 and rep["passed"] and rep["counts"] == {"pass": 2, "fail": 0, "n/a": 0}
    code, rep = gate_json(tmp_path, base, '[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.40\n')
    assert code == 1 and not rep["passed"]
    failed = [c for c in rep["checks"] if c["status"] == "fail"]
    assert [c["system"] for c in failed] == ["lead"]
    assert failed[0]["observed"] < 0.40 and failed[0]["threshold"] == 0.40
    assert failed[0]["ci_low"] <= failed[0]["observed"] <= failed[0]["ci_high"]
    assert "below the floor" in failed[0]["message"]


def test_max_ceiling_and_errors(tmp_path):
    run = make_run(tmp_path / "r", {"a": {"rouge1": noisy(0.3, 10, 1)}, "b": {"rouge1": noisy(0.3, 10, 2)}},
                   failed={"b": [3, 7]})
    code, rep = gate_json(tmp_path, run, '[gate]\n[[gate.rule]]\nmetric = "errors"\nmax = 0\n')
    assert code == 1
    by_sys = {c["system"]: c for c in rep["checks"]}
    assert by_sys["a"]["status"] == "pass" and by_sys["a"]["observed"] == 0
    assert by_sys["b"]["status"] == "fail" and by_sys["b"]["observed"] == 2
    code, rep = gate_json(tmp_path, run, '[gate]\n[[gate.rule]]\nmetric = "error_rate"\nmax = 0.25\n')
    assert code == 0 and {c["observed"] for c in rep["checks"]} == {0.0, 0.2}
    code, rep = gate_json(tmp_path, run, '[gate]\n[[gate.rule]]\nmetric = "rouge1"\nmax = 0.1\n')
    assert code == 1 and all("above the ceiling" in c["message"] for c in rep["checks"])


def test_threshold_equal_passes(tmp_path):
    run = make_run(tmp_path / "r", {"a": {"quote_fidelity": [1.0, 0.5]}})
    code, rep = gate_json(tmp_path, run, '[gate]\n[[gate.rule]]\nmetric = "quote_fidelity"\nmin = 0.75\n')
    assert code == 0 and rep["checks"][0]["observed"] == 0.75


def test_not_applicable_and_all_failed(tmp_path):
    run = make_run(tmp_path / "r", {"quiet": {"quote_fidelity": [np.nan] * 4, "rouge1": [0.3] * 4},
                                    "broken": {"quote_fidelity": [1.0] * 4, "rouge1": [0.3] * 4}},
                   failed={"broken": [0, 1, 2, 3]})
    code, rep = gate_json(tmp_path, run, '[gate]\n[[gate.rule]]\nmetric = "quote_fidelity"\nmin = 0.98\n')
    by_sys = {c["system"]: c for c in rep["checks"]}
    assert by_sys["quiet"]["status"] == "n/a" and "not applicable" in by_sys["quiet"]["message"]
    assert by_sys["broken"]["status"] == "fail" and "4 of 4 failed" in by_sys["broken"]["message"]
    assert code == 1


# --- regressions against the baseline ------------------------------------------------------

def drop_run(tmp_path, name, base, delta_lead, noise=0.0, seed=5):
    """The baseline's per-item scores of each system, with lead shifted by delta (plus noise)."""
    from evalkit.baseline import load_baseline

    b = load_baseline(tmp_path / "baseline.json")
    vals = {}
    for system, metrics in b.scores.items():
        vals[system] = {}
        for metric, by_id in metrics.items():
            v = np.array([by_id[k] for k in sorted(by_id)], dtype=float)
            if system == "lead" and metric == "rougeLsum":
                v = v + delta_lead + np.random.default_rng(seed).normal(0, noise, v.size)
            vals[system][metric] = v
    return make_run(tmp_path / name, vals)


DROP = '[gate]\nbaseline = "baseline.json"\n[[gate.rule]]\nmetric = "rougeLsum"\nmax_drop = 0.01\n'


def test_max_drop_passes_and_fails(tmp_path, base):
    ok = drop_run(tmp_path, "ok", base, -0.005)
    code, rep = gate_json(tmp_path, ok, DROP)
    assert code == 0, rep
    lead = next(c for c in rep["checks"] if c["system"] == "lead")
    assert lead["delta"] == pytest.approx(-0.005) and lead["baseline"] - lead["observed"] == pytest.approx(0.005)
    bad = drop_run(tmp_path, "bad", base, -0.03)
    code, rep = gate_json(tmp_path, bad, DROP)
    assert code == 1
    lead = next(c for c in rep["checks"] if c["system"] == "lead")
    assert lead["status"] == "fail" and lead["delta"] == pytest.approx(-0.03)
    assert "dropped more than allowed" in lead["message"] and "0.01" in lead["message"]
    assert next(c for c in rep["checks"] if c["system"] == "llm")["status"] == "pass"
    # the baseline path in [gate] is relative to the config file, --baseline overrides it
    res = invoke("gate", bad.path, "--config", tmp_path / "evalkit.toml", "--baseline", tmp_path / "nope.json")
    assert res.exit_code == 2 and "nope.json" in res.stderr and "evalkit baseline" in res.stderr


def test_significance_only_significant_drops_fail(tmp_path, base):
    body = DROP.replace("[[gate.rule]]", "significance = 0.05\n[[gate.rule]]")
    # mean drop 0.02 (> 0.01 allowed) but buried in item noise: not significant -> pass
    noisy_drop = drop_run(tmp_path, "noisy", base, -0.02, noise=0.25, seed=11)
    code, rep = gate_json(tmp_path, noisy_drop, body)
    lead = next(c for c in rep["checks"] if c["system"] == "lead")
    assert lead["delta"] < -0.01 and lead["p_adjusted"] >= 0.05, lead
    assert code == 0 and "not significant" in lead["message"]
    # the same kind of drop without the noise: significant -> fail
    real = drop_run(tmp_path, "real", base, -0.02, noise=0.005)
    code, rep = gate_json(tmp_path, real, body)
    lead = next(c for c in rep["checks"] if c["system"] == "lead")
    assert code == 1 and lead["status"] == "fail" and lead["p_adjusted"] < 0.01
    assert rep["correction"] == "Holm across the 2 significance-tested drop checks"
    assert lead["p_adjusted"] >= lead["p_value"]


def test_drop_direction_for_lower_is_better(tmp_path):
    rates = noisy(0.1, N, 3, sd=0.02)
    make_run(tmp_path / "b", {"llm": {"hallucination_rate": rates}})
    assert invoke("baseline", tmp_path / "b", "--to", tmp_path / "baseline.json").exit_code == 0
    body = '[gate]\nbaseline = "baseline.json"\n[[gate.rule]]\nmetric = "hallucination_rate"\nmax_drop = 0.01\n'
    better = make_run(tmp_path / "better", {"llm": {"hallucination_rate": rates - 0.05}})
    assert gate_json(tmp_path, better, body)[0] == 0
    worse = make_run(tmp_path / "worse", {"llm": {"hallucination_rate": rates + 0.05}})
    code, rep = gate_json(tmp_path, worse, body)
    assert code == 1 and rep["checks"][0]["delta"] == pytest.approx(0.05)
    # the direction came from the run's recorded spec, which the metric class declared
    assert worse.read_manifest().metrics[0].directions == {"hallucination_rate": "lower"}
    assert LowerIsBetter().direction("hallucination_rate") == "lower"


def test_systems_selection(tmp_path, base):
    body = '[gate]\nsystems = ["llm"]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.4\n'
    code, rep = gate_json(tmp_path, base, body)
    assert code == 0 and [c["system"] for c in rep["checks"]] == ["llm"]
    body = '[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.4\nsystems = ["lead"]\n'
    code, rep = gate_json(tmp_path, base, body)
    assert code == 1 and [c["system"] for c in rep["checks"]] == ["lead"]
    res = gate(tmp_path, base, '[gate]\nsystems = ["gpt9"]\n[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.4\n')
    assert res.exit_code == 2 and "'gpt9' is not in run" in res.stderr and "lead, llm" in res.stderr


# --- usage and input errors: exit 2, naming the rule ---------------------------------------

@pytest.mark.parametrize("body, expected", [
    ('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmax_dorp = 0.01\n', "field 'gate.rule[1].max_dorp': rule 1 (metric 'rougeLsum'): unknown key (did you mean 'max_drop'?)"),
    ('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\n', "rule 1 (metric 'rougeLsum'): give at least one of min, max, max_drop"),
    ('[gate]\n[[gate.rule]]\nmetric = "x"\nmin = 0.1\n[[gate.rule]]\nmetric = "rouge1"\nmin = 0.5\nmax = 0.2\n', "rule 2 (metric 'rouge1'): min (0.5) is greater than max (0.2)"),
    ('[gate]\n[[gate.rule]]\nmetric = "errors"\nmax_drop = 1\n', "max_drop does not apply to 'errors'; use max"),
    ('[gate]\n[[gate.rule]]\nmetric = "rouge1"\nmax_drop = -0.1\n', "greater than or equal to 0"),
    ('[gate]\nsignificance = 5\n[[gate.rule]]\nmetric = "rouge1"\nmin = 0\n', "field 'gate.significance'"),
    ('[gate]\nbaseline = "b.json"\n', "no [[gate.rule]] tables"),
    ('[run]\nseed = 1\n', "no [gate] rules in"),
    ('[gate]\n[gate.rule]\nmetric = "rouge1"\nmin = 0\n', "write [[gate.rule]] (double brackets)"),
    ('[gate]\nsystems = ["a", 3]\n[[gate.rule]]\nmetric = "rouge1"\nmin = 0\n', "field 'gate.systems[2]': Input should be a valid string"),
    ('[gate]\n[[gate.rule]]\nmetric = "rouge9"\nmin = 0.1\n', "gate rule 1 (metric 'rouge9'): run base has no metric 'rouge9'"),
    ('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nmax_drop = 0.1\n', "max_drop needs a baseline"),
])
def test_bad_rules_exit_2(tmp_path, base, body, expected):
    res = gate(tmp_path, base, body)
    assert res.exit_code == 2, res.output
    assert expected in res.stderr, res.stderr
    assert "Traceback" not in res.output and res.stderr.count("\n") == 1


def test_parse_gate_names_the_file():
    with pytest.raises(InputError) as e:
        parse_gate({"rule": [{"metric": "m", "min": "high"}]}, "cfg/evalkit.toml")
    assert str(e.value).startswith("cfg/evalkit.toml, field 'gate.rule[1].min': rule 1 (metric 'm'):")
    with pytest.raises(UsageError):
        parse_gate({}, "x.toml")


def test_baseline_on_other_gold_or_metric_config_is_refused(tmp_path, base):
    other_gold = make_run(tmp_path / "og", {"lead": {"rougeLsum": noisy(0.35, N, 1)}}, gold_hash="sha256:" + "cd" * 32)
    res = gate(tmp_path, other_gold, DROP)
    assert res.exit_code == 2 and "gold sets differ" in res.stderr and "sha256:abababababab" in res.stderr
    other_cfg = make_run(tmp_path / "oc", {"lead": {"rougeLsum": noisy(0.35, N, 1)}},
                         rouge_config={"tokenizer": "unicode", "use_stemmer": True, "lsum_split": "pysbd"})
    res = gate(tmp_path, other_cfg, DROP)
    assert res.exit_code == 2 and "tokenizer: 'default' vs 'unicode'" in res.stderr


def test_bad_baseline_file(tmp_path, base):
    (tmp_path / "baseline.json").write_text('{"kind": "something else"}')
    res = gate(tmp_path, base, DROP)
    assert res.exit_code == 2 and "not an evalkit baseline" in res.stderr and "baseline.json" in res.stderr


# --- outputs ---------------------------------------------------------------------------------

RULES = (DROP + '[[gate.rule]]\nmetric = "quote_fidelity"\nmin = 0.98\n'
         '[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.4\n')


def test_junit_markdown_and_step_summary(tmp_path, base):
    bad = drop_run(tmp_path, "bad", base, -0.03)
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    junit, md = tmp_path / "out" / "gate.xml", tmp_path / "out" / "gate.md"
    res = gate(tmp_path, bad, RULES, "--junit", junit, "--markdown", md, env={"GITHUB_STEP_SUMMARY": str(step)})
    assert res.exit_code == 1, res.output
    # terminal: every failed rule with its numbers
    assert "gate failed" in res.stdout and "FAIL rule 1" in res.stdout and "FAIL rule 3" in res.stdout
    _, rep = gate_json(tmp_path, bad, RULES)
    failed = [c for c in rep["checks"] if c["status"] == "fail"]
    assert {(c["rule"], c["system"]) for c in failed} == {(1, "lead"), (3, "lead")}

    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == len(rep["checks"]) == 6
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == len(failed) == 2
    assert root.get("failures") == "2" and root.find("testsuite").get("tests") == "6"
    names = sorted(c.get("name") for c in failing)
    assert names == ["rule 1: rougeLsum drop <= 0.01 vs baseline [lead]", "rule 3: rougeLsum >= 0.4 [lead]"]
    drop_fail = next(c for c in failing if "drop" in c.get("name")).find("failure")
    assert "change -0.0300" in drop_fail.get("message") and "delta: -0.03" in drop_fail.text

    text = md.read_text()
    assert "evalkit gate failed: 2 of 6 checks" in text
    for c in failed:
        assert c["message"].split(":", 1)[1].strip()[:20] in text.replace("\\", "")
    assert "rule 1: rougeLsum drop \\<= 0.01 vs baseline" in text and "allowed drop 0.01" in text
    assert "rule 3: rougeLsum \\>= 0.4" in text and "required \\>= 0.4" in text
    assert step.read_text() == "earlier step\n" + text + "\n"  # appended, not overwritten


def test_gate_json_is_byte_identical(tmp_path, base):
    bad = drop_run(tmp_path, "bad", base, -0.03)
    body = RULES.replace("[[gate.rule]]", "significance = 0.05\n[[gate.rule]]", 1)
    first = gate(tmp_path, bad, body, "--json")
    second = gate(tmp_path, bad, body, "--json")
    assert first.exit_code == second.exit_code == 1
    assert first.stdout == second.stdout and '"p_value"' in first.stdout
    report = load_run(bad.path).gate(tmp_path / "evalkit.toml", n_resamples=999)
    assert json.loads(first.stdout) == report.model_dump(mode="json")


def test_passing_gate_exit_0_human_output(tmp_path, base):
    res = gate(tmp_path, base, RULES.replace("min = 0.4", "min = 0.3"))
    assert res.exit_code == 0, res.output
    assert "gate passed" in res.stdout and "6 passed, 0 failed" in res.stdout


# --- end to end through `evalkit run` --------------------------------------------------------

GOLD = SHIPPED_GOLD


def test_end_to_end_run_baseline_gate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    def run(out: str, lead: str):
        res = invoke("run", "-g", GOLD, "-s", f"lead={lead}", "-s", "textrank", "--limit", "8", "--out", out,
                     "--no-cache", "--quiet", "--json")
        assert res.exit_code == 0, res.output

    run("main", "lead:k=3")
    assert invoke("baseline", "main").exit_code == 0  # default: reports/baseline.json
    assert (tmp_path / "reports" / "baseline.json").is_file()
    (tmp_path / "evalkit.toml").write_text(
        '[gate]\nbaseline = "reports/baseline.json"\nsignificance = 0.05\n'
        '[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.2\nmax_drop = 0.01\n'
        '[[gate.rule]]\nmetric = "errors"\nmax = 0\n')
    res = invoke("gate", "main", "--junit", "main.xml")
    assert res.exit_code == 0, res.output
    assert "gate passed (6 passed, 0 failed" in res.stdout
    run("pr", "lead:k=1")  # one sentence instead of three: a real regression
    res = invoke("gate", "pr", "--junit", "pr.xml", "--markdown", "pr.md")
    assert res.exit_code == 1, res.output
    failing = [c for c in ET.parse("pr.xml").getroot().iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["rule 1: rougeLsum drop <= 0.01 vs baseline (significance 0.05) [lead]"]
    assert "rule 1: rougeLsum drop" in Path("pr.md").read_text()
    # the run's own report.md was written by the pipeline with the significance marks
    assert "Pairwise comparisons" in Path("pr/report.md").read_text()
    res = invoke("compare", "main", "pr", "--metric", "rougeLsum", "--json", "--min-items", "5")
    assert res.exit_code == 0
    verdicts = json.loads(res.stdout)["verdicts"]
    assert verdicts[0].startswith("lead (main) better than lead (pr) on rougeLsum")
    assert verdicts[1].startswith("no significant difference between textrank (main) and textrank (pr)")


# --- not_worse_than: the run's comparisons.json ----------------------------------------------

def test_not_worse_than_reads_the_runs_comparisons(tmp_path, monkeypatch):
    base = noisy(0.35, N, 1)
    rng = np.random.default_rng(9)
    run = make_run(tmp_path / "r", {
        "lead": {"rougeLsum": base, "quote_fidelity": [np.nan] * (N - 4) + [1.0] * 4},
        "llm": {"rougeLsum": base + 0.05 + rng.normal(0, 0.02, N), "quote_fidelity": np.ones(N)},
        "twin": {"rougeLsum": base + rng.normal(0, 0.02, N), "quote_fidelity": np.ones(N)},
    })

    def forbidden(*a, **k):
        raise AssertionError("the gate re-ran a test that comparisons.json holds")

    monkeypatch.setattr("evalkit.comparisons.paired_tests", forbidden)
    body = ('[gate]\n[[gate.rule]]\nmetric = "rougeLsum"\nnot_worse_than = "llm"\n'
            '[[gate.rule]]\nmetric = "rougeLsum"\nnot_worse_than = "lead"\n'
            '[[gate.rule]]\nmetric = "quote_fidelity"\nnot_worse_than = "lead"\n')
    code, rep = gate_json(tmp_path, run, body, "--junit", tmp_path / "j.xml")
    assert code == 1
    by = {(c["rule"], c["system"]): c for c in rep["checks"]}
    assert set(by) == {(1, "lead"), (1, "twin"), (2, "llm"), (2, "twin"), (3, "llm"), (3, "twin")}
    stored = json.loads((run.path / "comparisons.json").read_text())
    pair = next(p for m in stored["metrics"] if m["metric"] == "rougeLsum" for p in m["pairs"]
                if (p["system_a"], p["system_b"]) == ("lead", "llm"))
    lead = by[(1, "lead")]
    assert lead["status"] == "fail" and lead["kind"] == "not_worse_than" and lead["versus"] == "llm"
    assert lead["p_adjusted"] == pair["p_adjusted"] and lead["delta"] == pytest.approx(-pair["delta"])
    assert "significantly worse than llm" in lead["message"] and "Holm across the 3 system pairs" in lead["message"]
    assert by[(1, "twin")]["status"] == "fail"
    assert by[(2, "llm")]["status"] == "pass" and by[(2, "twin")]["status"] == "pass"
    # lead quotes in 4 items: too few to compare, said so, not a pass or a fail
    assert by[(3, "llm")]["status"] == "n/a"
    assert by[(3, "llm")]["message"] == "llm: quote_fidelity vs lead: too few items to compare (n=4)"
    kinds = {c.find("failure").get("type") for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
             if c.find("failure") is not None}
    assert kinds == {"not_worse_than"}


@pytest.mark.parametrize("rule, expected", [
    ('metric = "rougeLsum"\nnot_worse_than = "gpt9"', "not_worse_than system 'gpt9' is not in run base"),
    ('metric = "errors"\nnot_worse_than = "lead"', "not_worse_than does not apply to 'errors'"),
])
def test_not_worse_than_usage_errors(tmp_path, base, rule, expected):
    res = gate(tmp_path, base, f"[gate]\n[[gate.rule]]\n{rule}\n")
    assert res.exit_code == 2 and expected in res.stderr, res.stderr


def test_significance_with_too_few_items_judges_the_drop_alone(tmp_path):
    """Six items cannot show a drop is significant: the gate does not pass it as 'not significant'
    (as it did before this commit), it judges the drop itself and says why."""
    vals = np.array([0.30, 0.42, 0.25, 0.38, 0.33, 0.36])
    make_run(tmp_path / "b", {"lead": {"rougeLsum": vals}})
    assert invoke("baseline", tmp_path / "b", "--to", tmp_path / "baseline.json").exit_code == 0
    drop = vals + np.array([-0.20, 0.08, -0.15, 0.06, -0.10, 0.01])  # mean -0.05, noisy
    run = make_run(tmp_path / "r", {"lead": {"rougeLsum": drop}})
    body = DROP.replace("[[gate.rule]]", "significance = 0.05\n[[gate.rule]]")
    code, rep = gate_json(tmp_path, run, body)
    check = rep["checks"][0]
    assert code == 1 and check["status"] == "fail" and check["p_value"] is None
    assert "too few items to compare (n=6) for a significance test (min_items 10): judged on the drop alone" in check["message"]
    code, rep = gate_json(tmp_path, run, body, "--min-items", "5")  # enough for the user: tested, not significant
    assert code == 0 and rep["checks"][0]["p_value"] > 0.05 and "not significant" in rep["checks"][0]["message"]


@pytest.mark.parametrize("rule, field", [
    ("min = nan", "min"), ("max = inf", "max"), ("max = -inf", "max"), ("max_drop = inf", "max_drop"),
])
def test_a_threshold_that_is_not_a_finite_number_is_refused(tmp_path, base, rule, field):
    """TOML allows nan and inf: `min = nan` failed every system ('required >= nan') and
    `max = inf` passed whatever the value, a rule that checked nothing. Fails before this commit."""
    res = gate(tmp_path, base, f'[gate]\n[[gate.rule]]\nmetric = "rouge1"\n{rule}\n')
    assert res.exit_code == 2, res.output
    assert f"field 'gate.rule[1].{field}': rule 1 (metric 'rouge1'): Input should be a finite number" in res.stderr
