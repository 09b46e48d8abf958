"""A system's identity: what determines its outputs, its digest, and what changed between two.

The digest is computed once here and used three ways: it is part of every cache key, every
journal row carries the digest of the system configuration that produced it, and a run's
manifest binds each system to its digest so ``--resume`` continues only the same run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.backends.base import Backend
from evalkit.backends.registry import build_backend
from evalkit.errors import UsageError
from evalkit.records import SystemIdentity, SystemSpec


def output_identity(backend: Any) -> dict[str, Any]:
    """``backend.identity()`` without the options the backend declares as runtime-only.

    A backend lists in ``runtime_options`` the options that change how it runs (concurrency,
    timeouts, retries) but never what it writes; changing those must not empty the cache.
    A plug-in backend (a class outside evalkit) adds the sha256 of the file that defines it.
    """
    from evalkit.plugins import plugin_code_digest

    ident = dict(backend.identity())
    runtime = set(getattr(type(backend), "runtime_options", ()) or ())
    if runtime and isinstance(ident.get("options"), Mapping):
        ident["options"] = {k: v for k, v in ident["options"].items() if k not in runtime}
    code = plugin_code_digest(type(backend))
    if code is not None:  # a plug-in's code decides its output: editing it misses the cache, refuses --resume
        ident["plugin_source_sha256"] = code
    return ident


def identity_digest(identity: Mapping[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class BuiltSystem:
    """A system ready to run: its spec, its backend, and the identity the backend reports."""

    spec: SystemSpec
    backend: Backend
    identity: dict[str, Any]
    digest: str
    #: built here (closed by ``close_systems``); False for a backend instance the caller passed in
    owned: bool = True

    @property
    def name(self) -> str:
        return self.spec.name

    def record(self) -> SystemIdentity:
        return SystemIdentity(name=self.spec.name, digest=self.digest, identity=self.identity)


def build_systems(specs: Sequence[SystemSpec], given: Mapping[str, Backend] | None = None) -> list[BuiltSystem]:
    """Build every backend and compute its identity; a bad spec fails before any work.

    ``given``: backends already built, by system name (``evalkit.evaluate`` with a Backend
    instance or a function); they are used as they are and never closed here. On failure the
    backends already built are closed. The caller closes the others (``close_systems``).
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"system names must be unique, got {names}")
    given = given or {}
    built: list[BuiltSystem] = []
    try:
        for spec in specs:
            backend = given.get(spec.name)
            built.append(BuiltSystem(spec, backend or build_backend(spec), {}, "", owned=backend is None))
            ident = json.loads(json.dumps(output_identity(built[-1].backend), sort_keys=True, default=str))
            built[-1].identity, built[-1].digest = ident, identity_digest(ident)
    except BaseException:
        close_systems(built)
        raise
    return built


def close_systems(built: Sequence[BuiltSystem]) -> None:
    """Close the backends built by ``build_systems`` (not the ones the caller passed in)."""
    for b in built:
        if not b.owned:
            continue
        try:
            b.backend.close()
        except Exception:
            pass


def identity_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two identities differ (``options.k``, ``files.summarize.py``, ``prompt``)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(sub)
            else:
                out.extend(identity_changes(old[key], new[key], sub))
        return out
    return [] if old == new else [path or "(identity)"]
