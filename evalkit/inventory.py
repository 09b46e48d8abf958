"""What is installed: backends and metrics with their options, as plain data for the CLI.

Every registered backend and metric is listed, including those whose optional extra is not
installed: their row says which extra adds them and the ``pip install`` to run (listing a
class never imports the heavy libraries it needs). Named ones only, when names are given: a
registered name, or a ``package.module:Class`` found by the loader ``-s``/``--metrics`` use.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from types import UnionType
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel

from evalkit.extras import install_command, is_installed, missing_modules
from evalkit.metrics import DEFAULT_METRICS, metric_class
from evalkit.plugins import discover, is_object_ref


def type_text(annotation: Any) -> str:
    """An option's type for people: ``'default' | 'unicode'`` for a Literal, ``str | list[str]``
    for a Union, ``str`` for ``Optional[str]`` (its optional-ness is said by the default)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is Union or origin is UnionType:
        return " | ".join(type_text(a) for a in args if a is not type(None))
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_text(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _choices(annotation: Any) -> Optional[list[Any]]:
    """The values a Literal option (or an optional one) takes, else None."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (Union, UnionType):
        for a in get_args(annotation):
            if get_origin(a) is Literal:
                return list(get_args(a))
    return None


def _options(model: type[BaseModel]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, f in model.model_fields.items():
        required = f.is_required()
        default = None if required else f.get_default(call_default_factory=True)
        rows.append({"name": name, "type": type_text(f.annotation), "choices": _choices(f.annotation),
                     "default": default, "required": required, "help": f.description or ""})
    return rows


def option_line(o: dict[str, Any]) -> str:
    """``name: type = default  help``; ``(required)`` instead of a default when there is none to
    take, ``(optional)`` when unset means "not used"."""
    if o["required"]:
        head = f"{o['name']}: {o['type']} (required)"
    elif o["default"] is None:
        head = f"{o['name']}: {o['type']} (optional)"
    else:
        head = f"{o['name']}: {o['type']} = {o['default']!r}"
    return head + (f"  {o['help']}" if o["help"] else "")


def _source(group: str, name: str, extra: str | None = None) -> str:
    if is_object_ref(name):
        where = f"{name} (package.module:Class, not an installed plug-in)"
    else:
        ep = discover(group)[name]
        dist = getattr(ep, "dist", None)
        where = f"{dist.name} {dist.version}" if dist is not None else ep.value
    if extra is not None and not is_installed(extra):
        where += f"\nnot installed: {install_command(extra)}"
    return where


def _availability(cls: type) -> dict[str, Any]:
    extra = getattr(cls, "requires_extra", None)
    missing = missing_modules(extra) if extra else []
    return {"extra": extra, "installed": not missing, "missing": missing,
            "install": install_command(extra) if missing and extra else None}


def backend_inventory(names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every installed backend (or the ones named); a plug-in that fails to load is listed with its error."""
    from evalkit.backends import backend_class
    from evalkit.errors import UsageError

    rows: list[dict[str, Any]] = []
    for name in names or list(discover("evalkit.backends")):
        try:
            cls = backend_class(name)
        except UsageError as e:
            if names:
                raise
            rows.append({"name": name, "source": _source("evalkit.backends", name),
                         "description": f"FAILED TO LOAD: {e}", "options": []})
            continue
        rows.append({"name": name, "source": _source("evalkit.backends", name, cls.requires_extra),
                     "description": (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " "),
                     "options": _options(cls.Options), **_availability(cls)})
    return rows


def metric_inventory(names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every installed metric (or the ones named): outputs with their directions, options, extra."""
    rows: list[dict[str, Any]] = []
    for name in names or list(discover("evalkit.metrics")):
        cls = metric_class(name)
        metric = cls()
        head = metric.headline()
        extra = [o for o in metric.outputs() if o not in head]
        directions = {o: metric.direction(o) for o in metric.outputs()}
        label = {o: o + {"higher": "", "lower": " ↓", "none": " (descriptive)"}[d] for o, d in directions.items()}
        rows.append({"name": name, "source": _source("evalkit.metrics", name, cls.requires_extra),
                     "outputs": ", ".join(label[o] for o in head)
                     + (f" (+ {', '.join(label[o] for o in extra)})" if extra else ""),
                     "directions": directions,
                     "default": name in DEFAULT_METRICS, "heavy": cls.heavy, "options": _options(cls.Config),
                     **_availability(cls)})
    return rows
