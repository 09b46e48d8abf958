"""Secrets never leave the process (issue 9, items 3, 4 and 11).

One secret is planted each way a user can pass one: an inline option (on the command line,
so in argv too), an environment variable named by ``api_key_env``, the userinfo of a
``base_url``; the loopback server echoes the Authorization header back in a 401 body (with
the key straddling the 300-character cut of server messages) and in a 200 reply without
``choices``; a plug-in puts its key in an error at the 2,000-character cut of row errors and
in a summary. Then every command a user runs on the result (run, resume, score --run,
report, gate with JUnit and Markdown, baseline, compare) is run as a real subprocess, and
every file written and every byte printed is searched for each secret and for a fragment of it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai_server import FakeOpenAI
from runner_fixtures import key_hash, make_gold, read_calls, write_gold_jsonl

from evalkit.redact import redact_argv, redact_options, redact_text, register_options

TESTS = Path(__file__).resolve().parent
INLINE = "sk-INLINE-7f3a9c2e1b5d8a4f"
ENV = "sk-ENVVAR-0c9b8a7d6e5f4a3b"
URL = "sk-URLPASS-5e6d7c8b9a0f1e2d"
CONFIG = "sk-CONFIG-1a2b3c4d5e6f7a8b"
SECRETS = (INLINE, ENV, URL, CONFIG)


def fragments(secret: str) -> list[bytes]:
    """The secret, and its first and last 12 characters (what survives a cut made before redaction)."""
    out = [secret, secret[:12], secret[-12:]]
    return [s.encode() for s in out]


def evalkit(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_planted_secret_reaches_no_file_and_no_output(tmp_path):
    server = FakeOpenAI().start()
    try:
        _scenario(tmp_path, server)
    finally:
        server.stop()


def _scenario(tmp_path: Path, server: FakeOpenAI) -> None:
    env = {**os.environ, "MY_KEY": ENV, "EVALKIT_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(4))
    calls = tmp_path / "calls.jsonl"
    (tmp_path / "evalkit.toml").write_text(f"""
[systems.cfg]
backend = "runner_fixtures:Secretive"
api_key = "{CONFIG}"
calls_file = "{calls}"

[[gate.rule]]
metric = "errors"
max = 0

