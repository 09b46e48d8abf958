"""A run directory is locked while a process writes it (issue 9, item 12): two real `evalkit run`
processes on one --out, and a lock left by a SIGKILLed process taken over by --resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runner_fixtures import make_gold, write_gold_jsonl

from evalkit.lock import LOCK_NAME, RunLock, current_holder
from evalkit.rundir import iter_predictions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and SIGKILL")

TESTS = Path(__file__).resolve().parent
N = 12
SLOW = ["-s", "slow=runner_fixtures:Flaky:delay=0.5"]


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(cwd / "cache"),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_rows(proc: subprocess.Popen, journal: Path, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_text().splitlines()) >= rows:
            return
        if proc.poll() is not None:
            pytest.fail(f"evalkit ended early: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("no progress within the timeout")


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over(tmp_path):
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(N))
    run = ["run", "--gold", "gold.jsonl", *SLOW, "--metrics", "rouge1", "--quiet"]
    journal = tmp_path / "r" / "predictions.jsonl"
    first = start([*run, "--out", "r"], tmp_path)
    procs = [first]
    try:
        wait_for_rows(first, journal, 1)
        holder = f"pid {first.pid} on {socket.gethostname()}"
        attempts = [([*run, "--out", "r"]), [*run, "--out", "r", "--overwrite"], ["run", "--resume", "r"],
                    ["score", "--run", "r"], ["report", "r"]]
        seconds = [start(args, tmp_path) for args in attempts]  # all at once, while the first one runs
        procs += seconds
        for args, second in zip(attempts, seconds):
            out, err = second.communicate(timeout=120)
            assert second.returncode == 2, (args, out, err)
            assert len(err.strip().splitlines()) == 1, err
            assert holder in err and ("being written by" in err), err
        assert first.poll() is None, "the first run ended before every second writer was refused: slow it down"
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        rows = [(p.system, p.gold_id) for p in iter_predictions(journal)]
        assert sorted(rows) == [("slow", f"g{i:03d}") for i in range(N)]  # every row once: nobody else wrote
        assert not (tmp_path / "r" / LOCK_NAME).exists()

        # a writer killed with SIGKILL leaves its lock file behind; the next writer takes it over
        killed = start([*run, "--out", "k"], tmp_path)
        procs.append(killed)
        wait_for_rows(killed, tmp_path / "k" / "predictions.jsonl", 2)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        left = json.loads((tmp_path / "k" / LOCK_NAME).read_text())
        assert left["pid"] == killed.pid and current_holder(tmp_path / "k") is None
        resumed = start(["run", "--resume", "k"], tmp_path)
        procs.append(resumed)
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err
        assert sorted(p.gold_id for p in iter_predictions(tmp_path / "k" / "predictions.jsonl")) == \
            [f"g{i:03d}" for i in range(N)]
        assert not (tmp_path / "k" / LOCK_NAME).exists()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_the_lock_in_process(tmp_path):
    with RunLock(tmp_path) as lock:
        info = json.loads((tmp_path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert current_holder(tmp_path)["pid"] == os.getpid()
        with pytest.raises(Exception, match=f"being written by another evalkit process, pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
        assert lock.held
    assert current_holder(tmp_path) is None and not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 999999999, "host": "gone"}))  # a dead writer's file
    with RunLock(tmp_path) as lock:
        assert lock.took_over == {"pid": 999999999, "host": "gone"}
