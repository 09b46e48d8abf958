"""The process pool gives the serial path's results, in order (evalkit/pool.py, evalkit/metrics/parallel.py)."""

from __future__ import annotations

import json

import pytest
from summeval_data import summeval_rows

from evalkit import pool
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.parallel import compute_pairs
from evalkit.text import TextStore, _compute_spans


def pairs(n=240):
    return [Pair(r["system_id"], r["doc_id"], r["summary"], r["source_raw"], tuple(r["references"][:2]))
            for r in summeval_rows(n)]


@pytest.mark.parametrize("family", ["quotes", "numbers", "extractiveness"])
def test_pool_results_equal_the_serial_ones(family):
    metric = build_metric(family)
    ps = pairs()
    serial = metric.compute(ps, ScoringContext(texts=TextStore()))
    parallel = compute_pairs(metric, ps, ScoringContext(texts=TextStore()), n_workers=2, min_seconds=0.0)
    assert [(r.values, r.detail) for r in parallel] == [(r.values, r.detail) for r in serial]


def test_small_or_cheap_batches_stay_in_process(monkeypatch):
    monkeypatch.setattr(pool, "pool_map", lambda *a, **k: pytest.fail("a pool was started"))
    import evalkit.metrics.parallel as mp

    monkeypatch.setattr(mp, "pool_map", lambda *a, **k: pytest.fail("a pool was started"))
    metric = build_metric("numbers")
    ps = pairs(40)
    assert len(compute_pairs(metric, ps, ScoringContext(), n_workers=2, min_seconds=0.0)) == 40  # under 2 probes
    assert len(compute_pairs(metric, pairs(), ScoringContext(), n_workers=2, min_seconds=1e9)) == 240
    assert len(compute_pairs(metric, pairs(), ScoringContext(), n_workers=1, min_seconds=0.0)) == 240
    store = TextStore()
    assert pool.prime_sentences([p.source for p in ps], store, n_workers=2, min_seconds=1e9) == 0 and len(store) == 0


def test_sentences_split_in_the_pool_equal_the_serial_split():
    texts = list(dict.fromkeys(p.source for p in pairs()))
    store = TextStore()
    assert pool.prime_sentences(texts + texts[:3], store, n_workers=2, min_seconds=0.0) == len(texts)
    assert all(store.spans(t) == tuple(_compute_spans(t)) for t in texts)
    assert store.splits == len(texts)
    assert pool.prime_sentences(texts, store, n_workers=2, min_seconds=0.0) == 0  # nothing left to split


def test_no_pool_to_be_had_runs_the_same_calls_here(monkeypatch):
    class Refused:
        def __init__(self, *a, **k):
            raise OSError("no processes allowed here")

    monkeypatch.setattr(pool, "ProcessPoolExecutor", Refused)
    assert pool.pool_map(len, ["ab", "c"], 2) == [2, 1]
    metric = build_metric("quotes")
    ps = pairs(120)
    got = compute_pairs(metric, ps, ScoringContext(), n_workers=2, min_seconds=0.0)
    assert [r.values for r in got] == [r.values for r in metric.compute(ps, ScoringContext())]


def test_workers_from_the_environment(monkeypatch):
    monkeypatch.setenv(pool.WORKERS_ENV, "3")
    assert pool.workers() == 3
    monkeypatch.setenv(pool.WORKERS_ENV, "1")
    assert pool.workers() == 1
    monkeypatch.delenv(pool.WORKERS_ENV)
    monkeypatch.setattr(pool.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert pool.workers() == 1  # every CPU busy already: no pool


def test_a_run_with_the_pool_equals_one_without(tmp_path, monkeypatch):
    """Through the CLI: pools forced on (no threshold) vs EVALKIT_WORKERS=1: the same files."""
    from typer.testing import CliRunner

    from evalkit.cli import app

    rows = summeval_rows()
    gold = {}
    for r in rows:
        gold.setdefault(r["doc_id"], {"id": r["doc_id"], "article": r["source_raw"],
                                      "key_points": [k + " ." for k in r["references"][0].split(" . ") if k.strip(" .")]})
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gold.values()))
    args = ["run", "-g", str(tmp_path / "gold.jsonl"), "-s", "lead", "-s", "textrank", "--no-cache",
            "--metrics", "rouge,quotes,numbers,extractiveness", "--json"]
    monkeypatch.setenv(pool.WORKERS_ENV, "1")
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "serial")])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    monkeypatch.setattr(pool, "MIN_PARALLEL_SECONDS", 0.0)
    import evalkit.metrics.parallel as mp

    monkeypatch.setattr(mp, "MIN_PARALLEL_SECONDS", 0.0)
    started = []
    real = pool.pool_map
    monkeypatch.setattr(pool, "pool_map", lambda *a: started.append(1) or real(*a))
    monkeypatch.setattr(mp, "pool_map", lambda *a: started.append(1) or real(*a))
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "pooled")])
    assert res.exit_code == 0, res.output
    assert len(started) >= 4  # articles (lead), summaries (rouge), quotes, numbers, extractiveness
    for name in ("scores.csv", "details.jsonl"):
        assert (tmp_path / "serial" / name).read_text() == (tmp_path / "pooled" / name).read_text(), name
