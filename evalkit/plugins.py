"""Entry-point discovery shared by backends and metrics.

Built-ins are declared in evalkit's own ``pyproject.toml`` under the same entry-point
groups a third-party package uses, so there is exactly one registration path and no
registry filled by import side effects. ``package.module:Class`` loads ad-hoc code.
"""

from __future__ import annotations

import importlib
import re
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from evalkit.errors import UsageError

_OBJECT_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def is_object_ref(text: str) -> bool:
    """``package.module:Class`` (as opposed to a registered name)."""
    return bool(_OBJECT_REF.match(text))


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


def load_object(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"cannot import {module_name!r} for {ref!r}: {e}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


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
