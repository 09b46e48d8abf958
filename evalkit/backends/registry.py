"""Finding backends (entry points ``evalkit.backends`` or ``module:Class``) and building systems."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from evalkit.backends.base import Backend
from evalkit.errors import UsageError
from evalkit.plugins import discover, load_named, require_installed, split_ref
from evalkit.records import SystemSpec
from evalkit.redact import register_options

GROUP = "evalkit.backends"
_OPTION_SPLIT = re.compile(r",(?=\s*[A-Za-z_][\w-]*\s*=)")


def available_backends() -> dict[str, type[Backend]]:
    """Every installed backend class by registered name (loads each entry point)."""
    return {name: backend_class(name) for name in discover(GROUP)}


def backend_class(name: str) -> type[Backend]:
    cls = load_named(GROUP, "backend", name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UsageError(f"{name!r} is not an evalkit Backend subclass")
    return cls


def format_validation_error(err: ValidationError, known: Sequence[str] = ()) -> str:
    """Every problem of ``err``, one after the other; an unknown option gets the closest of
    ``known`` (``temprature: unknown option (did you mean 'temperature'?)``)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(options)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(e["loc"][-1]) if e["loc"] else "", list(known), n=1)
            msg = "unknown option" + (f" (did you mean {close[0]!r}?)" if close else "")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def build_backend(spec: SystemSpec) -> Backend:
    """Instantiate the backend of ``spec`` with validated options (unknown keys rejected).

    Every secret the options carry is registered for redaction first (see ``evalkit.redact``).
    """
    register_options(spec.options)
    cls = backend_class(spec.backend)
    require_installed(cls, "backend", spec.backend)
    try:
        options = cls.Options(**spec.options)
    except ValidationError as e:
        known = ", ".join(cls.Options.model_fields) or "(none)"
        raise UsageError(
            f"system {spec.name!r}: bad options for backend {spec.backend!r}: "
            f"{format_validation_error(e, list(cls.Options.model_fields))} (known options: {known})"
        ) from None
    return cls(options)


def parse_system(text: str, named: Mapping[str, SystemSpec] | None = None) -> SystemSpec:
    """A SYSTEM argument: a name from the config, or ``[NAME=]BACKEND[:key=value,...]``.

    ``lead``, ``lead:k=2``, ``short=lead:k=1``, ``mypkg.mod:MyBackend``,
    ``mypkg.mod:MyBackend:opt=1``, ``command:cmd=python summarize.py``.
    """
    text = text.strip()
    if not text:
        raise UsageError("empty system spec")
    if named and text in named:
        return named[text]
    name = None
    eq, colon = text.find("="), text.find(":")
    if eq != -1 and (colon == -1 or eq < colon):
        name, text = text[:eq].strip(), text[eq + 1:].strip()
        if not name:
            raise UsageError(f"empty system name in {text!r}")
        if named and text in named:
            return named[text].model_copy(update={"name": name})
    backend, opts_text = split_ref(text)
    options: dict[str, Any] = {}
    if opts_text:
        for pair in _OPTION_SPLIT.split(opts_text):
            if "=" not in pair:
                raise UsageError(f"system {text!r}: option {pair!r} is not key=value")
            k, _, v = pair.partition("=")
            if k.strip() in options:
                raise UsageError(f"system {text!r}: option {k.strip()!r} given twice")
            options[k.strip()] = v.strip()
    return typed(SystemSpec(name=name or text, backend=backend, options=options))


def typed(spec: SystemSpec) -> SystemSpec:
    """``spec`` with its option values as the backend reads them (``k=1`` from the command line
    becomes the integer 1, as ``k = 1`` in evalkit.toml is), so the manifest records the same
    values either way. Options the backend rejects are left as given: building it reports them."""
    if not spec.options:
        return spec
    try:
        cls = backend_class(spec.backend)
        dumped = cls.Options(**spec.options).model_dump(mode="json")
    except (UsageError, ValidationError):
        return spec
    return spec.model_copy(update={"options": {k: dumped.get(k, v) for k, v in spec.options.items()}})
