"""The prediction cache, proven from the server's side: what is a hit, what is a miss."""

from __future__ import annotations

import json
import sqlite3

import pytest
from openai_server import FakeOpenAI, openai_server  # noqa: F401 - fixture
from runner_fixtures import make_gold
from typer.testing import CliRunner

from evalkit.cache import PredictionCache, cache_dir, cache_key, default_cache
from evalkit.cli import app
from evalkit.records import GoldSet, SystemSpec
from evalkit.rundir import RunDir
from evalkit.runner import run_systems


def systems(server: FakeOpenAI, **changes) -> list[SystemSpec]:
    base = {"base_url": server.base_url, "backoff": 0.01, "concurrency": 2}
    return [SystemSpec(name="small", backend="openai", options={**base, "model": "small", **changes}),
            SystemSpec(name="large", backend="openai", options={**base, "model": "large"})]


def run(gold: GoldSet, specs, cache, tmp_path, name):
    return run_systems(gold, specs, RunDir.create(tmp_path / name), cache=cache, progress=False)


def test_hits_and_misses_are_exactly_the_affected_rows(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cache-secret")
    cache = PredictionCache(tmp_path / "cache" / "cache.sqlite")
    gold = make_gold(5)
    first = run(gold, systems(openai_server), cache, tmp_path, "r1")
    assert len(openai_server.log) == 10 and not any(p.cached for p in first)

    # nothing changed: no backend call at all, identical rows flagged cached
    openai_server.log.clear()
    second = run(gold, systems(openai_server), cache, tmp_path, "r2")
    assert openai_server.log == []
    assert all(p.cached for p in second)
    assert [(p.summary, p.key_points, p.latency_s) for p in second] == [
        (p.summary, p.key_points, p.latency_s) for p in first]

    # runtime-only options and the key's value are not part of the key
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another")
    run(gold, systems(openai_server, concurrency=7, timeout=5, max_retries=1), cache, tmp_path, "r3")
    assert openai_server.log == []

    # temperature: every row of that system misses, the other system still hits
    run(gold, systems(openai_server, temperature=0.7), cache, tmp_path, "r4")
    assert len(openai_server.log) == 5
    assert {r.body["model"] for r in openai_server.log} == {"small"}

    # one article changed: exactly one miss per system
    openai_server.log.clear()
    items = list(gold.items)
    items[2] = items[2].model_copy(update={"article": items[2].article + " Officials declined to comment."})
    changed = run(GoldSet(name=gold.name, source=gold.source, items=items), systems(openai_server), cache,
                  tmp_path, "r5")
    assert sorted((r.body["model"], r.title) for r in openai_server.log) == [("large", "Story 2"), ("small", "Story 2")]
    assert [p.cached for p in changed[:5]] == [True, True, False, True, True]

    # a title or the prompt is part of the key too
    openai_server.log.clear()
    items[3] = items[3].model_copy(update={"title": "A new headline"})
    run(GoldSet(name="g", source="s", items=items), systems(openai_server, prompt="Title: {title}\n{article}"),
        cache, tmp_path, "r6")
    assert len([r for r in openai_server.log if r.body["model"] == "small"]) == 5
    assert [r.title for r in openai_server.log if r.body["model"] == "large"] == ["A new headline"]

    # the key never reaches the cache file
    cache.close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "cache").iterdir())
    assert b"sk-cache-secret" not in blob and b"sk-another" not in blob


