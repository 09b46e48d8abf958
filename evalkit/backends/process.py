"""Running a child process with a deadline and bounded memory.

``subprocess.communicate`` keeps everything a program writes: a program that floods stderr (a
logging loop, ``yes >&2``) or stdout until its timeout filled memory by gigabytes a second,
and the reading kept the deadline from being checked on time. Here stdin is written, stdout
and stderr are read by threads, each pipe drained to the end (so the program never blocks on
a full pipe) but only ``stdout_limit`` bytes of stdout and the last ``stderr_tail`` bytes of
stderr are kept. A program writing more than ``stdout_limit`` bytes of stdout is killed at
once. On a timeout, an interrupt or a stdout overflow the whole process group is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Optional, Union

_CHUNK = 65536
#: after the program ended, how long its pipes may stay open (held by a child it left behind)
_DRAIN_GRACE = 2.0


@dataclass
class Finished:
    """How a process ended: ``returncode`` None when it was killed for ``timed_out`` or
    ``overflowed`` (it wrote more than ``stdout_limit`` bytes to stdout)."""

    returncode: Optional[int]
    stdout: bytes
    stderr_tail: bytes
    timed_out: bool = False
    overflowed: bool = False


class _Reader(threading.Thread):
    """Reads a pipe to its end, keeping its first ``keep_head`` bytes (calling ``on_overflow``
    once when there is more) or its last ``keep_tail`` bytes."""

    def __init__(self, pipe: IO[bytes], *, keep_head: Optional[int] = None, keep_tail: Optional[int] = None,
                 on_overflow: Optional[Callable[[], None]] = None):
        super().__init__(daemon=True)
        self.pipe, self.keep_head, self.keep_tail = pipe, keep_head, keep_tail
        self.on_overflow = on_overflow
        self.overflowed = False
        self.data = bytearray()

    def run(self) -> None:
        read = getattr(self.pipe, "read1", self.pipe.read)
        try:
            while chunk := read(_CHUNK):
                if self.overflowed:
                    continue  # drained, not kept, until the killed program's pipe closes
                self.data += chunk
                if self.keep_head is not None and len(self.data) > self.keep_head:
                    del self.data[self.keep_head:]
                    self.overflowed = True
                    if self.on_overflow is not None:
                        self.on_overflow()
                elif self.keep_tail is not None and len(self.data) > 2 * self.keep_tail:
                    del self.data[: len(self.data) - self.keep_tail]
        except (OSError, ValueError):  # the pipe was closed under us
            pass
        if self.keep_tail is not None and len(self.data) > self.keep_tail:
            del self.data[: len(self.data) - self.keep_tail]


def _write_stdin(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError, ValueError):  # a program that reads no (or not all) stdin
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def kill_tree(proc: subprocess.Popen, posix: bool) -> None:
    """Kill the process and everything it started (its own session on POSIX)."""
    try:
        if posix:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def run_process(command: Union[str, list[str]], stdin: bytes, *, timeout: float, stdout_limit: int,
                stderr_tail: int, shell: bool = False, cwd: Optional[str] = None,
                env: Optional[dict[str, str]] = None,
                on_start: Optional[Callable[[subprocess.Popen], None]] = None) -> Finished:
    """Run ``command`` with ``stdin`` and wait for it at most ``timeout`` seconds.

    Raises what ``subprocess.Popen`` raises when the program cannot be started; kills the
    process group and re-raises on any exception (Ctrl-C) while waiting. ``on_start`` gets the
    process as soon as it runs (to kill it from elsewhere).
    """
    posix = sys.platform != "win32"
    proc = subprocess.Popen(command, shell=shell, cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=posix)
    if on_start is not None:
        on_start(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = _Reader(proc.stdout, keep_head=stdout_limit, on_overflow=lambda: kill_tree(proc, posix))
    err = _Reader(proc.stderr, keep_tail=stderr_tail)
    feeder = threading.Thread(target=_write_stdin, args=(proc.stdin, stdin), daemon=True)
    for t in (out, err, feeder):
        t.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc, posix)
            proc.wait()
        # the program ended: its pipes close at once unless a child it left running holds them
        for t in (out, err):
            t.join(_DRAIN_GRACE if timed_out else max(_DRAIN_GRACE, deadline - time.monotonic()))
        if out.is_alive() or err.is_alive():
            kill_tree(proc, posix)  # the rest of its process group
            for t in (out, err):
                t.join(_DRAIN_GRACE)
    except BaseException:
        kill_tree(proc, posix)
        proc.wait()
        raise
    for t, pipe in ((out, proc.stdout), (err, proc.stderr)):
        if not t.is_alive():  # (a reader still blocked holds the pipe's lock: leave it be)
            pipe.close()
    killed = timed_out or out.overflowed
    return Finished(returncode=None if killed else proc.returncode, stdout=bytes(out.data),
                    stderr_tail=bytes(err.data), timed_out=timed_out, overflowed=out.overflowed)
