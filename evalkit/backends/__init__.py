"""Summarizer backends: the base class, the registry and system specs.

Import from here: ``from evalkit.backends import Backend, BackendOptions, build_backend``.
"""

from evalkit.backends.base import Backend, BackendOptions, Completion, redact
from evalkit.backends.registry import available_backends, backend_class, build_backend, parse_system

__all__ = ["Backend", "BackendOptions", "Completion", "available_backends", "backend_class", "build_backend",
           "parse_system", "redact"]
