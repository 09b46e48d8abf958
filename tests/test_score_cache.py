"""The score cache: a warm re-run computes nothing, a changed metric or input recomputes exactly
what it affects, and nothing is read or written with --no-cache."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from runner_fixtures import make_gold, write_gold_jsonl
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.base import Metric
from evalkit.records import GoldSet
from evalkit.score_cache import ScoreCache, item_key, metric_digest
from evalkit.scoring import Scorer, score_pairs

cli = CliRunner()


@pytest.fixture
def counted(monkeypatch):
    """How many pairs each metric family computed (the real compute runs)."""
    calls: Counter = Counter()
    real = Metric.score

    def wrap(cls):
        original = cls.compute

        def compute(self, pairs, context):
            calls[self.name] += len(pairs)
            return original(self, pairs, context)

        monkeypatch.setattr(cls, "compute", compute)

    from evalkit.metrics.numbers import NumberFidelity
    from evalkit.metrics.quotes import QuoteFidelity
    from evalkit.metrics.rouge import Rouge

    for cls in (Rouge, QuoteFidelity, NumberFidelity):
        wrap(cls)
    assert real is Metric.score
    return calls


def run(tmp_path, name, *extra, metrics="rouge,quotes,numbers"):
    res = cli.invoke(app, ["run", "-g", str(tmp_path / "gold.jsonl"), "-s", "lead", "-s", "l1=lead:k=1",
                           "--metrics", metrics, "--out", str(tmp_path / name), "--json", *extra])
    assert res.exit_code == 0, res.output
    return tmp_path / name


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(12))
    return tmp_path


def same_outputs(a, b):
    for name in ("scores.csv", "details.jsonl"):
        assert (a / name).read_text().replace(a.name, "") == (b / name).read_text().replace(b.name, ""), name
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for s in (sa, sb):
        s.pop("run_id")
        for system in s["systems"].values():
            system.pop("cached")
            for key in ("latency_p50", "latency_p95"):  # the extractive backends run again: measured anew
                system["usage"].pop(key)
    assert sa == sb
    ca, cb = (json.loads((d / "comparisons.json").read_text()) for d in (a, b))
    for c in (ca, cb):
        c.pop("run_id"), c.pop("summary_digest")
    assert ca == cb


def test_a_warm_rerun_computes_nothing_and_writes_the_same_run(setup, counted):
    cold = run(setup, "cold")
    assert counted == {"rouge": 24, "quotes": 24, "numbers": 24}
    counted.clear()
    warm = run(setup, "warm")
    assert counted == {}  # every score read from the cache
    same_outputs(cold, warm)
    fresh = run(setup, "fresh", "--no-cache")
    same_outputs(cold, fresh)


def test_score_and_score_run_read_the_cache_a_run_filled(setup, counted):
    """`evalkit score` of predictions a run already scored, and `score --run` of that run, compute
    nothing; `--no-cache` computes everything and leaves the cache as it was."""
    cold = run(setup, "cold")
    counted.clear()
    preds = setup / "preds.jsonl"
    preds.write_text((cold / "predictions.jsonl").read_text())
    res = cli.invoke(app, ["score", "-g", str(setup / "gold.jsonl"), "-p", str(preds), "--metrics",
                           "rouge,quotes,numbers", "--out", str(setup / "scored"), "--json"])
    assert res.exit_code == 0, res.output
    assert counted == {}
    assert (setup / "scored" / "scores.csv").read_text() == (cold / "scores.csv").read_text()  # the same values
    res = cli.invoke(app, ["score", "--run", str(cold), "--json"])
    assert res.exit_code == 0, res.output
    assert counted == {}
    before = cli.invoke(app, ["cache", "stats", "--json"]).stdout
    res = cli.invoke(app, ["score", "--run", str(cold), "--json", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert counted == {"rouge": 24, "quotes": 24, "numbers": 24}
    after = json.loads(cli.invoke(app, ["cache", "stats", "--json"]).stdout)
    assert after["scores"] == json.loads(before)["scores"]  # neither read nor written


def test_changing_one_metric_recomputes_only_that_metric(setup, counted):
    run(setup, "a")
    counted.clear()
    run(setup, "b", metrics="rouge:multi_ref=max,quotes,numbers:rounding_tolerance=0.01")
    assert counted == {"rouge": 24, "numbers": 24}
    counted.clear()
    run(setup, "c", metrics="rouge1,quotes")  # keeping fewer outputs is the same metric
    assert counted == {}


def test_the_key_holds_what_each_metric_reads(setup, counted):
    """A key point edited: rouge (reads references) recomputes that item, quotes and numbers (read
    the article) do not; an article edited: the reverse (lead's summary of it changes too)."""
    run(setup, "a")
    gold = make_gold(12)
    items = list(gold.items)
    items[3] = items[3].model_copy(update={"key_points": ["A different key point."]})
    write_gold_jsonl(setup / "gold.jsonl", GoldSet(name=gold.name, source=gold.source, items=items))
    counted.clear()
    run(setup, "b")
    assert counted == {"rouge": 2}
    items[5] = items[5].model_copy(update={"article": "Nothing happened. " + items[5].article})
    write_gold_jsonl(setup / "gold.jsonl", GoldSet(name=gold.name, source=gold.source, items=items))
    counted.clear()
    run(setup, "c")
    # both systems' summaries of item 5 changed (rouge); their quotes/numbers read the new article
    assert counted == {"rouge": 2, "quotes": 2, "numbers": 2}


def test_library_versions_and_code_are_part_of_the_key(monkeypatch, tmp_path):
    pair = Pair("s", "g", "The cat sat.", "An article.", ("the cat sat on the mat",))
    metric = build_metric("rouge")
    from evalkit.text import TextStore

    before = item_key(metric_digest(metric), pair, metric.reads, TextStore())
    import evalkit.metrics.rouge as rouge_module

    real = rouge_module.version
    monkeypatch.setattr(rouge_module, "version", lambda d: "9.9.9" if d == "rouge-score-rs" else real(d))
    assert item_key(metric_digest(metric), pair, metric.reads, TextStore()) != before
    monkeypatch.undo()
    assert item_key(metric_digest(metric), pair, metric.reads, TextStore()) == before
    # the article is not read by rouge: not in its key; the summary is
    assert item_key(metric_digest(metric), Pair("s", "g", "The cat sat.", "Another.", pair.references),
                    metric.reads, TextStore()) == before
    assert item_key(metric_digest(metric), Pair("x", "y", "The cat sat!", "An article.", pair.references),
                    metric.reads, TextStore()) != before


PLUGIN = '''
from evalkit.metrics.base import ItemScore, Metric

class Length(Metric):
    name = "length"
    reads = ("summary",)

    def outputs(self):
        return ["chars"]

    def compute(self, pairs, context):
        return [ItemScore(values={"chars": float(len(p.summary) * FACTOR)}) for p in pairs]

FACTOR = @FACTOR@
'''


def test_an_edited_plugin_metric_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "lenmetric.py").write_text(PLUGIN.replace("@FACTOR@", "1"))
    import importlib

    import lenmetric

    cache = ScoreCache(tmp_path / "c.sqlite")
    pairs = [Pair("s", f"g{i}", "x" * i, "a", ("r",)) for i in range(5)]
    first = score_pairs(pairs, [Scorer(lenmetric.Length())], cache=cache)
    assert list(first.scores["value"]) == [0, 1, 2, 3, 4]
    (tmp_path / "lenmetric.py").write_text(PLUGIN.replace("@FACTOR@", "10") + "\n# edited\n")
    importlib.reload(lenmetric)
    second = score_pairs(pairs, [Scorer(lenmetric.Length())], cache=cache)
    assert list(second.scores["value"]) == [0, 10, 20, 30, 40]
    assert cache.hits == 0 and len(cache) == 10
    third = score_pairs(pairs, [Scorer(lenmetric.Length())], cache=cache)
    assert list(third.scores["value"]) == [0, 10, 20, 30, 40] and cache.hits == 5