def test_no_cache_calls_every_time_and_writes_nothing(openai_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALKIT_CACHE_DIR", raising=False)
    gold = make_gold(2)
    for name in ("a", "b"):
        run(gold, systems(openai_server)[:1], None, tmp_path, name)
    assert len(openai_server.log) == 4
    assert not (tmp_path / ".evalkit").exists()


def test_stats_clear_and_cli(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cdir"))
    assert cache_dir() == tmp_path / "cdir"
    cache = default_cache()
    assert cache.path == tmp_path / "cdir" / "cache.sqlite"
    run(make_gold(3), systems(openai_server), cache, tmp_path, "r1")
    run(make_gold(3), systems(openai_server), cache, tmp_path, "r2")
    stats = cache.stats()
    assert stats.entries == 6 and stats.hits == 6 and stats.by_backend == {"openai": {"entries": 6, "hits": 6}}
    cache.close()

    cli = CliRunner()
    res = cli.invoke(app, ["cache", "stats", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["entries"] == 6 and data["path"] == str(tmp_path / "cdir" / "cache.sqlite") and data["size_bytes"] > 0
    res = cli.invoke(app, ["cache", "stats"])
    assert res.exit_code == 0 and "6 summaries" in res.output and "openai" in res.output
    res = cli.invoke(app, ["cache", "clear", "--backend", "command"])
    assert res.exit_code == 0 and "deleted 0 cached summaries of backend 'command'" in res.output
    res = cli.invoke(app, ["cache", "clear"])
    assert res.exit_code == 0 and "deleted 6 cached summaries" in res.output
    assert json.loads(cli.invoke(app, ["cache", "stats", "--json"]).output)["entries"] == 0
    openai_server.log.clear()
    run(make_gold(3), systems(openai_server), default_cache(), tmp_path, "r3")
    assert len(openai_server.log) == 6


def test_stats_of_a_missing_cache_and_an_unopenable_one(tmp_path):
    res = CliRunner().invoke(app, ["cache", "stats", "--dir", str(tmp_path / "nothing")])
    assert res.exit_code == 0 and "no cache yet" in res.output
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "file").write_text("x")
    res = CliRunner().invoke(app, ["cache", "stats", "--dir", str(tmp_path / "file" / "sub")])
    assert res.exit_code == 0  # a missing cache is not an error
    bad = PredictionCache(tmp_path / "file" / "sub" / "cache.sqlite")
    with pytest.raises(Exception, match="cannot open the prediction cache"):
        bad.get("k")


def test_two_processes_worth_of_connections_share_one_file(tmp_path):
    a, b = PredictionCache(tmp_path / "c.sqlite"), PredictionCache(tmp_path / "c.sqlite")
    item = make_gold(1).items[0]
    inputs = {"article": item.article}
    a.put(cache_key("id-a", inputs), "x", "from a", 0.5, {"model": "m-1", "usage": {"prompt_tokens": 3}})
    b.put(cache_key("id-b", inputs), "x", "from b", 0.25)
    assert a.get(cache_key("id-b", inputs)).summary == "from b"
    hit = b.get(cache_key("id-a", inputs))
    assert hit.latency_s == 0.5 and hit.meta == {"model": "m-1", "usage": {"prompt_tokens": 3}}
    assert a.get(cache_key("id-c", inputs)) is None
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _key(spec: SystemSpec, item) -> str:
    from evalkit.identity import build_systems

    (system,) = build_systems([spec])
    return cache_key(system.digest, system.backend.cache_inputs(item))


def test_key_is_what_the_backend_reads(tmp_path):
    """[issue 9.2] the key holds the item fields a backend reads: the oracle reads the key points,
    lead only the article; a prompt without {title} does not read the title; a plug-in reads all."""
    item = make_gold(1).items[0]
    kp = item.model_copy(update={"key_points": ["different"]})
    titled = item.model_copy(update={"title": "Another title"})
    renamed = item.model_copy(update={"id": "other"})
    longer = item.model_copy(update={"article": item.article + " "})

    lead, oracle = SystemSpec(name="l", backend="lead"), SystemSpec(name="o", backend="oracle")
    assert _key(lead, item) == _key(lead, kp) == _key(lead, titled) == _key(lead, renamed) != _key(lead, longer)
    assert _key(oracle, item) != _key(oracle, kp)
    assert _key(oracle, item) == _key(oracle, titled)

    plain = SystemSpec(name="p", backend="openai", options={"model": "m", "prompt": "Summarize: {article}"})
    with_title = SystemSpec(name="t", backend="openai", options={"model": "m", "prompt": "{title}: {article}"})
    assert _key(plain, item) == _key(plain, titled) == _key(plain, kp) != _key(plain, longer)
    assert _key(with_title, item) != _key(with_title, titled)

    command = SystemSpec(name="c", backend="command", options={"cmd": "cat"})
    assert _key(command, item) != _key(command, renamed)  # the program gets EVALKIT_GOLD_ID
    assert _key(command, item) == _key(command, kp)

    plugin = SystemSpec(name="f", backend="runner_fixtures:Flaky")  # declares nothing: every field
    assert len({_key(plugin, x) for x in (item, kp, titled, renamed, longer)}) == 5


def test_oracle_key_points_edit_is_a_cache_miss_through_the_cli(tmp_path, monkeypatch):
    """[issue 9.2] reproduction: edit only the key points; the cached oracle row must not be served
    (fails on main before this commit: rougeL 0.235 from the cache vs 1.0 with --no-cache)."""
    from runner_fixtures import write_gold_jsonl

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    gold = make_gold(3)
    write_gold_jsonl(tmp_path / "gold.jsonl", gold)
    cli = CliRunner()
    args = ["run", "-g", "gold.jsonl", "-s", "oracle", "--metrics", "rougeL", "--json"]
    res = cli.invoke(app, [*args, "--out", "r1"])
    assert res.exit_code == 0, res.output
    edited = GoldSet(name=gold.name, source=gold.source, items=[
        it.model_copy(update={"key_points": [it.article.split(". ")[1] + "."]}) for it in gold.items])
    write_gold_jsonl(tmp_path / "gold.jsonl", edited)
    cached = json.loads(cli.invoke(app, [*args, "--out", "r2"]).output)["leaderboard"][0]["rougeL"]
    fresh = json.loads(cli.invoke(app, [*args, "--out", "r3", "--no-cache"]).output)["leaderboard"][0]["rougeL"]
    assert cached == fresh and fresh["mean"] == pytest.approx(1.0)


def test_token_limits_are_options_not_secrets(openai_server, tmp_path):
    """``max_tokens`` / ``max_new_tokens`` are in the key (and the manifest); ``hf_token`` is not."""
    from evalkit.backends.base import is_secret_option, redact

    cache = PredictionCache(tmp_path / "c.sqlite")
    gold = make_gold(2)
    run(gold, systems(openai_server)[:1], cache, tmp_path, "r1")
    run(gold, systems(openai_server, max_tokens=64)[:1], cache, tmp_path, "r2")
    assert len(openai_server.log) == 4 and {r.body["max_tokens"] for r in openai_server.log[2:]} == {64}
    assert redact({"max_new_tokens": 9, "hf_token": "hf_abc", "api_key_env": "K"}) == {
        "max_new_tokens": 9, "hf_token": "***", "api_key_env": "K"}
    assert not is_secret_option("tokenizer") and is_secret_option("apiKey") and is_secret_option("client_secret")


def test_a_cache_that_is_not_a_database_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """A damaged cache file: one line naming it, exit 2, no run directory created, and a complete
    run given to --resume stays complete (fails on main before this commit: the new run left a
    manifest behind, and the resume marked the finished run incomplete)."""
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()
    res = cli.invoke(app, ["run", "-s", "lead", "--limit", "2", "--out", "done", "--no-cache"])
    assert res.exit_code == 0, res.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cache.sqlite").write_text("not a database at all\n" * 100)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "bad"))
    res = cli.invoke(app, ["run", "-s", "lead", "--limit", "2", "--out", "new"])
    assert res.exit_code == 2 and "bad/cache.sqlite" in res.output and "--no-cache" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "new").exists()
    res = cli.invoke(app, ["run", "--resume", "done"])
    assert res.exit_code == 2 and "bad/cache.sqlite" in res.output, res.output
    assert json.loads((tmp_path / "done" / "manifest.json").read_text())["complete"] is True


def test_a_cache_damaged_past_its_header_is_one_line_not_a_database_error(tmp_path, monkeypatch):
    """SQLite opens a file whose later pages are damaged and fails on the first query: every
    command using the cache says which file and what to do (fails on main before this commit:
    'DatabaseError: database disk image is malformed', no file named)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    cli = CliRunner()
    assert cli.invoke(app, ["run", "-s", "lead", "-s", "textrank", "--limit", "12", "--out", "r1"]).exit_code == 0
    path = tmp_path / "cache" / "cache.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    assert size > 4 * 4096
    with path.open("r+b") as f:  # keep the header and the schema page, damage the rest
        f.seek(2 * 4096)
        f.write(b"\x5a" * (size - 2 * 4096))
    for args in (["run", "-s", "lead", "--limit", "3", "--out", "r2"], ["cache", "stats"]):
        res = cli.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert f"cannot use the cache {path}" in res.output and "--no-cache" in res.output, res.output
        assert "Traceback" not in res.output and "DatabaseError" not in res.output
