"""Crash safety end to end: ``evalkit run`` as a subprocess against a slow loopback server,
killed with SIGKILL mid-run (twice), then ``evalkit run --resume``.

Checked from both sides: the journal holds every (system, gold_id) exactly once, and the
server never received a request for a row that was already finished when the process died.
The API key in the environment appears in no file and no output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_server import FakeOpenAI
from runner_fixtures import make_gold, write_gold_jsonl

from evalkit.rundir import iter_predictions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

SECRET = "sk-crash-test-4f9a1c"
N_ITEMS = 10


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "EVALKIT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.Popen([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished_rows(journal: Path) -> set[tuple[str, str]]:
    return {(p.system, p.gold_id) for p in iter_predictions(journal)}


def kill_after(proc: subprocess.Popen, journal: Path, rows: int, timeout: float = 120) -> float:
    """SIGKILL ``proc`` once the journal has at least ``rows`` rows; returns the kill time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_text().splitlines()) >= rows:
            break
        if proc.poll() is not None:
            pytest.fail(f"evalkit ended before it could be killed: {proc.communicate()}")
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("no progress within the timeout")
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return killed_at


def test_sigkill_then_resume_loses_nothing_and_redoes_nothing(tmp_path):
    server = FakeOpenAI(latency=0.3).start()
    proc = None
    try:
        gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(N_ITEMS))
        base = f"base_url={server.base_url},concurrency=2,backoff=0.01"
        systems = ["-s", f"alpha=openai:model=m-alpha,{base}", "-s", f"beta=openai:model=m-beta,{base}"]
        journal = tmp_path / "out" / "predictions.jsonl"
        outputs = []

        proc = start(["run", "--gold", str(gold), *systems, "--metrics", "rouge", "--out", "out"], tmp_path)
        kills = [kill_after(proc, journal, rows=3)]
        outputs.append(proc.communicate())
        done_at_kill = [finished_rows(journal)]

        proc = start(["run", "--resume", "out"], tmp_path)  # killed again, in the second system this time
        kills.append(kill_after(proc, journal, rows=N_ITEMS + 3))
        outputs.append(proc.communicate())
        done_at_kill.append(finished_rows(journal))

        proc = start(["run", "--resume", "out"], tmp_path)
        out, err = proc.communicate(timeout=300)
        outputs.append((out, err))
        assert proc.returncode == 0, err
    finally:
        if proc is not None and proc.poll() is None:  # a failed check must not leave evalkit running
            proc.kill()
            proc.wait()
        server.stop()

    rows = [p for p in iter_predictions(journal)]
    keys = [(p.system, p.gold_id) for p in rows]
    expected = {(s, f"g{i:03d}") for s in ("alpha", "beta") for i in range(N_ITEMS)}
    assert sorted(keys) == sorted(expected)  # every row, each exactly once
    assert all(p.ok for p in rows)
    assert journal.read_text().endswith("\n")

    system_of = {"m-alpha": "alpha", "m-beta": "beta"}
    requested = [(r.start, (system_of[r.body["model"]], f"g{int(r.title.split()[1]):03d}")) for r in server.log]
    for killed_at, done in zip(kills, done_at_kill):
        assert 3 <= len(done) < len(expected)
        again = [key for t, key in requested if t > killed_at and key in done]
        assert again == [], f"finished rows requested again after the kill: {again}"
    # each row was requested once, except those in flight at a kill (at most concurrency=2 per kill)
    counts: dict = {}
    for _, key in requested:
        counts[key] = counts.get(key, 0) + 1
    assert set(counts) == expected
    assert sum(c - 1 for c in counts.values()) <= 2 * len(kills)

    # the key is in no file written and no output printed
    for path in [*(tmp_path / "out").rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    for out, err in outputs:
        assert SECRET not in out and SECRET not in err
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["systems"]["alpha"]["ok"] == N_ITEMS
