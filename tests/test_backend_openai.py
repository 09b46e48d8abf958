"""The ``openai`` backend against a real chat-completions server on loopback, with scripted faults.

The server's request log is the evidence: how many attempts each item got, how long the
client waited between them, how many requests were in flight at once.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from openai_server import FakeOpenAI, openai_server  # noqa: F401 - fixture
from runner_fixtures import make_gold, make_item

from evalkit.backends.http import RetryPolicy, parse_retry_after
from evalkit.backends.openai import OpenAI
from evalkit.backends.prompt import DEFAULT_PROMPT
from evalkit.backends.registry import build_backend, parse_system
from evalkit.cache import PredictionCache
from evalkit.errors import BackendError, UsageError
from evalkit.records import SystemSpec
from evalkit.rundir import RunDir
from evalkit.runner import run_systems


def backend(server: FakeOpenAI, **opts) -> OpenAI:
    base = {"model": "tiny-llm", "base_url": server.base_url, "backoff": 0.01, "max_backoff": 0.05}
    return OpenAI(OpenAI.Options(**{**base, **opts}))


def run(server: FakeOpenAI, tmp_path, n=3, cache=None, **opts):
    spec = SystemSpec(name="llm", backend="openai",
                      options={"model": "tiny-llm", "base_url": server.base_url, "backoff": 0.01,
                               "max_backoff": 0.05, **opts})
    return run_systems(make_gold(n), [spec], RunDir.create(tmp_path / "run"), cache=cache, progress=False)


def test_success_request_shape_and_key_points(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    item = make_item(1)
    out = backend(openai_server, temperature=0.3, max_tokens=99, seed=7, system="Be brief.").summarize(item)
    assert out.text.startswith("Story 1: The council of town 1 approved")
    assert out.model == "tiny-llm-served" and out.finish_reason == "stop"  # what the server reports
    assert out.usage.prompt_tokens > 20 and out.usage.completion_tokens == len(out.text.split())
    (req,) = openai_server.log
    assert req.authorization == "Bearer sk-test-123"
    assert req.body["model"] == "tiny-llm" and req.body["temperature"] == 0.3
    assert req.body["max_tokens"] == 99 and req.body["seed"] == 7
    assert req.body["messages"][0] == {"role": "system", "content": "Be brief."}
    user = req.body["messages"][1]["content"]
    assert "Title: Story 1" in user and item.article in user and "Key Points:" in user


def test_runner_fills_key_points_and_latency(openai_server, tmp_path):
    preds = run(openai_server, tmp_path, n=2)
    assert [p.gold_id for p in preds] == ["g000", "g001"]
    for p in preds:
        assert p.ok and not p.cached and p.latency_s > 0
        assert p.key_points[0].startswith("Lead: The council of town") and len(p.key_points) == 2


def test_key_read_at_call_time_and_absent_key_sends_no_header(openai_server, monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    b = backend(openai_server, api_key_env="MY_KEY")
    b.summarize(make_item(0))
    monkeypatch.setenv("MY_KEY", "sk-later")
    b.summarize(make_item(1))
    assert [r.authorization for r in openai_server.log] == [None, "Bearer sk-later"]
    assert "sk-later" not in repr(b.options) and "sk-later" not in repr(b.identity())


def test_429_retry_after_is_waited(openai_server, tmp_path):
    openai_server.script([{"status": 429, "headers": {"Retry-After": "1"}}], title="Story 1")
    preds = run(openai_server, tmp_path, n=3)
    assert all(p.ok for p in preds)
    first, second = openai_server.requests_for("Story 1")
    assert first.outcome == "status 429" and second.outcome == "ok"
    assert second.start - first.end >= 1.0  # the server asked for 1 s; backoff alone would be <= 0.05 s
    assert len(openai_server.log) == 4


def test_500_retried_then_succeeds(openai_server, tmp_path):
    openai_server.script([{"status": 500}, {"status": 503}], title="Story 0")
    preds = run(openai_server, tmp_path, n=1)
    assert preds[0].ok
    assert [r.outcome for r in openai_server.log] == ["status 500", "status 503", "ok"]


def test_5xx_gives_up_after_max_retries_and_run_goes_on(openai_server, tmp_path):
    openai_server.script([{"status": 500, "body": {"error": {"message": "model overloaded"}}}] * 3, title="Story 0")
    preds = run(openai_server, tmp_path, n=2, max_retries=2, concurrency=1)
    assert preds[0].error == "HTTP 500: model overloaded (gave up after 3 attempts)"
    assert preds[1].ok
    assert len(openai_server.requests_for("Story 0")) == 3


def test_slow_reply_past_timeout_is_retried(openai_server, tmp_path):
    openai_server.script([{"delay": 1.5}], title="Story 0")
    t0 = time.monotonic()
    preds = run(openai_server, tmp_path, n=1, timeout=0.4)
    assert preds[0].ok
    assert len(openai_server.requests_for("Story 0")) == 2
    assert time.monotonic() - t0 < 1.4  # the client gave up on the slow reply; it did not wait it out


def test_slow_reply_without_retries_is_recorded(openai_server, tmp_path):
    openai_server.script([{"delay": 1.0}], title="Story 0")
    preds = run(openai_server, tmp_path, n=1, timeout=0.3, max_retries=0)
    assert preds[0].error == "no complete reply within 0.3s (gave up after 1 attempt)"


def test_dropped_connection_is_retried(openai_server, tmp_path):
    openai_server.script([{"drop": True}], title="Story 0")
    preds = run(openai_server, tmp_path, n=1)
    assert preds[0].ok
    assert [r.outcome for r in openai_server.requests_for("Story 0")] == ["drop", "ok"]


def test_malformed_json_fails_the_row_at_once(openai_server, tmp_path):
    openai_server.script([{"malformed": True}], title="Story 0")
    preds = run(openai_server, tmp_path, n=2)
    assert preds[0].error.startswith("server replied HTTP 200 with a body that is not JSON")
    assert preds[1].ok
    assert len(openai_server.requests_for("Story 0")) == 1


@pytest.mark.parametrize("status,body,expected", [
    (400, {"error": {"message": "maximum context length is 4096 tokens"}},
     "HTTP 400: maximum context length is 4096 tokens"),
    (401, {"error": {"message": "Incorrect API key provided"}}, "HTTP 401: Incorrect API key provided"),
    (404, "model not found", "HTTP 404: model not found"),
])
def test_other_4xx_fail_at_once_with_server_message(openai_server, tmp_path, status, body, expected):
    openai_server.script([{"status": status, "body": body}], title="Story 0")
    preds = run(openai_server, tmp_path, n=1)
    assert preds[0].error == expected
    assert len(openai_server.log) == 1


def test_retry_after_beyond_limit_fails_instead_of_waiting(openai_server, tmp_path):
    openai_server.script([{"status": 429, "headers": {"Retry-After": "3600"}}], title="Story 0")
    t0 = time.monotonic()
    preds = run(openai_server, tmp_path, n=1, max_retry_after=10)
    assert "asked to retry after 3600s" in preds[0].error
    assert time.monotonic() - t0 < 5


def test_server_echoing_the_key_is_redacted(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-echo")
    openai_server.script([{"status": 401, "body": {"error": {"message": "bad key sk-secret-echo"}}}])
    preds = run(openai_server, tmp_path, n=1)
    assert preds[0].error == "HTTP 401: bad key ***"


def test_concurrency_is_bounded(tmp_path):
    server = FakeOpenAI(latency=0.15).start()
    try:
        preds = run(server, tmp_path, n=12, concurrency=4)
    finally:
        server.stop()
    assert all(p.ok for p in preds) and len(server.log) == 12
    assert server.max_in_flight == 4


def test_connection_refused_is_retried_then_recorded(tmp_path):
    server = FakeOpenAI().start()
    server.stop()  # nothing listens on this port any more
    preds = run(server, tmp_path, n=1, max_retries=1)
    assert preds[0].error.startswith("connection error (ConnectError")
    assert preds[0].error.endswith("(gave up after 2 attempts)")


def test_a_server_that_never_answers_is_not_retried_for_every_row(tmp_path):
    """A base_url typo (nothing listens): once a request has spent its retries without ever
    connecting, the rows after it fail at once; each row retried as long (20 rows took 73 s
    with the default retries, 500 rows half an hour). Fails before this commit."""
    server = FakeOpenAI().start()
    server.stop()
    preds = run(server, tmp_path, n=10, concurrency=2, max_retries=2)
    gave_up = [p.error for p in preds if p.error.endswith("(gave up after 3 attempts)")]
    not_sent = [p.error for p in preds if p.error.startswith("not sent: the server never answered")]
    assert len(gave_up) == 2 and len(not_sent) == 8, [p.error for p in preds]
    assert f"{server.base_url}/chat/completions: connection error (ConnectError" in not_sent[0]


def test_a_server_that_answered_once_is_retried_as_usual(tmp_path):
    """Only a server that never answered is given up on: one that answered and then refuses
    (a restart) gets every row's retries."""
    import asyncio

    server = FakeOpenAI().start()
    b = backend(server, max_retries=1)

    async def rows():
        out = [await b.asummarize(make_item(0))]
        server.stop()
        for i in (1, 2):
            try:
                out.append(await b.asummarize(make_item(i)))
            except BackendError as e:
                out.append(str(e))
        await b.aclose()
        return out

    first, *errors = asyncio.run(rows())
    assert first.text and len(errors) == 2
    assert all(e.endswith("(gave up after 2 attempts)") for e in errors), errors


