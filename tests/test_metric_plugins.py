"""Metric plug-ins on a par with backends: a metric written by a user, given as
``--metrics package.module:Class[:key=value,...]`` (found in the working directory, as backends
are) or installed as a real distribution with an ``evalkit.metrics`` entry point (built by pip
from its own pyproject.toml), is listed by ``evalkit metrics``, scored into the leaderboard,
recorded in the manifest (family name, config, each output's direction) so re-scoring finds it
again, and its descriptive output (direction ``none``) is never marked best or worse: not in the
terminal leaderboard, report.md, report.html nor in compare's verdicts.

Fails on main before this change: ``--metrics acme_local:Hedging`` was read as a family
``acme_local`` ("unknown metric"), and ``evalkit metrics`` listed entry points only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from judge_fixtures import invoke
from plugin_fixtures import build_distribution, run_evalkit
from render_cells import html_cells, md_cells, table_cells

from evalkit.gold import SHIPPED_GOLD

METRIC = '''
"""Acme's hedging metric."""
from pydantic import Field

from evalkit.metrics import ItemScore, Metric, MetricConfig

HEDGES_DEFAULT = "may,might,could,reportedly"


class HedgeConfig(MetricConfig):
    words: str = Field(HEDGES_DEFAULT, description="hedge words, comma-separated")


