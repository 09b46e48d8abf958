"""Entry-point discovery shared by backends and metrics.

Built-ins are declared in evalkit's own ``pyproject.toml`` under the same entry-point
groups a third-party package uses, so there is exactly one registration path and no
registry filled by import side effects. ``package.module:Class`` loads ad-hoc code, found on
``sys.path`` or in the current directory (as ``python -m``, pytest and uvicorn find it), for
backends (``-s mypkg.mod:MyBackend``) and metrics alike.

A class that needs an optional extra says so (``requires_extra = "bertscore"``, see
:mod:`evalkit.extras`); :func:`require_installed` turns a missing extra into one line naming the
``pip install`` to run, at the moment the class is built (listing it never needs the extra).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import re
import sys
from importlib.machinery import PathFinder
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Optional

from evalkit.errors import UsageError
from evalkit.extras import require_extra

_OBJECT_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def is_object_ref(text: str) -> bool:
    """``package.module:Class`` (as opposed to a registered name)."""
    return bool(_OBJECT_REF.match(text))


def split_ref(text: str) -> tuple[str, str]:
    """``(name, options text)`` of ``name[:key=value,...]`` where name is a registered name or
    ``package.module:Class`` (``mypkg.mod:MyMetric:opt=1`` -> ``("mypkg.mod:MyMetric", "opt=1")``)."""
    parts = text.split(":", 2)
    if len(parts) >= 2 and is_object_ref(f"{parts[0]}:{parts[1]}") and "=" not in parts[1]:
        return f"{parts[0]}:{parts[1]}", (parts[2] if len(parts) == 3 else "")
    name, _, opts = text.partition(":")
    return name.strip(), opts


def discover(group: str) -> dict[str, EntryPoint]:
    """Installed entry points of ``group`` by name; a name claimed twice is an error."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        other = found.get(ep.name)
        if other is not None and other.value != ep.value:
            raise UsageError(
                f"{group} name {ep.name!r} is registered twice: {other.value} and {ep.value}; "
                "uninstall one of the packages"
            )
        found[ep.name] = ep
    return dict(sorted(found.items()))


def _import_module(module_name: str) -> Any:
    """Import ``module_name``; a top-level module or package found in the working directory is
    importable even when the console script's folder, not the working directory, heads sys.path."""
    top = module_name.partition(".")[0]
    cwd = os.getcwd()
    if top not in sys.modules and not ({"", ".", cwd} & set(sys.path)) and PathFinder.find_spec(top, [cwd]) is not None:
        sys.path.insert(0, cwd)  # kept: the module may import its siblings later, as under `python -m`
    return importlib.import_module(module_name)


def load_object(ref: str) -> Any:
    """The object ``package.module:Attr[.Attr]`` names; every failure is one UsageError line."""
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = _import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):
            top = module_name.partition(".")[0]
            raise UsageError(
                f"cannot import {module_name!r} for {ref!r}: no module {missing!r} in the current directory "
                f"({os.getcwd()}) or on sys.path; run evalkit from the folder that holds {top}/ or {top}.py, "
                "add that folder to PYTHONPATH, or pip install the package"
            ) from None
        raise UsageError(f"cannot import {module_name!r} for {ref!r}: it needs {missing!r}, which is not installed") from None
    except Exception as e:  # the module itself fails (syntax error, an exception at import time)
        raise UsageError(f"importing {module_name!r} for {ref!r} failed: {type(e).__name__}: {e}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def require_installed(cls: type, kind: str, name: str) -> None:
    """Before building ``cls``: its optional extra (``requires_extra``) must be installed."""
    require_extra(getattr(cls, "requires_extra", None), f"{kind} {name!r}")


def load_named(group: str, kind: str, name: str) -> Any:
    """The object registered as ``name`` in ``group``, or ``module:Class``."""
    if is_object_ref(name):
        return load_object(name)
    eps = discover(group)
    if name not in eps:
        known = ", ".join(eps) or "(none installed)"
        raise UsageError(f"unknown {kind} {name!r}; known {kind}s: {known} (or give package.module:Class)")
    try:
        return eps[name].load()
    except Exception as e:  # a broken plug-in must not take the CLI down with a traceback
        raise UsageError(f"{kind} {name!r} ({eps[name].value}) failed to load: {e}") from None


def source_file(cls: type) -> Optional[Path]:
    """The file that defines ``cls``; None when there is none to read (a class made in
    ``python -c``, at a REPL prompt or in a notebook cell)."""
    try:
        own = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return None
    return Path(own).resolve() if own is not None and Path(own).is_file() else None


def is_evalkit_code(path: Path) -> bool:
    return path.is_relative_to(Path(__file__).resolve().parent)


def plugin_code_digest(cls: type) -> Optional[str]:
    """sha256 of the file defining a plug-in class (a backend or metric that is not evalkit's
    own), so that editing the plug-in changes what it is keyed and resumed on; None for
    evalkit's classes and for a class whose source is not in a file."""
    path = source_file(cls)
    if path is None or is_evalkit_code(path):
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
