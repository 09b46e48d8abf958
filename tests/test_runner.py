"""The runner: paths (sync, batched, async), failures, resume, the journal, --max-errors, progress."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from runner_fixtures import AsyncSleeper, make_gold, read_calls

from evalkit.cache import PredictionCache
from evalkit.errors import UsageError
from evalkit.records import Prediction, SystemSpec
from evalkit.rundir import RunDir
from evalkit.runner import RunAborted, run_systems


def sysspec(name, cls, **opts) -> SystemSpec:
    return SystemSpec(name=name, backend=f"runner_fixtures:{cls}", options=opts)


def journal_rows(rundir: RunDir) -> list[dict]:
    return [json.loads(line) for line in rundir.predictions_path.read_text().splitlines()]


@pytest.fixture
def rundir(tmp_path) -> RunDir:
    return RunDir.create(tmp_path / "run")


def test_rows_in_system_then_gold_order_and_failures_recorded(tmp_path, rundir):
    calls = tmp_path / "calls"
    specs = [sysspec("a", "Flaky", calls_file=str(calls), fail_ids=["g001"]),
             sysspec("b", "Flaky", fail_ids=["g000"], mode="exception"),
             sysspec("c", "Flaky", fail_ids=["g002"], mode="empty"),
             sysspec("d", "Flaky", fail_ids=["g003"], mode="nonstring")]
    preds = run_systems(make_gold(4), specs, rundir, cache=None, progress=False)
    assert [(p.system, p.gold_id) for p in preds] == [(s, f"g00{i}") for s in "abcd" for i in range(4)]
    errors = {(p.system, p.gold_id): p.error for p in preds if p.error}
    assert errors == {("a", "g001"): "scripted failure for g001",
                      ("b", "g000"): "ZeroDivisionError: division by zero",
                      ("c", "g002"): "backend returned an empty summary",
                      ("d", "g003"): "backend returned int, not a string"}
    failed = [p for p in preds if p.error]
    assert all(p.summary is None and p.key_points == [] for p in failed)
    ok = [p for p in preds if p.ok]
    assert all(p.key_points == ["Budget: " + make_gold(4).by_id()[p.gold_id].key_points[0]] for p in ok)
    assert [c["id"] for c in read_calls(calls)] == ["g000", "g001", "g002", "g003"]
    assert [Prediction(**r) for r in journal_rows(rundir)] == preds  # the journal holds exactly these rows


def test_batches_are_chunks_and_a_failed_chunk_fails_its_rows(tmp_path, rundir):
    calls = tmp_path / "calls"
    spec = sysspec("bat", "Batcher", calls_file=str(calls), size=3, fail_batch_with="g004", fail_ids=["g006"])
    preds = run_systems(make_gold(7), [spec], rundir, cache=None, progress=False)
    assert [c["batch"] for c in read_calls(calls)] == [["g000", "g001", "g002"], ["g003", "g004", "g005"], ["g006"]]
    assert [p.error for p in preds] == [None] * 3 + ["RuntimeError: GPU fell over"] * 3 + ["bad g006"]


def test_async_backends_run_with_bounded_concurrency_and_are_closed(tmp_path, rundir):
    AsyncSleeper.peak = AsyncSleeper.closed = 0
    spec = sysspec("as", "AsyncSleeper", concurrency=3, delay=0.05, fail_ids=["g004"])
    preds = run_systems(make_gold(10), [spec], rundir, cache=None, progress=False)
    assert AsyncSleeper.peak == 3 and AsyncSleeper.closed == 1
    assert [p.gold_id for p in preds] == [f"g{i:03d}" for i in range(10)]
    assert [p.error for p in preds if p.error] == ["async failure g004"]
    assert all(p.latency_s >= 0.04 for p in preds)


def test_resume_never_redoes_or_duplicates(tmp_path, rundir):
    calls = tmp_path / "calls"
    gold = make_gold(6)
    a = sysspec("a", "Flaky", calls_file=str(calls), fail_ids=["g001"])
    run_systems(make_gold(3), [a], rundir, cache=None, progress=False)  # as if killed after 3 rows
    preds = run_systems(gold, [a, sysspec("b", "Flaky", calls_file=str(calls))], rundir, cache=None, progress=False)
    assert [c["id"] for c in read_calls(calls)] == ["g000", "g001", "g002"] + ["g003", "g004", "g005"] + \
        [f"g00{i}" for i in range(6)]
    rows = journal_rows(rundir)
    assert len(rows) == 12 and len({(r["system"], r["gold_id"]) for r in rows}) == 12
    assert preds[1].error == "scripted failure for g001"  # kept as it was
    assert len({r["system_digest"] for r in rows if r["system"] == "a"}) == 1

    # --resume with nothing left: no call at all
    before = len(read_calls(calls))
    b = sysspec("b", "Flaky", calls_file=str(calls))
    again = run_systems(gold, [a, b], rundir, cache=None, progress=False)
    assert len(read_calls(calls)) == before and again == preds

    # retry_failed: only the failed row is redone (it fails again: same config), one row per key
    redone = run_systems(gold, [a, b], rundir, cache=None, progress=False, retry_failed=True)
    assert [c["id"] for c in read_calls(calls)][before:] == ["g001"]
    assert redone[1].error == "scripted failure for g001" and len(journal_rows(rundir)) == 12


def test_rows_of_another_configuration_or_system_are_refused(tmp_path, rundir):
    """[issue 9.1] a journal's rows are never reused under another configuration (fails on main
    before this commit: the rows of lead:k=3 were kept as rows of lead:k=1)."""
    calls = tmp_path / "calls"
    run_systems(make_gold(3), [sysspec("a", "Flaky", calls_file=str(calls))], rundir, cache=None, progress=False)
    before = journal_rows(rundir)
    with pytest.raises(UsageError, match="row 1 is a prediction of system 'a' under another configuration"):
        run_systems(make_gold(3), [sysspec("a", "Flaky", calls_file=str(calls), tag="!")], rundir, cache=None,
                    progress=False)
    with pytest.raises(UsageError, match="system 'a', which is not one of this run's systems"):
        run_systems(make_gold(3), [sysspec("b", "Flaky", calls_file=str(calls))], rundir, cache=None, progress=False)
    with pytest.raises(UsageError, match="item 'g002', which is not in gold set"):
        run_systems(make_gold(2), [sysspec("a", "Flaky", calls_file=str(calls))], rundir, cache=None, progress=False)
    assert journal_rows(rundir) == before and len(read_calls(calls)) == 3


def test_torn_last_line_is_repaired(tmp_path, rundir):
    gold = make_gold(3)
    run_systems(make_gold(2), [sysspec("a", "Flaky")], rundir, cache=None, progress=False)
    text = rundir.predictions_path.read_text()
    rundir.predictions_path.write_text(text + text.splitlines()[0][:40])  # killed mid-write
    preds = run_systems(gold, [sysspec("a", "Flaky")], rundir, cache=None, progress=False)
    assert [r["gold_id"] for r in journal_rows(rundir)] == ["g000", "g001", "g002"]
    assert all(p.ok for p in preds)
    # a complete row that only lost its newline is kept
    full = rundir.predictions_path.read_text()
    rundir.predictions_path.write_text(full.rstrip("\n"))
    run_systems(make_gold(4), [sysspec("a", "Flaky")], rundir, cache=None, progress=False)
    assert [r["gold_id"] for r in journal_rows(rundir)] == ["g000", "g001", "g002", "g003"]


def test_max_errors_aborts_and_keeps_finished_rows(tmp_path, rundir):
    calls = tmp_path / "calls"
    spec = sysspec("a", "Flaky", calls_file=str(calls), fail_ids=["g001", "g002", "g003", "g004"])
    with pytest.raises(RunAborted) as e:
        run_systems(make_gold(6), [spec], rundir, cache=None, max_errors=2, progress=False)
    assert "aborted after 2 failed rows (--max-errors 2)" in str(e.value)
    assert f"evalkit run --resume {rundir.path} --retry-failed" in str(e.value)
    assert [r["gold_id"] for r in journal_rows(rundir)] == ["g000", "g001", "g002"]
    assert len(read_calls(calls)) == 3
    with pytest.raises(UsageError, match="at least 1"):
        run_systems(make_gold(1), [spec], rundir, cache=None, max_errors=0, progress=False)


def test_max_errors_cancels_async_work(rundir):
    spec = sysspec("as", "AsyncSleeper", concurrency=2, delay=0.02, fail_ids=[f"g{i:03d}" for i in range(20)])
    with pytest.raises(RunAborted):
        run_systems(make_gold(20), [spec], rundir, cache=None, max_errors=3, progress=False)
    # the third failure aborts; at most the one other row in flight may still land in the journal
    assert 3 <= len(journal_rows(rundir)) <= 4


def test_bad_systems_fail_before_any_work(tmp_path, rundir):
    calls = tmp_path / "calls"
    good = sysspec("a", "Flaky", calls_file=str(calls))
    with pytest.raises(UsageError, match="unknown backend 'nope'; known backends: .*command.*openai"):
        run_systems(make_gold(2), [good, SystemSpec(name="x", backend="nope")], rundir, cache=None, progress=False)
    with pytest.raises(UsageError, match="bad options for backend 'runner_fixtures:Flaky': modee: unknown option"):
        run_systems(make_gold(2), [good, sysspec("b", "Flaky", modee="x")], rundir, cache=None, progress=False)
    with pytest.raises(UsageError, match="unique"):
        run_systems(make_gold(2), [good, good], rundir, cache=None, progress=False)
    assert not calls.exists()


def test_configuration_errors_from_a_backend_stop_the_run(rundir):
    spec = SystemSpec(name="c", backend="command", options={"cmd": "no-such-program-xyz"})
    with pytest.raises(UsageError, match="program not found"):
        run_systems(make_gold(3), [spec], rundir, cache=None, progress=False)
    assert not rundir.predictions_path.exists() or journal_rows(rundir) == []


def test_cached_rows_are_flagged_and_keep_their_latency(tmp_path, rundir):
    cache = PredictionCache(tmp_path / "c.sqlite")
    spec = sysspec("as", "AsyncSleeper", delay=0.03, calls_file=str(tmp_path / "calls"))
    first = run_systems(make_gold(3), [spec], RunDir.create(tmp_path / "r1"), cache=cache, progress=False)
    second = run_systems(make_gold(3), [spec], rundir, cache=cache, progress=False)
    assert len(read_calls(tmp_path / "calls")) == 3
    assert [p.cached for p in second] == [True] * 3
    assert [p.latency_s for p in second] == [p.latency_s for p in first]
    assert [r["cached"] for r in journal_rows(rundir)] == [True] * 3


def test_progress_bars_on_a_terminal_and_silence_otherwise(rundir, tmp_path):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    run_systems(make_gold(3), [sysspec("alpha", "Flaky", fail_ids=["g001"])], rundir, cache=None, console=console)
    shown = buf.getvalue()
    assert "alpha" in shown and "3/3" in shown and "errors 1" in shown and "cached 0" in shown
    quiet = io.StringIO()
    run_systems(make_gold(3), [sysspec("beta", "Flaky")], RunDir.create(tmp_path / "q"), cache=None,
                console=Console(file=quiet, force_terminal=True), progress=False)
    not_tty = io.StringIO()
    run_systems(make_gold(3), [sysspec("gamma", "Flaky")], RunDir.create(tmp_path / "n"), cache=None,
                console=Console(file=not_tty, force_terminal=False))
    assert quiet.getvalue() == "" and not_tty.getvalue() == ""