[[gate.rule]]
metric = "rouge1"
min = 0.99
""")
    pad = "z" * 254  # "... Bearer " then the key across the 300-character cut of server messages
    echo_401 = json.dumps({"error": {"message": pad + " invalid credentials: {authorization}"}})
    no_choices = json.dumps({"object": "chat.completion", "detail": "auth was {authorization}"})
    for _ in range(2):  # once for each openai system
        server.script([{"status": 401, "body": echo_401}], title="Story 0")
        server.script([{"status": 200, "body": no_choices}], title="Story 1")
    host = server.base_url.split("://", 1)[1]
    systems = [
        "-s", f"inl=runner_fixtures:Secretive:api_key={INLINE},calls_file={calls},fail_id=g002,echo_id=g003",
        "-s", f"envk=openai:model=m1,base_url={server.base_url},api_key_env=MY_KEY,max_retries=0",
        "-s", f"urlk=openai:model=m2,base_url=http://user:{URL}@{host},api_key_env=UNSET_KEY_VAR,max_retries=0",
        "-s", "cfg",
    ]
    outputs = []

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        res = evalkit(list(args), tmp_path, env)
        outputs.append(res)
        assert res.returncode == code, (args, res.stdout, res.stderr)
        return res

    run("run", "--gold", "gold.jsonl", *systems, "--metrics", "rouge,quotes", "--out", "run", "--quiet")
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    errors = {(r["system"], r["gold_id"]): r["error"] for r in rows if r["error"]}
    assert set(errors) == {("inl", "g002"), ("envk", "g000"), ("envk", "g001"), ("urlk", "g000"), ("urlk", "g001")}
    assert errors[("envk", "g000")].endswith("invalid credentials: Bearer ***")
    assert errors[("urlk", "g000")].endswith("invalid credentials: Basic ***")
    assert "auth was Basic ***" in errors[("urlk", "g001")] and "auth was Bearer ***" in errors[("envk", "g001")]
    assert errors[("inl", "g002")].endswith("x rejected key ***")  # redacted, then (not) cut
    assert "Debug: key=***" in next(r["summary"] for r in rows if (r["system"], r["gold_id"]) == ("inl", "g003"))
    # the servers saw the real keys
    assert {r.authorization for r in server.log if r.body["model"] == "m1"} == {f"Bearer {ENV}"}
    basic = "Basic " + base64.b64encode(f"user:{URL}".encode()).decode()
    assert {r.authorization for r in server.log if r.body["model"] == "m2"} == {basic}

    # resume: an inline secret must be given again (never taken from "***"); a config one is read again
    res = run("run", "--resume", "run", "--retry-failed", code=2)
    assert "system 'inl': option 'api_key' held a secret, which the run did not record; supply it again" in res.stderr
    res = run("run", "--resume", "run", "--retry-failed", "-s", systems[1], code=2)  # base_url userinfo too
    assert "system 'urlk': option 'base_url' held a secret" in res.stderr
    run("run", "--resume", "run", "--retry-failed", "-s", systems[1], "-s", systems[5])
    keys = {c["key"] for c in read_calls(calls)}
    assert keys == {key_hash(INLINE), key_hash(CONFIG)}  # the backends never ran with "***"
    assert key_hash("***") not in keys

    run("score", "--run", "run", "--metrics", "numbers")
    run("report", "run", "--html", "copy.html", "--markdown", "copy.md")
    run("gate", "run", "--junit", "gate.xml", "--markdown", "gate.md", code=1)
    run("baseline", "run", "--to", "baseline.json")
    run("compare", "run", "--json")
    run("score", "--gold", "gold.jsonl", "--predictions", "run/predictions.jsonl", "--out", "rescored", "-m", "rouge1")

    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert f"api_key={'***'}" in " ".join(manifest["argv"]) and "user:***@" not in json.dumps(manifest)
    assert any("http://***@" in a for a in manifest["argv"])
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "evalkit.toml"]  # the user's own file
    assert {"gate.xml", "gate.md", "copy.html", "report.html", "cache.sqlite", "baseline.json"} <= {p.name for p in written}
    for secret in SECRETS:
        for frag in fragments(secret):
            for path in written:
                assert frag not in path.read_bytes(), (secret, frag, path)
            for res in outputs:
                assert frag.decode() not in res.stdout + res.stderr, (secret, frag, res.args)
    basic_b64 = base64.b64encode(f"user:{URL}".encode())
    assert all(basic_b64 not in p.read_bytes() for p in written)


def test_redaction_rules():
    register_options({"api_key": "sk-unit-abcdef", "base_url": "https://bob:pw-unit-123456@h/v1", "k": 3})
    assert redact_options({"api_key": "sk-unit-abcdef", "hf_token": "x", "max_tokens": 5, "api_key_env": "K",
                           "base_url": "https://bob:pw-unit-123456@h/v1"}) == {
        "api_key": "***", "hf_token": "***", "max_tokens": 5, "api_key_env": "K", "base_url": "https://***@h/v1"}
    assert redact_argv(["-s", "a=mod:Cls:api_key=short,k=2", "-s", "x=openai:base_url=http://u:p@h,model=m"]) == [
        "-s", "a=mod:Cls:api_key=***,k=2", "-s", "x=openai:base_url=http://***@h,model=m"]
    # known secrets anywhere, redacted before a cut; a text without them is untouched
    text = "x" * 295 + "sk-unit-abcdef and pw-unit-123456"
    assert redact_text(text) == "x" * 295 + "*** and ***"
    assert redact_text("plain text, nothing to hide") == "plain text, nothing to hide"


@pytest.mark.parametrize("stderr", [b"token sk-unit-abcdef\n", b"..." + b"y" * 497 + b"sk-unit-abcdef"])
def test_command_stderr_tail_is_redacted_before_the_cut(stderr):
    from evalkit.backends.command import _tail

    register_options({"api_key": "sk-unit-abcdef"})
    assert "unit" not in _tail(stderr) and "***" in _tail(stderr)