class Hedging(Metric):
    """Share of summary sentences without a hedge word, hedge words used, and the summary's length."""

    name = "hedging"
    Config = HedgeConfig
    directions = {"hedge_free": "higher", "hedge_words": "lower", "summary_chars": "none"}

    def outputs(self):
        return ["hedge_free", "hedge_words", "summary_chars"]

    def headline(self):
        return ["hedge_free", "summary_chars"]

    def score(self, pairs, context):
        hedges = {w.strip().lower() for w in self.config.words.split(",") if w.strip()}
        out = []
        for pair in pairs:
            sentences = [s for s in pair.summary.replace("\\n", " ").split(". ") if s.strip()]
            words = [w.strip(".,;:\\"'").lower() for w in pair.summary.split()]
            hedged = sum(any(w.strip(".,;:").lower() in hedges for w in s.split()) for s in sentences)
            out.append(ItemScore(values={"hedge_free": 1 - hedged / len(sentences) if sentences else None,
                                         "hedge_words": float(sum(w in hedges for w in words)),
                                         "summary_chars": float(len(pair.summary))}))
        return out
'''

SYSTEMS = ("-s", "short=lead:k=1", "-s", "long=lead:k=3", "-s", "textrank")
MARKS = ("★", "▼", "†")


def assert_descriptive_never_marked(run_dir: Path, terminal: str, ranked: str = "hedge_free") -> None:
    """summary_chars (direction none) carries n but no mark in any renderer; compare says "differ"."""
    term = table_cells(terminal, "summary_chars")
    for system in ("short", "long", "textrank"):
        cell = term[system]["summary_chars"]
        assert "n=20" in cell and not any(m in cell for m in MARKS), cell
    assert "descriptive" in terminal
    md = md_cells((run_dir / "report.md").read_text())
    for system in ("short", "long", "textrank"):
        cell = md[system]["summary\\_chars (descriptive)"]
        assert "n=20" in cell and "**" not in cell and "▼" not in cell, cell
    page = (run_dir / "report.html").read_text()
    cells = html_cells(page)
    assert any('class="num best"' in c for row in cells.values() for c in row)  # ranked columns are marked
    for system in ("short", "long", "textrank"):
        row = [c for c in cells[system] if "n=20" in c]
        chars = row[-1]  # the last headline column: summary_chars
        assert "best" not in chars and "tied" not in chars and "★" not in chars and "▼" not in chars, chars
    assert "<option>summary_chars</option>" not in page
    res = invoke("compare", run_dir, "-m", f"summary_chars,{ranked}", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    chars = [m for p in out["pairs"] for m in p["metrics"] if m["metric"] == "summary_chars"]
    assert chars and all(m["direction"] == "none" and m["wins"] is None for m in chars)
    assert any(m["outcome"] == "differ" for m in chars)  # short and long summaries differ in length...
    assert not any("better than" in m["verdict"] for m in chars)  # ...and neither is called better for it
    assert any("descriptive, so neither is better" in v for v in out["verdicts"])


def test_module_class_metric_with_options_in_the_leaderboard(tmp_path, monkeypatch):
    (tmp_path / "acme_local_t13.py").write_text(textwrap.dedent(METRIC))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "acme_local_t13", raising=False)
    res = invoke("run", "-g", SHIPPED_GOLD, *SYSTEMS, "--limit", "20", "--metrics",
                 "rouge1,acme_local_t13:Hedging:words=reportedly", "--no-cache", "--quiet", "--out", "r")
    assert res.exit_code == 0, res.output
    manifest = json.loads(Path("r/manifest.json").read_text())
    spec = next(m for m in manifest["metrics"] if m["name"] == "acme_local_t13:Hedging")
    assert spec["config"] == {"words": "reportedly"}
    assert spec["directions"] == {"hedge_free": "higher", "hedge_words": "lower", "summary_chars": "none"}
    assert spec["headline"] == ["hedge_free", "summary_chars"]
    header = "".join(line for line in res.stdout.splitlines() if line.startswith("┃"))
    assert "hedge_free" in header and "summary_chars" in header and "(descriptive)" in header
    assert_descriptive_never_marked(Path("r"), res.stdout)
    # evalkit metrics --metric lists it as it lists an installed one
    res = invoke("metrics", "--metric", "acme_local_t13:Hedging", "--json")
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.stdout)
    assert row["name"] == "acme_local_t13:Hedging" and "not an installed plug-in" in row["source"]
    assert row["directions"]["summary_chars"] == "none" and [o["name"] for o in row["options"]] == ["words"]
    assert row["outputs"].startswith("hedge_free, summary_chars (descriptive)")
    # re-scoring finds the class again from the recorded family name, with the recorded options
    before = Path("r/scores.csv").read_text()
    assert invoke("score", "--run", "r").exit_code == 0
    assert Path("r/scores.csv").read_text() == before
    # a single output of it, the family named in the config with its options
    Path("evalkit.toml").write_text('[metrics."acme_local_t13:Hedging"]\nwords = "may"\n')
    res = invoke("run", "-g", SHIPPED_GOLD, "-s", "lead", "--limit", "3", "--metrics", "hedge_words", "--no-cache",
                 "--quiet", "--out", "one", "--json")
    assert res.exit_code == 0, res.output
    [spec] = json.loads(Path("one/manifest.json").read_text())["metrics"]
    assert (spec["name"], spec["outputs"], spec["config"]) == ("acme_local_t13:Hedging", ["hedge_words"], {"words": "may"})


def test_module_class_metric_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("run", "-g", SHIPPED_GOLD, "-s", "lead", "--metrics", "nowhere_t13:Hedging", "--out", "x")
    assert res.exit_code == 2 and "no module 'nowhere_t13' in the current directory" in res.stderr
    assert not Path("x").exists()
    (tmp_path / "notametric_t13.py").write_text("class Thing:\n    pass\n")
    res = invoke("run", "-g", SHIPPED_GOLD, "-s", "lead", "--metrics", "notametric_t13:Thing", "--out", "x")
    assert res.exit_code == 2 and "'notametric_t13:Thing' is not an evalkit Metric subclass" in res.stderr
    (tmp_path / "badopt_t13.py").write_text(textwrap.dedent(METRIC))
    res = invoke("run", "-g", SHIPPED_GOLD, "-s", "lead", "--metrics", "badopt_t13:Hedging:wrods=may", "--out", "x")
    assert res.exit_code == 2 and "bad options for metric 'badopt_t13:Hedging': wrods: unknown option" in res.stderr


# --------------------------------------------------------------------------------------------
# an installed distribution with an entry point
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def metric_site(tmp_path_factory) -> Path:
    return build_distribution(tmp_path_factory.mktemp("metric-plugin"), name="acme-metrics", version="0.2.0",
                              package="acme_metrics", code=METRIC,
                              entry_points={"evalkit.metrics": {"hedging": "acme_metrics:Hedging"}})


def evalkit(args: list[str], cwd: Path, site: Path) -> subprocess.CompletedProcess:
    return run_evalkit(args, cwd, site, COLUMNS="250")


def test_installed_metric_plugin_is_listed_scored_and_never_ranked_when_descriptive(metric_site, tmp_path):
    res = evalkit(["metrics", "--json"], tmp_path, metric_site)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {"rouge", "quotes", "hedging"} <= set(rows)
    assert rows["hedging"]["source"] == "acme-metrics 0.2.0"
    assert rows["hedging"]["directions"] == {"hedge_free": "higher", "hedge_words": "lower", "summary_chars": "none"}
    res = evalkit(["metrics"], tmp_path, metric_site)
    assert "hedging" in res.stdout and "summary_chars (descriptive)" in res.stdout and "hedge_words ↓" in res.stdout

    res = evalkit(["run", "-g", str(SHIPPED_GOLD), *SYSTEMS, "--limit", "20", "--metrics", "rouge1,hedging",
                   "--no-cache", "--quiet", "--out", "r"], tmp_path, metric_site)
    assert res.returncode == 0, res.stderr
    spec = next(m for m in json.loads((tmp_path / "r" / "manifest.json").read_text())["metrics"]
                if m["name"] == "hedging")
    assert spec["directions"]["summary_chars"] == "none"
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        assert_descriptive_never_marked(tmp_path / "r", res.stdout)
    finally:
        os.chdir(cwd)
    # --json leaderboard: the plug-in's outputs with their recorded direction, descriptive never against the best
    res = evalkit(["score", "--gold", str(SHIPPED_GOLD), "--predictions", str(tmp_path / "r" / "predictions.jsonl"),
                   "--metrics", "summary_chars,hedge_free", "--out", "s", "--json"], tmp_path, metric_site)
    assert res.returncode == 0, res.stderr
    board = json.loads(res.stdout)["leaderboard"]
    assert [r["system"] for r in board] == ["short", "long", "textrank"]
    for row in board:
        assert row["summary_chars"]["direction"] == "none" and row["summary_chars"]["versus_best"] is None
        assert row["hedge_free"]["direction"] == "higher"
    # without the distribution, the name is unknown, and says how to name a class instead
    res = subprocess.run([sys.executable, "-m", "evalkit", "run", "-g", str(SHIPPED_GOLD), "-s", "lead", "--metrics",
                          "hedging", "--out", "x"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert res.returncode == 2 and "unknown metric 'hedging'" in res.stderr and "package.module:Class" in res.stderr
