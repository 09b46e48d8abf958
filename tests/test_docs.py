"""The code in the docs runs, so it cannot rot.

For each document: every fenced block whose first line is ``# file: PATH`` is written to PATH in
an empty folder; a package the document writes (a ``pyproject.toml``) is installed with pip
into a folder on ``PYTHONPATH``; then every other ``python`` block runs, in order, in one
namespace (as notebook cells do), in a fresh interpreter whose working directory is that
folder (with its own HOME); test files the document writes run with pytest. A block that must
not run is marked with an HTML comment right above it, ``<!-- not run: why -->``; it must still
compile.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from plugin_fixtures import pip_install_target

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("docs/python-api.md", "docs/plugins.md", "README.md")
FENCE = re.compile(r"^```([\w-]*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.+?)\s*-->$")
FILE = re.compile(r"^#\s*file:\s*(\S+)\s*$")

RUNNER = r'''
import json, sys, traceback

ns = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1], encoding="utf-8")):
    code = "\n" * (block["line"] - 1) + block["code"]  # tracebacks give the document's line numbers
    try:
        exec(compile(code, block["doc"], "exec"), ns)
    except BaseException:
        traceback.print_exc()
        sys.exit(f"the python block at {block['doc']} line {block['line']} failed")
print("all blocks ran")
'''


@dataclass
class Block:
    lang: str
    code: str
    line: int  # of the block's first code line
    not_run: Optional[str]
    file: Optional[str]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    previous = ""
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        code = "\n".join(lines[i + 1:end]) + "\n"
        first = code.splitlines()[0] if code.strip() else ""
        marker, target = NOT_RUN.match(previous), FILE.match(first)
        out.append(Block(fence.group(1), code, i + 2, marker.group(1) if marker else None,
                         target.group(1) if target else None))
        previous = ""
        i = end + 1
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_the_code_blocks_of_the_docs_run(doc, tmp_path):
    found = blocks(ROOT / doc)
    run = [b for b in found if b.lang == "python" and b.file is None and b.not_run is None]
    assert run, f"{doc} has no python block to run"
    for b in found:
        if b.lang == "python":
            compile(b.code, f"{doc}:{b.line}", "exec")  # even the ones not run
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    for b in found:
        if b.file is not None:
            target = work / b.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(b.code, encoding="utf-8")
    paths = [str(work)]
    if (work / "pyproject.toml").is_file():
        paths.insert(0, str(pip_install_target(work, tmp_path / "site")))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVALKIT_CACHE_DIR")}
    env.update(PYTHONPATH=os.pathsep.join(paths), HOME=str(home), COLUMNS="160")
    (tmp_path / "blocks.json").write_text(json.dumps([{"doc": doc, "line": b.line, "code": b.code} for b in run]))
    (tmp_path / "runner.py").write_text(RUNNER)
    res = subprocess.run([sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")], cwd=work,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    assert res.stdout.rstrip().endswith("all blocks ran")
    tests = sorted(str(p.relative_to(work)) for p in work.glob("tests/test_*.py"))
    if tests:
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=work,
                             env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stdout[-6000:]
        written = sum(len(re.findall(r"^def test_", (work / t).read_text(), re.M)) for t in tests)
        assert f"{written} passed" in res.stdout


def test_every_public_name_is_documented():
    import evalkit
    from evalkit.run import Run

    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    for name in evalkit.__all__:
        if name != "__version__":
            assert name in text, f"evalkit.{name} is not in docs/python-api.md"
    public = [m for m in vars(Run) if not m.startswith("_") and m not in ("load",)]
    for method in public:
        assert method in text, f"Run.{method} is not in docs/python-api.md"
        assert getattr(Run, method).__doc__, f"Run.{method} has no docstring"
    for name in evalkit.__all__:
        if name != "__version__":
            assert getattr(evalkit, name).__doc__, f"evalkit.{name} has no docstring"
