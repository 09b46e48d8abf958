"""How evalkit is packaged: a light core with extras, the shipped gold set as package data, a
fast CLI start, and one clear line when an optional extra is missing.

The heavy proofs run in .ci/run (a core-only wheel install in a fresh venv, outside the repo);
here each property is checked in a subprocess of this environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

import evalkit
from evalkit.extras import DIST, EXTRAS
from evalkit.gold import SHIPPED_GOLD, default_gold_path, load_gold

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: what a fast command must not import (the speed issue's list, and the extras' libraries)
SLOW_IMPORTS = ("pandas", "scipy", "pyarrow", "numpy", "torch", "transformers", "datasets", "bert_score", "ray",
                "nltk", "rouge_score")

# Runs the CLI in a fresh interpreter, then reports the exit code and which top-level modules
# were imported. ``BLOCK`` names modules to make unimportable (None in sys.modules: what
# importlib.util.find_spec and `import` both treat as "not installed").
RUNNER = """
import json, os, sys
for name in filter(None, os.environ.get("BLOCK", "").split(",")):
    sys.modules[name] = None
sys.argv = ["evalkit", *sys.argv[1:]]
from evalkit.cli import main
code = 0
try:
    main()
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
mods = sorted({m.split(".")[0] for m, v in list(sys.modules.items()) if v is not None})
with open(os.environ["REPORT"], "w") as f:
    json.dump({"code": code, "modules": mods}, f)
