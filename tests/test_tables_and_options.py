"""Issue 15's honest tables and small things: the terminal leaderboard never cuts a header at 80
columns and keeps n beside every mean; ``evalkit metrics``/``backends`` show choices, defaults
and required-ness; did-you-mean for every option key; ``cache clear`` of an unknown backend is
an error; option values from the command line are typed; progress shows on a terminal only.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

import evalkit
from evalkit.cli import app
from evalkit.gold import SHIPPED_GOLD
from evalkit.metrics import build_metric
from evalkit.progress import Steps
from evalkit.scoring import Scorer, score_pairs


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def wide_run():
    """Three baselines, six headline columns and the descriptive extractiveness ones."""
    return evalkit.evaluate(None, ["lead", "textrank", "oracle"], metrics="rouge,quotes,numbers,extractiveness",
                            limit=12)


def printed(renderable, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 200])
def test_leaderboard_headers_are_never_cut_and_n_is_beside_every_mean(wide_run, width):
    """On main before this commit: `quote_fideli…`, `rougeLs…` at 80 columns, and no n at all."""
    text = printed(wide_run.leaderboard(), width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    headers = " ".join(line for line in text.splitlines() if line.startswith("┃"))
    for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum", "quote_fidelity", "number_fidelity", "summary_words",
                   "coverage", "density"):
        assert re.search(rf"┃\s*{metric}\s*┃", headers), (metric, width)
    means = re.findall(r"\b\d+\.\d{3} ±\d+\.\d{3}", text)
    counts = re.findall(r"n=\d+", text)
    assert means and len(counts) >= len(means)  # every mean has its n (quote_fidelity: and its n/a count)
    assert "n/a)" in text


def test_metrics_and_backends_show_choices_defaults_and_required():
    """On main before this commit: `tokenizer: Literal = 'default'`, `model: str = None`, `cmd: Union = None`."""
    res = invoke("metrics", "--metric", "rouge")
    flat = " ".join(res.output.split())
    assert "tokenizer: 'default' | 'unicode' = 'default'" in flat and "Literal" not in flat
    res = invoke("backends", "--backend", "openai", "--backend", "command")
    flat = " ".join(res.output.split())
    assert "model: str (required)" in flat and "cmd: str | list[str] (required)" in flat
    assert "top_p: float (optional)" in flat and "input: 'text' | 'json' = 'text'" in flat
    assert "Optional" not in flat and "Union" not in flat and "= None" not in flat
    rows = json.loads(invoke("backends", "--backend", "command", "--json").stdout)[0]["options"]
    by_name = {o["name"]: o for o in rows}
    assert by_name["cmd"]["required"] is True and by_name["input"]["choices"] == ["text", "json"]


@pytest.mark.parametrize("args, expected", [
    (["-s", "openai:model=m,temprature=0.3"], "temprature: unknown option (did you mean 'temperature'?)"),
    (["-s", "lead:kk=2"], "kk: unknown option (did you mean 'k'?)"),
    (["-s", "lead", "--metrics", "rouge:tokeniser=unicode"], "tokeniser: unknown option (did you mean 'tokenizer'?)"),
    (["-s", "lead", "--metrics", "quotes:min_word=3"], "min_word: unknown option (did you mean 'min_words'?)"),
])
def test_did_you_mean_for_option_keys(tmp_path, args, expected):
    res = invoke("run", *args, "--limit", "1", "--out", tmp_path / "r")
    assert res.exit_code == 2 and expected in res.output
    assert not (tmp_path / "r").exists()


def test_did_you_mean_for_config_keys(tmp_path):
    cfg = tmp_path / "evalkit.toml"
    cfg.write_text('[run]\nmetircs = "rouge"\n')
    res = invoke("run", "--config", cfg, "--limit", "1", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "field 'run.metircs': unknown key (did you mean 'metrics'?)" in res.output


def test_cache_clear_of_an_unknown_backend_is_an_error(tmp_path, monkeypatch):
    """On main before this commit: "deleted 0 cached summaries", exit 0."""
    monkeypatch.chdir(tmp_path)
    assert invoke("run", "-s", "lead", "--limit", "2", "--quiet", "--out", "r", "--metrics", "rouge").exit_code == 0
    res = invoke("cache", "clear", "--backend", "nosuch")
    assert res.exit_code == 2
    assert "unknown backend 'nosuch'" in res.output and "holds summaries of: lead" in " ".join(res.output.split())
    res = invoke("cache", "clear", "--backend", "laed")
    assert res.exit_code == 2 and "did you mean 'lead'?" in res.output
    res = invoke("cache", "clear", "--backend", "openai")  # installed, nothing cached: nothing to do
    assert res.exit_code == 0 and "deleted 0" in res.output
    res = invoke("cache", "clear", "--backend", "lead")
    assert res.exit_code == 0 and "deleted 2" in res.output


def test_option_values_from_the_command_line_are_typed_like_the_config_files(tmp_path):
    """On main before this commit the manifest recorded `'k': '1'` for -s lead:k=1."""
    cfg = tmp_path / "evalkit.toml"
    cfg.write_text('[systems.two]\nbackend = "lead"\nk = 2\n')
    res = invoke("run", "-s", "one=lead:k=1", "-s", "two", "-s", "cmd=command:cmd=cat,timeout=5,shell=false",
                 "--config", cfg, "--limit", "1", "--quiet", "--out", tmp_path / "r", "--metrics", "rouge")
    assert res.exit_code == 0, res.output
    options = {s["name"]: s["options"] for s in json.loads((tmp_path / "r" / "manifest.json").read_text())["systems"]}
    assert options == {"one": {"k": 1}, "two": {"k": 2}, "cmd": {"cmd": "cat", "timeout": 5.0, "shell": False}}


def test_progress_draws_on_a_terminal_only():
    term = io.StringIO()
    with Steps("scoring", console=Console(file=term, force_terminal=True, width=100)) as steps:
        assert steps.active
        steps.on_metric("bertscore", 1, 3)
        steps._progress.refresh()
    assert "scoring: bertscore" in term.getvalue() and "1/3" in term.getvalue()
    pipe = io.StringIO()
    with Steps("scoring", console=Console(file=pipe, force_terminal=False)) as steps:
        steps.on_metric("bertscore", 1, 3)
    assert not steps.active and pipe.getvalue() == ""
    with Steps("scoring", enabled=False) as steps:
        assert not steps.active


def test_score_hook_is_called_before_each_metric_family():
    seen = []
    gold = evalkit.load_gold(SHIPPED_GOLD, limit=2)
    from evalkit.records import Prediction
    from evalkit.scoring import pair_for

    pairs = [pair_for(Prediction(gold_id=it.id, system="s", summary=it.article[:200]), it) for it in gold.items]
    scorers = [Scorer(build_metric("rouge")), Scorer(build_metric("numbers"))]
    score_pairs(pairs, scorers, on_metric=lambda name, i, n: seen.append((name, i, n)))
    assert seen == [("rouge", 0, 2), ("numbers", 1, 2)]


def test_score_takes_quiet_and_prints_no_progress_when_not_a_terminal(tmp_path):
    preds = tmp_path / "p.jsonl"
    gold = evalkit.load_gold(SHIPPED_GOLD, limit=2)
    preds.write_text("".join(json.dumps({"gold_id": it.id, "system": "s", "summary": it.article[:300]}) + "\n"
                             for it in gold.items))
    for extra in ([], ["--quiet"]):
        res = invoke("score", "--gold", SHIPPED_GOLD, "--predictions", preds, "--metrics", "rouge",
                     "--out", tmp_path / f"r{len(extra)}", *extra)
        assert res.exit_code == 0, res.output
        assert "scoring" not in res.output.split("┏", 1)[0]  # no progress line in a pipe


def test_cache_clear_of_an_unknown_metric_is_an_error(tmp_path, monkeypatch):
    """As for --backend: a misspelt metric family would clear nothing and say "deleted 0"
    (fails on main before this commit: exit 0)."""
    monkeypatch.chdir(tmp_path)
    assert invoke("run", "-s", "lead", "--limit", "2", "--quiet", "--out", "r", "--metrics", "rouge").exit_code == 0
    res = invoke("cache", "clear", "--metric", "rouj")
    assert res.exit_code == 2 and "unknown metric 'rouj' (did you mean 'rouge'?)" in res.output, res.output
    assert "holds scores of: rouge" in " ".join(res.output.split())
    res = invoke("cache", "clear", "--only", "scores", "--metric", "rouge1")  # an output, not a family
    assert res.exit_code == 2 and "did you mean 'rouge'?" in res.output
    res = invoke("cache", "clear", "--metric", "quotes")  # installed, nothing cached: nothing to do
    assert res.exit_code == 0 and "deleted 0" in res.output
    res = invoke("cache", "clear", "--metric", "mypkg.metrics:Mine")  # a plug-in family
    assert res.exit_code == 0 and "deleted 0" in res.output
    res = invoke("cache", "clear", "--metric", "rouge")
    assert res.exit_code == 0 and "deleted 2 cached scores" in res.output
