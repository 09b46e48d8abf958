"""``evalkit run --executor ray`` on a real local Ray instance (one per module: ``ray.init(num_cpus=2)``).

A Ray run writes the same files as a local run, byte for byte; a Ray worker killed while it
runs a row loses nothing and duplicates nothing (Ray runs the row again; the driver journals
it once); a driver killed with SIGKILL leaves a journal that ``--resume`` finishes. The
backends are real: extractive baselines (Ray tasks), a tiny local BART through the
``transformers`` backend (Ray actors), a slow ``command`` program whose parent process is the
Ray worker running the row; the metrics include BERTScore and key-point coverage with a tiny
local BERT (the model actor).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import ray
from scaleout_fixtures import differing, evalkit, journal, write_gold
from test_backend_transformers import tiny_models  # noqa: F401 - the module fixture building a tiny BART
from tiny_bert import build_tiny_bert

from evalkit.executors import ray_executor

pytestmark = pytest.mark.slow

#: a summarizer slow enough for a kill to land mid-row; it logs "<gold id> <pid of its parent>" to
#: calls.log beside itself (not an argument: the command backend fingerprints the files it is given),
#: the parent being the process that runs the row (a Ray worker, or evalkit itself locally)
SLOW = """import os, sys, time
article = sys.stdin.read()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.log"), "a") as f:
    f.write(f"{os.environ['EVALKIT_GOLD_ID']} {os.getppid()}\\n")