"""


def cli(args: list[str], tmp_path: Path, block: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    env = {**os.environ, "REPORT": str(report), "BLOCK": ",".join(block), "COLUMNS": "200",
           "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    res = subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert report.is_file(), res.stderr
    return res, json.loads(report.read_text())


# --- fast start ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["--version"], ["backends"], ["metrics"], ["gold", "validate"],
                                  ["gold", "validate", str(SHIPPED_GOLD)], ["run", "--help"], ["gate", "--help"],
                                  ["merge", "--help"], ["cache", "stats"]])
def test_fast_commands_import_no_heavy_library(args, tmp_path):
    res, report = cli(args, tmp_path)
    assert report["code"] == 0, res.stderr
    heavy = sorted(set(report["modules"]) & set(SLOW_IMPORTS))
    assert heavy == [], f"`evalkit {' '.join(args)}` imported {heavy}"


def test_version_prints_and_exits_zero(tmp_path):
    res, report = cli(["--version"], tmp_path)
    assert report["code"] == 0
    assert res.stdout == f"evalkit {evalkit.__version__}\n"
    # eager: it wins over a command given after it, as --help does
    res, report = cli(["--version", "gate", "nowhere"], tmp_path)
    assert (report["code"], res.stdout) == (0, f"evalkit {evalkit.__version__}\n")


def test_gold_validate_without_a_path_checks_the_shipped_set(tmp_path):
    res, report = cli(["gold", "validate", "--json"], tmp_path)
    assert report["code"] == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["name"] == "news-v1" and out["items"] == 44 and out["hash"] == load_gold(SHIPPED_GOLD).hash


# --- extras ----------------------------------------------------------------------------------

def _names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9._-]+", r).group(0).lower().replace("-", "_").replace(".", "_") for r in requirements}


def test_extras_match_pyproject_and_the_core_has_no_heavy_library():
    project = PYPROJECT["project"]
    assert project["name"] == DIST
    optional = project["optional-dependencies"]
    assert set(optional) == set(EXTRAS) | {"all", "dev"}
    for extra, modules in EXTRAS.items():
        # each distribution of the extra is checked by its import name, and nothing else is
        assert _names(optional[extra]) == set(modules), extra
    heavy = set().union(*EXTRAS.values())
    assert _names(project["dependencies"]) & heavy == set()
    assert optional["all"] == [f"{DIST}[{','.join(EXTRAS)}]"]
    assert f"{DIST}[all]" in optional["dev"]
    for tool in ("pytest", "pytest_timeout", "hypothesis", "html5lib", "playwright", "pyyaml", "ruff", "mypy", "build"):
        assert tool in _names(optional["dev"]), tool


def test_version_has_one_source():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "evalkit.__version__"}


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize("metric, missing", [("bertscore", "bert_score, torch"), ("keypoints", "torch")])
def test_metric_without_its_extra_is_one_line_naming_the_pip_install(metric, missing, tmp_path):
    block = tuple(m.strip() for m in missing.split(","))
    res, report = cli(["run", "-s", "lead", "--metrics", f"rouge,{metric}", "--limit", "2", "--out", "out"],
                      tmp_path, block=block)
    assert report["code"] == 2
    assert _one_error_line(res) == (f"error: metric {metric!r} needs the [bertscore] extra ({missing} not installed): "
                                    f"pip install '{DIST}[bertscore]'")
    assert not (tmp_path / "out").exists()  # refused before any work


def test_backend_without_its_extra_is_one_line_naming_the_pip_install(tmp_path):
    res, report = cli(["run", "-s", "transformers:model=./m", "--limit", "2", "--out", "out"], tmp_path,
                      block=("transformers",))
    assert report["code"] == 2
    assert _one_error_line(res) == ("error: backend 'transformers' needs the [transformers] extra "
                                    f"(transformers not installed): pip install '{DIST}[transformers]'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", [["--executor", "ray"], ["--config", "ray.toml"]])
def test_ray_executor_without_its_extra_is_one_line_naming_the_pip_install(how, tmp_path):
    (tmp_path / "ray.toml").write_text('[run]\nexecutor = "ray"\n')
    res, report = cli(["run", "-s", "lead", "--limit", "2", "--out", "out", *how], tmp_path, block=("ray",))
    assert report["code"] == 2
    assert _one_error_line(res) == ("error: --executor ray needs the [ray] extra (ray not installed): "
                                    f"pip install '{DIST}[ray]'")
    assert not (tmp_path / "out").exists()  # refused before any work
    res, report = cli(["run", "-s", "lead", "--limit", "2", "--out", "local", "--quiet"], tmp_path, block=("ray",))
    assert report["code"] == 0, res.stderr  # the core runs without Ray, and never imports it
    assert "ray" not in report["modules"]


def test_hf_gold_without_datasets_is_one_line_naming_the_pip_install(tmp_path):
    res, report = cli(["gold", "validate", "hf:cnn_dailymail:3.0.0:test"], tmp_path, block=("datasets",))
    assert report["code"] == 2
    assert _one_error_line(res) == ("error: gold set 'hf:cnn_dailymail:3.0.0:test' needs the [hf] extra "
                                    f"(datasets not installed): pip install '{DIST}[hf]'")


def test_listings_show_what_an_extra_would_add(tmp_path):
    block = ("torch", "bert_score", "transformers")
    res, report = cli(["metrics", "--json"], tmp_path, block=block)
    assert report["code"] == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    for name in ("bertscore", "keypoints"):
        assert (rows[name]["installed"], rows[name]["extra"]) == (False, "bertscore")
        assert rows[name]["install"] == f"pip install '{DIST}[bertscore]'"
        assert rows[name]["outputs"]  # still described: options and outputs need no torch
    for name in ("rouge", "quotes", "numbers"):
        assert (rows[name]["installed"], rows[name]["extra"], rows[name]["install"]) == (True, None, None)
    res, _ = cli(["backends", "--json"], tmp_path, block=block)
    backends = {r["name"]: r for r in json.loads(res.stdout)}
    assert backends["transformers"]["install"] == f"pip install '{DIST}[transformers]'"
    assert all(r["installed"] for n, r in backends.items() if n != "transformers")
    res, _ = cli(["metrics"], tmp_path, block=block)  # the table prints the brackets (not eaten as markup)
    assert f"pip install '{DIST}[bertscore]'" in res.stdout
    assert "torch" not in cli(["metrics"], tmp_path)[1]["modules"]  # with torch installed: still not imported


# --- the shipped gold set is package data ----------------------------------------------------

def test_shipped_gold_lives_inside_the_package():
    package = Path(evalkit.__file__).resolve().parent
    assert SHIPPED_GOLD.resolve().is_relative_to(package)
    assert default_gold_path() == SHIPPED_GOLD
    top = ROOT / "gold"  # one copy: evalkit/data/gold is the source of truth, gold/ a link to it
    assert not top.exists() or (top.is_symlink() and top.resolve() == SHIPPED_GOLD.parent.resolve())
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["evalkit"]
    data = [p.relative_to(package).as_posix() for p in (package / "data").rglob("*") if p.is_file()]
    assert sorted(data) == ["data/gold/README.md", "data/gold/news-v1.jsonl"]
    for path in data:
        assert any(fnmatch(path, pat) for pat in patterns), path


def test_wheel_built_from_the_sdist_carries_the_gold_set(tmp_path):
    """python -m build makes the sdist, then the wheel from the sdist: both must carry the data.
    Installed with --target into a bare folder, evalkit finds its gold set there, not in the checkout."""
    dist = tmp_path / "dist"
    res = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"{DIST.replace('-', '_')}-{evalkit.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"evalkit/data/gold/news-v1.jsonl", "evalkit/data/gold/README.md", "evalkit/report/templates/report.html.j2",
            "evalkit/py.typed"} <= names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = ("import evalkit.gold as g; p = g.default_gold_path(); gs = g.load_gold(p); "
             "print(p); print(g.__file__); print(len(gs), gs.hash)")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.splitlines()
    assert Path(out[0]).is_relative_to(site) and Path(out[1]).is_relative_to(site)
    assert out[2] == f"44 {load_gold(SHIPPED_GOLD).hash}"
