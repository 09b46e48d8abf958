"""Real plug-in distributions for tests: a package with entry points, built by pip from its own
pyproject.toml and installed into a folder that a subprocess gets on its PYTHONPATH, as
``pip install acme-...`` would make it visible (nothing patched)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
{entry_points}
[tool.setuptools]
packages = ["{package}"]
'''


def pip_install_target(src: Path, site: Path) -> Path:
    """``pip install SRC`` into ``site`` (offline, no build isolation, no dependencies)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--disable-pip-version-check", "--target", str(site), str(src)],
                   check=True, capture_output=True, timeout=300)
    return site


def build_distribution(root: Path, *, name: str, version: str, package: str, code: str,
                       entry_points: Mapping[str, Mapping[str, str]]) -> Path:
    """A distribution ``name`` whose package ``package`` is ``code``, with ``entry_points``
    (group -> name -> ``module:Class``), installed into ``root/site``; returns that folder."""
    src = root / "src"
    (src / package).mkdir(parents=True)
    (src / package / "__init__.py").write_text(textwrap.dedent(code))
    eps = "".join(f'\n[project.entry-points."{group}"]\n' + "".join(f'{k} = "{v}"\n' for k, v in names.items())
                  for group, names in entry_points.items())
    (src / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version, package=package,
                                                         entry_points=eps))
    site = pip_install_target(src, root / "site")
    dist = name.replace("-", "_")
    assert list(site.glob(f"{dist}-{version}.dist-info/entry_points.txt"))
    return site


def run_evalkit(args: Sequence[str], cwd: Path, site: Path | None, **env: str) -> subprocess.CompletedProcess:
    """``python -m evalkit ARGS`` in a fresh process, with ``site`` (if any) as its PYTHONPATH."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    environ.update(EVALKIT_CACHE_DIR=str(cwd / "cache"), **env)
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)