def test_warnings_of_a_warm_run_are_the_cold_runs(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    pairs = [Pair("s", "g1", "Правительство объявило новые меры.", "src", ("Объявлены новые меры правительства.",)),
             Pair("s", "g2", "the cat sat", "src", ("the cat sat on the mat",))]
    cold = score_pairs(pairs, [Scorer(build_metric("rouge"))], ScoringContext(), cache=cache)
    warm = score_pairs(pairs, [Scorer(build_metric("rouge"))], ScoringContext(), cache=cache)
    assert cache.hits == 2
    assert cold.warnings == warm.warnings and "1 of 2 scored texts" in cold.warnings[0]
    assert cold.scores.equals(warm.scores)


def test_no_cache_reads_and_writes_no_score(setup, counted):
    run(setup, "a", "--no-cache")
    db = setup / "cache" / "cache.sqlite"
    assert not db.exists() or sqlite3.connect(db).execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
    run(setup, "b")
    counted.clear()
    run(setup, "c", "--no-cache")
    assert counted == {"rouge": 24, "quotes": 24, "numbers": 24}


def test_cache_stats_report_both_tables_and_clear_one_or_both(setup):
    run(setup, "a")
    stats = json.loads(cli.invoke(app, ["cache", "stats", "--json"]).output)
    assert stats["entries"] == 24 and stats["scores"]["entries"] > 0
    assert set(stats["scores"]["by_metric"]) == {"rouge", "quotes", "numbers"}
    text = cli.invoke(app, ["cache", "stats"]).output
    assert "24 summaries" in text and "cached (metric, prediction, item) results" in text
    res = cli.invoke(app, ["cache", "clear", "--metric", "rouge"])
    assert res.exit_code == 0 and "cached scores of metric 'rouge'" in res.output
    stats = json.loads(cli.invoke(app, ["cache", "stats", "--json"]).output)
    assert set(stats["scores"]["by_metric"]) == {"quotes", "numbers"} and stats["entries"] == 24
    res = cli.invoke(app, ["cache", "clear", "--only", "scores", "--json"])
    assert json.loads(res.output)["deleted"] == 0 and json.loads(res.output)["deleted_scores"] > 0
    run(setup, "b")
    res = cli.invoke(app, ["cache", "clear"])
    assert res.exit_code == 0 and "deleted 24 cached summaries and" in res.output
    stats = json.loads(cli.invoke(app, ["cache", "stats", "--json"]).output)
    assert stats["entries"] == 0 and stats["scores"]["entries"] == 0
    res = cli.invoke(app, ["cache", "clear", "--backend", "lead", "--metric", "rouge"])
    assert res.exit_code == 2


def test_batch_dependent_metrics_are_not_cached():
    assert not build_metric("bertscore", {"idf": True}).cacheable()
    assert build_metric("bertscore").cacheable() and build_metric("quotes").cacheable()


def test_a_metric_whose_source_file_is_unknown_is_computed_not_cached(tmp_path):
    """A Metric defined in ``python -c``, a REPL or a notebook cell has no source file to put in
    its key: evaluate(cache=...) computes it every time instead of raising OSError('source code
    not available') (fails on main before this commit)."""
    import evalkit
    from evalkit.metrics.base import ItemScore, Metric
    from evalkit.score_cache import ScoreCache

    calls: list[int] = []

    class Length(Metric):
        name = "length_here"
        reads = ("summary",)

        def outputs(self):
            return ["chars"]

        def compute(self, pairs, context):
            calls.append(len(pairs))
            return [ItemScore(values={"chars": float(len(p.summary))}) for p in pairs]

    Length.__module__ = "typed_at_the_prompt"  # no such module: as a class made at a REPL prompt
    for _ in range(2):
        run = evalkit.evaluate(None, {"lead": "lead"}, metrics=[Length(), "rouge1"], limit=3, cache=tmp_path)
        assert run.summary.systems["lead"].metrics["chars"].n == 3
    assert calls == [3, 3]
    cache = ScoreCache(tmp_path / "cache.sqlite")
    families = {m for (m,) in cache.conn.execute("SELECT DISTINCT metric FROM scores")}
    cache.close()
    assert families == {"rouge"}  # the metrics whose code is known are cached as before
