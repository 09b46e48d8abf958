"""Third-party backends: a real distribution, built by pip from its own pyproject.toml with an
``evalkit.backends`` entry point, installed into a folder put on a subprocess's PYTHONPATH.

Nothing is patched: ``evalkit backends`` and ``evalkit run -s NAME`` find the plug-in
through ``importlib.metadata`` exactly as they would after ``pip install acme-summarizers``.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from plugin_fixtures import build_distribution, run_evalkit
from runner_fixtures import make_gold, write_gold_jsonl

PLUGIN = '''
"""Acme's house summarizer."""
from evalkit.backends import Backend, BackendOptions
from evalkit.records import GoldItem


class Headline(Backend):
    """The title, then the first words of the article."""

    name = "headline"

    class Options(BackendOptions):
        words: int = 8

    def summarize(self, item: GoldItem) -> str:
        return f"{item.title}. " + " ".join(item.article.split()[: self.options.words])
'''

@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    return build_distribution(tmp_path_factory.mktemp("plugin"), name="acme-summarizers", version="0.3.0",
                              package="acme_summarizers", code=PLUGIN,
                              entry_points={"evalkit.backends": {"headline": "acme_summarizers:Headline"}})


def evalkit(args: list[str], cwd: Path, site: Path | None) -> subprocess.CompletedProcess:
    return run_evalkit(args, cwd, site)


def test_installed_plugin_is_listed(plugin_site, tmp_path):
    res = evalkit(["backends", "--json"], tmp_path, plugin_site)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["headline"]["source"] == "acme-summarizers 0.3.0"
    assert rows["headline"]["description"] == "The title, then the first words of the article."
    assert [o["name"] for o in rows["headline"]["options"]] == ["words"]
    assert {"command", "openai", "transformers", "lead"} <= set(rows)


def test_run_with_the_plugin_by_name(plugin_site, tmp_path):
    gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(3))
    res = evalkit(["run", "--gold", str(gold), "-s", "headline:words=4", "-s", "h2=headline", "--metrics", "rouge",
                   "--out", "out", "--quiet"], tmp_path, plugin_site)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["system"], r["gold_id"]) for r in rows] == [
        (s, f"g00{i}") for s in ("headline:words=4", "h2") for i in range(3)]
    assert rows[0]["summary"] == "Story 0. The council of town"
    assert rows[3]["summary"] == "Story 0. The council of town 0 approved a budget"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["systems"][0] == {"name": "headline:words=4", "backend": "headline", "options": {"words": 4}}


def test_without_the_distribution_the_name_is_unknown(tmp_path):
    gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(1))
    res = evalkit(["run", "--gold", str(gold), "-s", "headline", "--out", "out", "--quiet"], tmp_path, None)
    assert res.returncode == 2
    assert "unknown backend 'headline'; known backends: command, function, lead" in res.stderr
    assert "Traceback" not in res.stderr


def test_ad_hoc_module_class_reference(plugin_site, tmp_path):
    """``package.module:Class`` needs no entry point, only an importable module."""
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "my_summarizer.py").write_text(textwrap.dedent(PLUGIN).replace('"headline"', '"adhoc"'))
    gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(2))
    res = evalkit(["run", "--gold", str(gold), "-s", "mine=my_summarizer:Headline:words=2", "--metrics", "rouge",
                   "--out", "out", "--quiet"], tmp_path, mod)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [r["summary"] for r in rows] == ["Story 0. The council", "Story 1. The council"]


def test_editing_a_plugin_backend_misses_the_cache_and_refuses_resume(tmp_path):
    """The plug-in's code decides its summaries, as a command backend's script does: after an
    edit the cached summaries are not served and --resume names the change (fails on main before
    this commit: the old summaries came back from the cache, cached: true)."""
    mod = tmp_path / "mods"
    mod.mkdir()
    code = textwrap.dedent(PLUGIN).replace('"headline"', '"adhoc"')
    (mod / "my_summarizer.py").write_text(code)
    gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(2))
    args = ["run", "--gold", str(gold), "-s", "mine=my_summarizer:Headline:words=2", "--metrics", "rouge1", "--quiet"]
    assert evalkit([*args, "--out", "a"], tmp_path, mod).returncode == 0
    (mod / "my_summarizer.py").write_text(code.replace('f"{item.title}. "', 'f"{item.title}! "'))
    res = evalkit([*args, "--out", "b"], tmp_path, mod)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "b" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["summary"], r["cached"]) for r in rows] == [("Story 0! The council", False),
                                                           ("Story 1! The council", False)]
    res = evalkit(["run", "--resume", "a"], tmp_path, mod)
    assert res.returncode == 2 and "system 'mine' changed since run a started (plugin_source_sha256)" in res.stderr
