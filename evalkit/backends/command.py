"""``command``: any program as a summarizer.

Per item (default): the article goes to the program's stdin (``input=json``: one JSON object
``{"id", "title", "article"}`` instead), the summary is read from its stdout. The item's id
and title are also in the environment as ``EVALKIT_GOLD_ID`` and ``EVALKIT_TITLE``.

Batch (``batch=true``): the program gets ``batch_size`` items as JSONL (``{"id", "title",
"article"}`` per line) and writes JSONL back, one ``{"id": ..., "summary": ...}`` (or
``{"id": ..., "error": ...}``) per item; rows without ``id`` are matched by order. If the
command contains ``{input}`` / ``{output}``, those become paths of a JSONL file to read /
write instead of stdin / stdout.

The command is split like a shell would (``shlex``) but never run through a shell unless
``shell=true``. A non-zero exit, a timeout (the process and its children are killed) or
empty output fails the row, with the tail of stderr in the message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import Field, field_validator

from evalkit.backends.base import Backend, BackendOptions, Output
from evalkit.backends.process import kill_tree, run_process
from evalkit.errors import BackendError, UsageError
from evalkit.records import GoldItem
from evalkit.redact import redact_text

_STDERR_TAIL = 500
_HASH_LIMIT = 16 * 1024 * 1024
#: stdout beyond this kills the program and fails the call (a runaway writer must not fill memory)
_STDOUT_LIMIT = 64 * 1024 * 1024


class Command(Backend):
    """Run a program per article (or per batch of articles)."""

    name = "command"
    reads = ("id", "title", "article")  # stdin / JSON input and EVALKIT_GOLD_ID, EVALKIT_TITLE
    runtime_options: ClassVar[frozenset[str]] = frozenset({"timeout", "concurrency", "batch_size"})

    class Options(BackendOptions):
        cmd: Union[str, list[str]] = Field(description="program and arguments, e.g. 'python summarize.py'")
        shell: bool = Field(False, description="run cmd through the shell (only when you need pipes etc.)")
        timeout: float = Field(120.0, gt=0, description="seconds per call; the process is killed after it")
        batch: bool = Field(False, description="JSONL of items in, JSONL of summaries out")
        batch_size: int = Field(32, ge=1, description="items per call in batch mode")
        input: Literal["text", "json"] = Field("text", description="per-item stdin: the article, or a JSON object")
        concurrency: int = Field(1, ge=1, le=256, description="processes at once (per-item mode)")
        cwd: Optional[str] = Field(None, description="working directory of the program")
        version: Optional[str] = Field(None, description="any label; change it to invalidate cached summaries")

        @field_validator("cmd")
        @classmethod
        def _not_empty(cls, v: Union[str, list[str]]) -> Union[str, list[str]]:
            if (isinstance(v, str) and not v.strip()) or (isinstance(v, list) and not v):
                raise ValueError("empty command")
            if isinstance(v, str):
                try:
                    shlex.split(v)
                except ValueError as e:
                    raise ValueError(f"cannot split {v!r} into arguments: {e}") from None
            return v

    options: Options

    def __init__(self, options: Options | None = None):
        super().__init__(options)
        o = self.options
        self.argv: list[str] = shlex.split(o.cmd) if isinstance(o.cmd, str) else list(o.cmd)
        self.batch_size = o.batch_size if o.batch else 1
        self.concurrency = o.concurrency
        if not o.shell:
            _check_program(self.argv[0], o.cwd)
        self._live: set[subprocess.Popen] = set()  # processes running now (killed by close/aclose)
        self._lock = threading.Lock()

    # --- identity: the command line plus a fingerprint of the files it names ---------------
    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["files"] = self._file_fingerprints()
        return ident

    def _file_fingerprints(self) -> dict[str, str]:
        base = Path(self.options.cwd or ".")
        out = {}
        for arg in self.argv:
            p = base / arg
            if arg.startswith("-") or not p.is_file():
                continue
            st = p.stat()
            if st.st_size <= _HASH_LIMIT:
                out[arg] = "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[arg] = f"size:{st.st_size},mtime:{st.st_mtime_ns}"
        return out

    # --- per item ---------------------------------------------------------------------------
    def summarize(self, item: GoldItem) -> Output:
        if self.options.batch:
            result = self.summarize_batch([item])[0]
            if isinstance(result, BackendError):
                raise result
            return result
        if self.options.input == "json":
            stdin = json.dumps(_item_json(item), ensure_ascii=False)
        else:
            stdin = item.article
        env = {"EVALKIT_GOLD_ID": item.id, "EVALKIT_TITLE": item.title or ""}
        stdout = self._call(self._command({}), stdin, env)
        return stdout.strip()

    async def asummarize(self, item: GoldItem) -> Output:
        # processes run in worker threads so that ``concurrency`` of them overlap
        return await asyncio.to_thread(self.summarize, item)

    # --- batch ------------------------------------------------------------------------------
    def summarize_batch(self, items: Sequence[GoldItem]) -> Sequence[Union[Output, BackendError]]:
        if not self.options.batch:
            return super().summarize_batch(items)
        lines = "".join(json.dumps(_item_json(it), ensure_ascii=False) + "\n" for it in items)
        with tempfile.TemporaryDirectory(prefix="evalkit-cmd-") as tmp:
            in_path, out_path = Path(tmp) / "input.jsonl", Path(tmp) / "output.jsonl"
            uses_in = any("{input}" in a for a in self.argv)
            uses_out = any("{output}" in a for a in self.argv)
            if uses_in:
                in_path.write_text(lines, encoding="utf-8")
            command = self._command({"{input}": str(in_path), "{output}": str(out_path)})
            stdout = self._call(command, "" if uses_in else lines, {"EVALKIT_BATCH_SIZE": str(len(items))},
                                require_stdout=not uses_out)
            if uses_out:
                if not out_path.is_file():
                    raise BackendError("command wrote no {output} file")
                stdout = _utf8(out_path.read_bytes(), "the {output} file")
        return _match_batch(items, stdout)

    def _command(self, paths: dict[str, str]) -> Union[str, list[str]]:
        """The argument list (or, with ``shell=true``, the shell line) with file placeholders filled."""
        if self.options.shell:
            line = self.options.cmd if isinstance(self.options.cmd, str) else shlex.join(self.options.cmd)
            for k, v in paths.items():
                line = line.replace(k, shlex.quote(v))
            return line
        argv = list(self.argv)
        for k, v in paths.items():
            argv = [a.replace(k, v) for a in argv]
        return argv

    # --- the one place a process is started --------------------------------------------------
    def _call(self, command: Union[str, list[str]], stdin: str, extra_env: dict[str, str],
              require_stdout: bool = True) -> str:
        env = {**os.environ, **extra_env}
        program = command.split()[0] if isinstance(command, str) else command[0]

        def track(proc: subprocess.Popen) -> None:
            with self._lock:
                self._live.add(proc)

        try:
            done = run_process(command, stdin.encode("utf-8"), timeout=self.options.timeout,
                               stdout_limit=_STDOUT_LIMIT, stderr_tail=4 * _STDERR_TAIL,
                               shell=self.options.shell, cwd=self.options.cwd, env=env, on_start=track)
        except FileNotFoundError:
            raise UsageError(f"command backend: program not found: {program!r}") from None
        except PermissionError:
            raise UsageError(f"command backend: program is not executable: {program!r}") from None
        except OSError as e:
            raise UsageError(f"command backend: cannot start {program!r}: {e}") from None
        finally:
            with self._lock:
                self._live = {p for p in self._live if p.returncode is None}
        if done.timed_out:
            raise BackendError(f"timed out after {self.options.timeout:g}s (process killed){_tail(done.stderr_tail)}")
        if done.overflowed:
            raise BackendError(f"wrote more than {_STDOUT_LIMIT:,} bytes on stdout (process killed)"
                               f"{_tail(done.stderr_tail)}")
        rc = done.returncode
        if rc != 0:
            what = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit code {rc}"
            raise BackendError(f"{what}{_tail(done.stderr_tail)}")
        text = _utf8(done.stdout, "stdout")
        if require_stdout and not text.strip():
            raise BackendError(f"empty output on stdout{_tail(done.stderr_tail)}")
        return text

    def close(self) -> None:
        """Kill processes still running (an interrupted run must not leave them behind)."""
        with self._lock:
            live, self._live = list(self._live), set()
        for proc in live:
            if proc.returncode is None:
                kill_tree(proc, sys.platform != "win32")

    async def aclose(self) -> None:
        # called by the runner inside its event loop, before it waits for worker threads
        self.close()


def _item_json(item: GoldItem) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "article": item.article}


def _tail(stderr: bytes) -> str:
    """The end of stderr for an error message, redacted before it is cut (a secret the program
    printed cannot survive as a fragment)."""
    text = redact_text(stderr.decode("utf-8", errors="replace")).strip()
    if not text:
        return ""
    if len(text) > _STDERR_TAIL:
        text = "..." + text[-_STDERR_TAIL:]
    return f"; stderr: {text}"


def _check_program(program: str, cwd: Optional[str]) -> None:
    """Refuse, when the system is built (before a run directory is touched), a program that
    cannot be started: not on PATH, or a path that is no executable file."""
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(cwd or ".") / program
        if not path.is_file():
            raise UsageError(f"command backend: program not found: {program!r}"
                             + (f" (in cwd {cwd!r})" if cwd else ""))
        if not os.access(path, os.X_OK):
            raise UsageError(f"command backend: program is not executable: {program!r}")
    elif shutil.which(program) is None:
        raise UsageError(f"command backend: program not found: {program!r} (not on PATH)")


def _utf8(data: bytes, where: str) -> str:
    """The program's output as text; bytes that are not UTF-8 fail the row (replacing them
    would score an altered summary: a cp1252 curly quote would vanish from quote checks)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BackendError(f"{where} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                           "write UTF-8 (e.g. PYTHONIOENCODING=utf-8)") from None


def _match_batch(items: Sequence[GoldItem], stdout: str) -> list[Union[str, BackendError]]:
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise BackendError(f"batch output line {n} is not JSON ({e.msg}): {line[:80]!r}") from None
        if not isinstance(row, dict):
            raise BackendError(f"batch output line {n} is not a JSON object")
        rows.append(row)
    by_id = {str(r["id"]): r for r in rows if "id" in r}
    out: list[Union[str, BackendError]] = []
    for i, item in enumerate(items):
        row = by_id.get(item.id) if by_id else (rows[i] if i < len(rows) else None)
        if row is None:
            out.append(BackendError(f"batch output has no row for {item.id!r}"))
        elif row.get("error"):
            out.append(BackendError(str(row["error"])))
        elif not isinstance(row.get("summary"), str) or not row["summary"].strip():
            out.append(BackendError(f"batch output row for {item.id!r} has no summary"))
        else:
            out.append(row["summary"].strip())
    return out