time.sleep(float(sys.argv[1]))
print(article.split(". ")[0] + ".")
"""


@pytest.fixture(scope="module")
def cluster():
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield context.address_info["address"]
    finally:
        ray.shutdown()


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def slow_run(work: Path, delay: float) -> list[object]:
    """The arguments of a run of the slow command over 8 items, after running it locally (work/local/run)."""
    (work / "slow.py").write_text(SLOW)
    args: list[object] = ["run", "--gold", write_gold(work / "gold.jsonl", 8), "-s",
                          f"slow=command:cmd={sys.executable} {work / 'slow.py'} {delay}", "--no-cache", "--quiet"]
    code, output = evalkit(*args, "--out", work / "local" / "run")
    assert code == 0, output
    return args


def calls(work: Path) -> list[tuple[str, int]]:
    path = work / "calls.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [(i, int(p)) for i, p in (line.split() for line in lines if line.strip())]


def test_a_ray_run_equals_the_local_run_byte_for_byte(cluster, work, tiny_models, monkeypatch):
    gold = write_gold(work / "gold.jsonl", 9, foreign=True)
    bert = build_tiny_bert(work / "bert")
    args = ["run", "--gold", gold, "-s", "lead", "-s", "textrank", "-s",
            f"bart=transformers:model={tiny_models / 'bart'},device=cpu,batch_size=4,max_new_tokens=6,min_new_tokens=6",
            "--metrics", f"rouge,quotes,numbers,bertscore:model={bert},keypoints:model={bert}", "--no-cache", "--quiet"]
    code, output = evalkit(*args, "--out", work / "local" / "run")
    assert code == 0, output
    # small scoring batches, so ROUGE is scored in several tasks and its warning (non-Latin texts) must be redone
    monkeypatch.setattr(ray_executor, "MIN_SCORING_BATCH", 5)
    code, output = evalkit(*args, "--out", work / "ray" / "run", "--executor", "ray")
    assert code == 0, output
    assert differing(work / "local" / "run", work / "ray" / "run") == []
    notes = json.loads((work / "ray" / "run" / "summary.json").read_text())["notes"]
    assert any(n.startswith("rouge: the default tokenizer dropped") for n in notes)  # the whole run's statement
    rows = {(r["system"], r["gold_id"]): r["summary"] for r in journal(work / "ray" / "run")}
    assert rows == {(r["system"], r["gold_id"]): r["summary"] for r in journal(work / "local" / "run")}
    assert len(journal(work / "ray" / "run")) == 3 * 12


def test_a_ray_run_reads_and_fills_the_score_cache_on_the_driver(cluster, work, monkeypatch):
    """The driver reads the score cache as a local run does and sends only what it lacks to the
    cluster: a warm Ray run computes nothing there and says what the cold one said."""
    gold = write_gold(work / "gold.jsonl", 9, foreign=True)
    bert = build_tiny_bert(work / "bert")
    args = ["run", "--gold", gold, "-s", "lead", "-s", "textrank", "--quiet",
            "--metrics", f"rouge,quotes,numbers,bertscore:model={bert},keypoints:model={bert}"]
    code, output = evalkit(*args, "--out", work / "local" / "run", "--no-cache")
    assert code == 0, output
    monkeypatch.setattr(ray_executor, "MIN_SCORING_BATCH", 5)  # several tasks per metric

    def scores_table() -> tuple[int, int]:
        code, output = evalkit("cache", "stats", "--json")
        assert code == 0, output
        table = json.loads(output)["scores"]
        return table["entries"], table["hits"]

    code, output = evalkit(*args, "--out", work / "cold" / "run", "--executor", "ray")
    assert code == 0, output
    entries, hits = scores_table()
    # every (metric, pair) computed on the cluster and stored here, once per distinct content
    # (lead and textrank write the same summary for some items)
    assert 5 * 12 < entries <= 5 * 2 * 12 and hits == 0

    sent: list[str] = []
    real = ray_executor.RayExecutor._cluster_compute

    def counting(self, scorers):  # what the driver hands to the cluster
        class Counted:
            def __enter__(inner):
                inner.cm = real(self, scorers)
                compute = inner.cm.__enter__()

                def counted(work, context):
                    sent.extend(f"{metric.family}:{p.system}:{p.gold_id}" for metric, todo in work for p in todo)
                    return compute(work, context)
                return counted

            def __exit__(inner, *exc):
                return inner.cm.__exit__(*exc)
        return Counted()

    monkeypatch.setattr(ray_executor.RayExecutor, "_cluster_compute", counting)
    code, output = evalkit(*args, "--out", work / "warm" / "run", "--executor", "ray")
    assert code == 0, output
    assert sent == []  # nothing computed anywhere
    assert scores_table() == (entries, entries)  # every stored result read, nothing added
    assert differing(work / "local" / "run", work / "cold" / "run") == []
    assert differing(work / "local" / "run", work / "warm" / "run", ("scores.csv", "details.jsonl")) == []

    def summary(run: str) -> dict:  # but for the rows the prediction cache answered, and the measured latencies
        data = json.loads((work / run / "run" / "summary.json").read_text())
        for system in data["systems"].values():
            del system["cached"], system["usage"]["latency_p50"], system["usage"]["latency_p95"]
        return data

    assert summary("warm") == summary("cold") == summary("local")
    notes = json.loads((work / "warm" / "run" / "summary.json").read_text())["notes"]
    assert any(n.startswith("rouge: the default tokenizer dropped") for n in notes)  # made from the cached flags


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(cluster, work):
    args = slow_run(work, 0.8)
    (work / "calls.log").unlink()
    killed: list[tuple[str, int]] = []
    out = work / "ray" / "run"

    def kill_a_worker_mid_row() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            started = calls(work)
            done = {r["gold_id"] for r in journal(out)} if (out / "predictions.jsonl").is_file() else set()
            running = [(i, pid) for i, pid in started if i not in done]
            if len(started) >= 3 and running:
                gold_id, pid = running[-1]
                assert pid != os.getpid()  # a Ray worker, never this process (the driver)
                os.kill(pid, signal.SIGKILL)
                killed.append((gold_id, pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_a_worker_mid_row)
    watcher.start()
    code, output = evalkit(*args, "--out", out, "--executor", "ray")
    watcher.join()
    assert code == 0, output
    assert killed, "no worker was killed mid-row"
    starts = Counter(i for i, _ in calls(work))
    assert starts[killed[0][0]] == 2  # the killed row ran again...
    keys = [(r["system"], r["gold_id"]) for r in journal(out)]
    assert len(keys) == len(set(keys)) == 8  # ...and is journaled once, like every other row
    assert all(r["error"] is None for r in journal(out))
    assert differing(work / "local" / "run", out) == []


def test_a_killed_driver_resumes_with_the_journal_and_the_cache_is_read_on_the_driver(cluster, work):
    args = slow_run(work, 0.5)
    out = work / "ray" / "run"
    driver = subprocess.Popen([sys.executable, "-m", "evalkit", *map(str, args), "--out", str(out), "--executor", "ray",
                               "--ray-address", cluster], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if (out / "predictions.jsonl").is_file() and len(journal(out)) >= 3:
                break
            time.sleep(0.05)
        assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait(timeout=60)
    had = {(r["system"], r["gold_id"]) for r in journal(out)}
    assert 3 <= len(had) < 8 and json.loads((out / "manifest.json").read_text())["complete"] is False
    code, output = evalkit("run", "--resume", out, "--executor", "ray", "--no-cache", "--quiet")
    assert code == 0, output
    keys = [(r["system"], r["gold_id"]) for r in journal(out)]
    assert len(keys) == len(set(keys)) == 8 and had <= set(keys)  # finished rows kept, none twice
    starts = Counter(i for i, _ in calls(work))
    assert all(starts[gold_id] == 2 for _, gold_id in had)  # once locally, once on Ray: never redone
    assert differing(work / "local" / "run", out) == []

    # the driver looks every row up in the cache before dispatching: a cached rerun sends no row to Ray
    cached_args = [a for a in args if a != "--no-cache"]
    for name in ("fill", "cached"):
        before = len(calls(work))
        code, output = evalkit(*cached_args, "--out", work / name, "--executor", "ray")
        assert code == 0, output
    assert len(calls(work)) == before
    assert json.loads((work / "cached" / "summary.json").read_text())["systems"]["slow"]["cached"] == 8