def test_options_are_validated():
    with pytest.raises(UsageError, match="unknown option"):
        build_backend(parse_system("openai:model=x,temprature=0.2"))
    with pytest.raises(UsageError, match="base_url"):
        build_backend(parse_system("openai:model=x,base_url=localhost:8000"))
    with pytest.raises(UsageError, match=r"unknown template variable\(s\) \{body\}"):
        build_backend(SystemSpec(name="x", backend="openai", options={"model": "m", "prompt": "{article} {body}"}))
    b = build_backend(parse_system("openai:model=x,base_url=http://h:1/v1/chat/completions/,temperature=0.5"))
    assert b.url == "http://h:1/v1/chat/completions" and b.options.temperature == 0.5
    assert b.prompt_text() == DEFAULT_PROMPT


def test_prompt_from_file(tmp_path, openai_server):
    f = tmp_path / "p.txt"
    f.write_text("Title: {title}\nSummarize in one line. JSON like {\"a\": 1} is left alone.\nArticle:\n{article}")
    b = backend(openai_server, prompt=str(f))
    b.summarize(make_item(2))
    content = openai_server.log[0].body["messages"][0]["content"]
    assert content.startswith("Title: Story 2\nSummarize in one line. JSON like {\"a\": 1}")
    assert b.prompt_text() == f.read_text()


def test_parse_retry_after_forms():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_grows_exponentially_with_jitter():
    p = RetryPolicy(backoff=1.0, max_backoff=8.0)
    for retry, (lo, hi) in enumerate([(0.5, 1), (1, 2), (2, 4), (4, 8), (4, 8)]):
        waits = [p.delay(retry) for _ in range(200)]
        assert lo <= min(waits) and max(waits) <= hi and len(set(waits)) > 100
    assert 2.0 <= p.delay(0, retry_after=2.0) <= 2.2


def test_model_usage_and_truncation_are_kept_and_cut_outputs_not_cached(openai_server, tmp_path):
    """[issue 9.2] the served model name and token usage are on the row; a reply cut at max_tokens
    (finish_reason=length) is kept, flagged and never cached (fails on main before this commit)."""
    cache = PredictionCache(tmp_path / "c.sqlite")
    openai_server.script([{"finish_reason": "length"}], title="Story 1")
    first = run(openai_server, tmp_path / "a", n=3, cache=cache)
    assert [p.finish_reason for p in first] == ["stop", "length", "stop"] and all(p.ok for p in first)
    assert {p.model for p in first} == {"tiny-llm-served"}
    assert all(p.usage.prompt_tokens > 20 and p.usage.completion_tokens > 5 for p in first)
    openai_server.log.clear()
    second = run(openai_server, tmp_path / "b", n=3, cache=cache)
    assert openai_server.titles() == ["Story 1"]  # only the cut one is asked again
    assert [p.cached for p in second] == [True, False, True]
    assert [(p.model, p.usage) for p in second] == [(p.model, p.usage) for p in first]  # kept through the cache


def test_timeout_bounds_the_whole_attempt_even_when_the_body_drips(openai_server, tmp_path):
    """[issue 9.14] a server that sends its body over 12 s fails the row at timeout=2 (fails on main
    before this commit: httpx's timeout is per read, so the row succeeded after 12 s)."""
    import time

    openai_server.script([{"drip": 12.0}])
    t0 = time.monotonic()
    (row,) = run(openai_server, tmp_path, n=1, timeout=2, max_retries=0)
    elapsed = time.monotonic() - t0
    assert row.error == "no complete reply within 2s (gave up after 1 attempt)"
    assert elapsed < 6, elapsed


def test_completion_without_content_is_a_row_error():
    from evalkit.backends.openai import completion_text

    with pytest.raises(BackendError, match="no choices"):
        completion_text({"choices": []})
    with pytest.raises(BackendError, match="empty completion .finish_reason=length"):
        completion_text({"choices": [{"message": {"content": ""}, "finish_reason": "length"}]})


def test_named_system_from_evalkit_toml_through_the_cli(openai_server, tmp_path, monkeypatch):
    from runner_fixtures import write_gold_jsonl
    from typer.testing import CliRunner

    from evalkit.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLM_KEY", "sk-toml-secret")
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(3))
    (tmp_path / "evalkit.toml").write_text(f'''
[systems.llama]
backend = "openai"
model = "llama3.2"
base_url = "{openai_server.base_url}"
temperature = 0.2
api_key_env = "LLM_KEY"
concurrency = 2
''')
    res = CliRunner().invoke(app, ["run", "--gold", "gold.jsonl", "-s", "llama", "-s", "cold=llama",
                                   "--metrics", "rouge", "--out", "out", "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(openai_server.log) == 3  # "cold" is the same system under another name: all cache hits
    assert {r.authorization for r in openai_server.log} == {"Bearer sk-toml-secret"}
    assert {r.body["temperature"] for r in openai_server.log} == {0.2}
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["system"], r["cached"]) for r in rows] == [("llama", False)] * 3 + [("cold", True)] * 3
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert '"api_key_env": "LLM_KEY"' in manifest
    for path in [*(tmp_path / "out").iterdir(), *(tmp_path / "cache").iterdir()]:
        assert b"sk-toml-secret" not in path.read_bytes()
    assert "sk-toml-secret" not in res.output
