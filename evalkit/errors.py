"""Errors a user can act on. The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations

from typing import Optional


class EvalkitError(Exception):
    """A usage or input error: bad file, bad option, unknown name. Exit code 2."""

    exit_code = 2


class InputError(EvalkitError):
    """Bad input data, located as precisely as we can: file, line (or row) and field."""

    def __init__(self, message: str, *, path: Optional[str] = None, line: Optional[int] = None,
                 field: Optional[str] = None, row_label: str = "line"):
        self.path, self.line, self.field, self.detail = path, line, field, message
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"{row_label} {line}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class UsageError(EvalkitError):
    """A bad command line or configuration (unknown backend, bad option, ...)."""


class BackendError(Exception):
    """A backend failed on one item. Recorded on that prediction row; the run goes on."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient
