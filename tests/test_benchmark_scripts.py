"""The benchmark and helper scripts keep up with the code they measure.

They are not run by the suite (each takes minutes), so a renamed function would go unnoticed
until someone re-measures: ``bench_warm.py`` still imported ``pipeline.run_evaluation`` a
release after the Python API replaced it. Every ``from evalkit... import NAME`` in
``benchmarks/`` and ``scripts/`` must resolve, and every script must parse its ``--help``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def evalkit_imports(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evalkit"
            for alias in node.names]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_evalkit_name_a_script_imports_exists(script):
    missing = []
    for module, name in evalkit_imports(script):
        mod = importlib.import_module(module)
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert missing == [], f"{script.name} imports what evalkit no longer has"


def test_the_check_finds_a_missing_name(tmp_path):
    stale = tmp_path / "stale.py"
    stale.write_text("from evalkit.pipeline import run_evaluation\nfrom evalkit.api import evaluate\n")
    assert evalkit_imports(stale) == [("evalkit.pipeline", "run_evaluation"), ("evalkit.api", "evaluate")]
    assert not hasattr(importlib.import_module("evalkit.pipeline"), "run_evaluation")


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.name.startswith("bench_")], ids=lambda p: p.name)
def test_every_benchmark_answers_help(script):
    res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0 and "usage" in res.stdout.lower(), res.stderr[-2000:]
