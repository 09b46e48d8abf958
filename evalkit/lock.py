"""One writer per run directory: a lock file holding the writer's pid and host.

``DIR/.evalkit.lock`` is created (or reused) and locked with ``flock`` for as long as a
process writes the directory (``run``, ``run --resume``, ``score``). A second writer is
refused with one line naming the holder. The operating system drops the lock when its
holder dies, however it dies (SIGKILL included), so a lock file left by a dead process is
simply taken over; there is no stale-lock guessing and no race between two processes taking
over the same stale file (the lock is verified to be on the file the path names).

Where ``fcntl`` does not exist (Windows) the file is created exclusively instead, and one
left behind by a crash must be removed by hand (the message says so).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

from evalkit.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".evalkit.lock"


def lock_path(directory: Path | str) -> Path:
    return Path(directory) / LOCK_NAME


def describe_holder(info: dict[str, Any]) -> str:
    pid, host, since = info.get("pid", "?"), info.get("host", "?"), info.get("started", "?")
    return f"pid {pid} on {host} (since {since})"


def current_holder(directory: Path | str) -> Optional[dict[str, Any]]:
    """Who holds the lock of ``directory`` now (None: nobody), without taking or changing it."""
    path = lock_path(directory)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is None:  # pragma: no cover
            return _read(fd) or {}
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read(fd) or {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """``with RunLock(dir):`` holds the lock of run directory ``dir`` (which must exist)."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.path = lock_path(directory)
        self._fd: Optional[int] = None
        #: the previous holder's record when a lock left by a dead process was taken over
        self.took_over: Optional[dict[str, Any]] = None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            return self
        for _ in range(10):
            fd = self._open()
            if fd is not None:
                self._fd = fd
                return self
        raise UsageError(f"cannot lock run directory {self.directory}: its lock file keeps changing")

    def _open(self) -> Optional[int]:
        try:
            if fcntl is None:  # pragma: no cover
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            else:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileExistsError:  # pragma: no cover - Windows
            raise self._busy(current_holder(self.directory) or {}) from None
        except OSError as e:
            raise UsageError(f"cannot lock run directory {self.directory}: {e.strerror or e}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                info = _read(fd) or {}
                os.close(fd)
                raise self._busy(info) from None
            try:  # the holder before us may have removed the file between our open and our lock
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return None
        previous = _read(fd)
        self.took_over = previous or None
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
        return fd

    def _busy(self, info: dict[str, Any]) -> UsageError:
        hint = "" if fcntl is not None else f" (if that process is gone, delete {self.path})"
        return UsageError(f"run directory {self.directory} is being written by another evalkit process, "
                          f"{describe_holder(info)}; wait for it to finish{hint}")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self.path.unlink()  # while still holding it: a waiting process re-checks the inode
        except OSError:
            pass
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.release()


def _read(fd: int) -> Optional[dict[str, Any]]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        info = json.loads(data.decode("utf-8")) if data.strip() else None
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
