"""``-s mypkg.mod:MyClass`` finds a module in the working directory, as ``python -m``, pytest and
uvicorn do, through the installed ``evalkit`` console script (whose own folder, not the working
directory, heads sys.path). When the module cannot be imported, one line says why and how to fix it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runner_fixtures import make_gold, write_gold_jsonl

from evalkit.errors import UsageError
from evalkit.metrics import Metric, metric_class

EVALKIT = Path(sys.executable).with_name("evalkit")

BACKEND = '''
from evalkit.backends import Backend, BackendOptions


class FirstWords(Backend):
    """The article's first words, in upper case (a sibling module does the casing)."""

    name = "first-words"

    class Options(BackendOptions):
        words: int = 3

    def summarize(self, item):
        from mypkg import shout  # imported late, as real code does: sys.path must still find it

        return shout.shout(" ".join(item.article.split()[: self.options.words]))
'''


def evalkit(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVALKIT_CACHE_DIR")}
    env["EVALKIT_CACHE_DIR"] = str(cwd / "cache")
    return subprocess.run([str(EVALKIT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(textwrap.dedent(BACKEND))
    (pkg / "shout.py").write_text("def shout(text):\n    return text.upper()\n")
    (pkg / "needs_lib.py").write_text("import surely_not_installed_lib\n")
    (pkg / "explodes.py").write_text("raise RuntimeError('config missing')\n")
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(2))
    return tmp_path


def test_console_script_finds_a_module_in_the_working_directory(project):
    assert EVALKIT.is_file(), f"no console script at {EVALKIT}"
    res = evalkit(["run", "--gold", "gold.jsonl", "-s", "mine=mypkg.mod:FirstWords:words=2", "--metrics", "rouge",
                   "--out", "out", "--quiet"], project)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (project / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["system"], r["summary"], r["error"]) for r in rows] == [("mine", "THE COUNCIL", None)] * 2


def test_a_module_that_is_nowhere_says_how_to_make_it_importable(project):
    res = evalkit(["run", "--gold", "gold.jsonl", "-s", "nopkg.mod:Thing", "--out", "out"], project)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"error: cannot import 'nopkg.mod' for 'nopkg.mod:Thing': no module 'nopkg' in the current directory "
        f"({project}) or on sys.path; run evalkit from the folder that holds nopkg/ or nopkg.py, add that folder "
        "to PYTHONPATH, or pip install the package")
    res = evalkit(["run", "--gold", "gold.jsonl", "-s", "mypkg.missing:Thing", "--out", "out"], project)
    assert res.returncode == 2 and "no module 'mypkg.missing' in the current directory" in res.stderr


def test_a_module_whose_import_fails_is_one_line(project):
    res = evalkit(["run", "--gold", "gold.jsonl", "-s", "mypkg.needs_lib:Thing", "--out", "out"], project)
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: cannot import 'mypkg.needs_lib' for 'mypkg.needs_lib:Thing': it needs "
                                  "'surely_not_installed_lib', which is not installed")
    res = evalkit(["run", "--gold", "gold.jsonl", "-s", "mypkg.explodes:Thing", "--out", "out"], project)
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: importing 'mypkg.explodes' for 'mypkg.explodes:Thing' failed: "
                                  "RuntimeError: config missing")
    assert not (project / "out").exists()


def test_metric_module_class_from_the_working_directory(tmp_path, monkeypatch):
    """The loader is shared: a metric given as module:Class is found the same way."""
    (tmp_path / "house_metrics_t10.py").write_text(textwrap.dedent('''
        from evalkit.metrics import Metric

        class Words(Metric):
            name = "words"

            def outputs(self):
                return ["words"]
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "house_metrics_t10", raising=False)
    cls = metric_class("house_metrics_t10:Words")
    assert issubclass(cls, Metric) and cls().outputs() == ["words"]
    assert sys.path[0] == str(tmp_path)
    monkeypatch.delitem(sys.modules, "house_metrics_t10")
    with pytest.raises(UsageError, match=r"no module 'elsewhere_t10' in the current directory"):
        metric_class("elsewhere_t10:Words")
