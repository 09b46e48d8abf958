"""The ``command`` backend with real child processes: success, crash, timeout, empty output, batch."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from runner_fixtures import make_gold, make_item

from evalkit.backends.command import Command
from evalkit.backends.registry import build_backend, parse_system
from evalkit.cache import PredictionCache, identity_digest, output_identity
from evalkit.errors import BackendError, UsageError
from evalkit.records import SystemSpec
from evalkit.rundir import RunDir
from evalkit.runner import run_systems

PY = sys.executable


def script(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def cmd(**opts) -> Command:
    return Command(Command.Options(**opts))


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False


SUMMARIZER = """
    import os, sys
    text = sys.stdin.read()
    print(os.environ["EVALKIT_GOLD_ID"], "|", os.environ["EVALKIT_TITLE"], "|", text.split(". ")[0])
    print("Key Points:")
    print("- First: " + text.split(". ")[1])
"""


def test_article_on_stdin_summary_on_stdout(tmp_path):
    s = script(tmp_path, "summarize.py", SUMMARIZER)
    out = cmd(cmd=[PY, str(s)]).summarize(make_item(4))
    assert out.startswith("g004 | Story 4 | The council of town 4 approved a budget of 6 million dollars on Monday")
    assert out.splitlines()[-1].startswith("- First: Residents said")


def test_json_input_and_string_cmd_split_like_a_shell(tmp_path):
    s = script(tmp_path, "j.py", """
        import json, sys
        item = json.load(sys.stdin)
        print(sys.argv[1], item["id"], item["title"], len(item["article"]))
    """)
    b = build_backend(parse_system(f"command:cmd={PY} {s} 'two words',input=json"))
    assert b.summarize(make_item(1)) == f"two words g001 Story 1 {len(make_item(1).article)}"


def test_no_shell_unless_asked(tmp_path):
    s = script(tmp_path, "argv.py", "import sys; sys.stdin.read(); print(sys.argv[1])")
    assert cmd(cmd=[PY, str(s), "$HOME; echo pwned"]).summarize(make_item(0)) == "$HOME; echo pwned"
    piped = cmd(cmd=f"{PY} -c 'import sys; print(sys.stdin.read()[:10])' | tr a-z A-Z", shell=True)
    assert piped.summarize(make_item(0)) == "THE COUNCI"


def test_crash_reports_exit_code_and_stderr_tail(tmp_path):
    s = script(tmp_path, "crash.py", """
        import sys
        sys.stderr.write("loading model...\\n" + "x" * 2000 + "\\nRuntimeError: CUDA out of memory\\n")
        sys.exit(3)
    """)
    with pytest.raises(BackendError) as e:
        cmd(cmd=[PY, str(s)]).summarize(make_item(0))
    msg = str(e.value)
    assert msg.startswith("exit code 3; stderr: ...") and msg.endswith("RuntimeError: CUDA out of memory")
    assert len(msg) < 600


def test_timeout_kills_the_child_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    s = script(tmp_path, "hang.py", f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        sys.stderr.write("thinking...\\n"); sys.stderr.flush()
        time.sleep(60)
    """)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"^timed out after 1s \(process killed\); stderr: thinking\.\.\.$"):
        cmd(cmd=[PY, str(s)], timeout=1).summarize(make_item(0))
    assert time.monotonic() - t0 < 10
    parent, child = map(int, pids.read_text().split())
    deadline = time.monotonic() + 5
    while (alive(parent) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(parent) and not alive(child)


def test_empty_output_is_an_error(tmp_path):
    s = script(tmp_path, "empty.py", "import sys; sys.stdin.read(); print('   '); sys.stderr.write('no model loaded')")
    with pytest.raises(BackendError, match="^empty output on stdout; stderr: no model loaded$"):
        cmd(cmd=[PY, str(s)]).summarize(make_item(0))


def test_missing_program_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="program not found: 'no-such-summarizer'"):
        cmd(cmd="no-such-summarizer --fast").summarize(make_item(0))
    with pytest.raises(UsageError, match="cannot split"):
        build_backend(parse_system("command:cmd=python 'unclosed"))


BATCH = """
    import json, os, sys
    calls = os.environ.get("CALLS")
    rows = [json.loads(line) for line in sys.stdin]
    if calls:
        open(calls, "a").write(" ".join(r["id"] for r in rows) + "\\n")
    for r in reversed(rows):  # out of order on purpose: rows are matched by id
        if r["id"] == "g003":
            print(json.dumps({"id": r["id"], "error": "article too long"}))
        else:
            print(json.dumps({"id": r["id"], "summary": r["title"] + " in brief.\\n- A: " + r["article"][:20]}))
"""


def test_batch_mode_through_the_runner(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("CALLS", str(calls))
    s = script(tmp_path, "batch.py", BATCH)
    spec = SystemSpec(name="b", backend="command", options={"cmd": [PY, str(s)], "batch": True, "batch_size": 2})
    preds = run_systems(make_gold(5), [spec], RunDir.create(tmp_path / "run"), cache=None, progress=False)
    assert calls.read_text().splitlines() == ["g000 g001", "g002 g003", "g004"]
    assert [p.summary.split(" in brief")[0] if p.ok else p.error for p in preds] == [
        "Story 0", "Story 1", "Story 2", "article too long", "Story 4"]
    assert preds[0].key_points == ["A: The council of town"]


def test_batch_mode_with_files(tmp_path):
    s = script(tmp_path, "files.py", """
        import json, sys
        rows = [json.loads(l) for l in open(sys.argv[1])]
        with open(sys.argv[2], "w") as f:
            for r in rows:  # no ids: matched by order
                f.write(json.dumps({"summary": "S:" + r["title"]}) + "\\n")
    """)
    b = cmd(cmd=[PY, str(s), "{input}", "{output}"], batch=True, batch_size=4)
    items = [make_item(i) for i in range(3)]
    assert b.summarize_batch(items) == ["S:Story 0", "S:Story 1", "S:Story 2"]


def test_batch_output_missing_rows_and_bad_json(tmp_path):
    short = script(tmp_path, "short.py", "import sys; sys.stdin.read(); print('{\"id\": \"g000\", \"summary\": \"x\"}')")
    res = cmd(cmd=[PY, str(short)], batch=True).summarize_batch([make_item(0), make_item(1)])
    assert res[0] == "x" and str(res[1]) == "batch output has no row for 'g001'"
    bad = script(tmp_path, "bad.py", "import sys; sys.stdin.read(); print('not json')")
    with pytest.raises(BackendError, match="batch output line 1 is not JSON"):
        cmd(cmd=[PY, str(bad)], batch=True).summarize_batch([make_item(0)])


def test_concurrency_runs_processes_in_parallel(tmp_path):
    log = tmp_path / "times.txt"
    s = script(tmp_path, "slow.py", f"""
        import sys, time
        sys.stdin.read(); t0 = time.time(); time.sleep(0.4)
        open({str(log)!r}, "a").write(f"{{t0}} {{time.time()}}\\n")
        print("done")
    """)
    spec = SystemSpec(name="c", backend="command", options={"cmd": [PY, str(s)], "concurrency": 3})
    preds = run_systems(make_gold(6), [spec], RunDir.create(tmp_path / "run"), cache=None, progress=False)
    assert all(p.ok for p in preds)
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    peak = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert peak >= 2  # several processes were alive at the same moment


def test_cache_identity_follows_the_script_content(tmp_path):
    s = script(tmp_path, "v.py", "print('v1')")
    b = cmd(cmd=[PY, str(s)], timeout=5)
    before = identity_digest(output_identity(b))
    assert identity_digest(output_identity(cmd(cmd=[PY, str(s)], timeout=99, concurrency=4))) == before
    s.write_text("print('v2')")
    assert identity_digest(output_identity(b)) != before
    assert identity_digest(output_identity(cmd(cmd=[PY, str(s)], version="2"))) != identity_digest(output_identity(b))
    assert os.fspath(s) in output_identity(b)["files"]


def test_failed_rows_are_not_cached(tmp_path):
    s = script(tmp_path, "fail_one.py", """
        import os, sys
        sys.stdin.read()
        if os.environ["EVALKIT_GOLD_ID"] == "g001":
            sys.exit("nope")
        print("fine")
    """)
    cache = PredictionCache(tmp_path / "c.sqlite")
    spec = SystemSpec(name="c", backend="command", options={"cmd": [PY, str(s)]})
    preds = run_systems(make_gold(3), [spec], RunDir.create(tmp_path / "run"), cache=cache, progress=False)
    assert [p.error for p in preds] == [None, "exit code 1; stderr: nope", None]
    assert len(cache) == 2
    assert json.loads(preds[1].model_dump_json())["summary"] is None


def test_ctrl_c_kills_running_programs_and_keeps_finished_rows(tmp_path):
    """SIGINT to `evalkit run`: it stops promptly, its children die, finished rows stay."""
    import signal
    import subprocess

    from runner_fixtures import write_gold_jsonl

    pids = tmp_path / "pids"
    s = script(tmp_path, "slow.py", f"""
        import os, sys, time
        sys.stdin.read()
        if os.environ["EVALKIT_GOLD_ID"] != "g000":
            open({str(pids)!r}, "a").write(f"{{os.getpid()}}\\n")
            time.sleep(60)
        print("quick one")
    """)
    gold = write_gold_jsonl(tmp_path / "gold.jsonl", make_gold(4))
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([PY, "-m", "evalkit", "run", "--gold", str(gold), "-s",
                             f"c=command:cmd={PY} {s},concurrency=2,timeout=120", "--metrics", "rouge",
                             "--out", "out", "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(pids.read_text().split() if pids.exists() else []) < 2:
            time.sleep(0.05)
        children = [int(p) for p in pids.read_text().split()]
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert time.monotonic() - t0 < 10
        assert proc.returncode == 130 and "interrupted" in err
        time.sleep(0.2)
        assert not any(alive(pid) for pid in children)
    finally:  # never leave processes behind, whatever failed
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [(r["gold_id"], r["summary"]) for r in rows] == [("g000", "quick one")]


FLOOD = """
    import sys, time
    sys.stdin.read()
    block = b"log line that never ends\\n" * 40000   # ~1 MB
    for _ in range(400):                            # ~400 MB on stderr, then hang
        sys.stderr.buffer.write(block)
    sys.stderr.buffer.write(b"the last words")
    sys.stderr.flush()
    time.sleep(60)
"""


def test_a_stderr_flood_is_not_kept_in_memory_and_the_timeout_holds(tmp_path):
    """Only the tail of stderr is kept (communicate() kept all of it: a logging loop filled
    memory by gigabytes, and the 3 s timeout fired after 72 s). Fails before this commit."""
    import subprocess

    s = script(tmp_path, "flood.py", FLOOD)
    probe = textwrap.dedent(f"""
        import resource, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from runner_fixtures import make_item
        from evalkit.backends.command import Command
        from evalkit.errors import BackendError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.monotonic()
        try:
            Command(Command.Options(cmd=[sys.executable, {str(s)!r}], timeout=3)).summarize(make_item(0))
        except BackendError as e:
            print(repr(str(e)[:40] + str(e)[-20:]))
        print(time.monotonic() - t0)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    out = subprocess.run([PY, "-c", probe], capture_output=True, text=True, timeout=120)
    message, seconds, grew_mib = out.stdout.splitlines()
    assert message.startswith("'timed out after 3s (process killed); ") and message.endswith("the last words'")
    assert float(seconds) < 15
    assert int(grew_mib) < 100, f"evalkit took {grew_mib} MiB more while the program flooded stderr"


def test_a_stdout_flood_kills_the_program(tmp_path, monkeypatch):
    """A program writing without end is killed past the stdout limit (it filled memory until
    its timeout). Fails before this commit."""
    import evalkit.backends.command as command_module

    monkeypatch.setattr(command_module, "_STDOUT_LIMIT", 100_000)
    s = script(tmp_path, "spew.py", """
        import sys
        while True:
            sys.stdout.write("summary " * 1000)
    """)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"^wrote more than 100,000 bytes on stdout \(process killed\)$"):
        cmd(cmd=[PY, str(s)], timeout=60).summarize(make_item(0))
    assert time.monotonic() - t0 < 15


def test_stdout_that_is_not_utf8_fails_the_row(tmp_path):
    """cp1252 curly quotes were replaced by U+FFFD and the altered text scored (a quote
    vanished from the quote checks). Fails before this commit."""
    s = script(tmp_path, "cp1252.py", r"""
        import sys
        sys.stdin.read()
        sys.stdout.buffer.write("The minister said \u201cwe will win\u201d.".encode("cp1252"))
    """)
    with pytest.raises(BackendError, match=r"^stdout is not UTF-8 text \(byte 0x93 at offset 18\)"):
        cmd(cmd=[PY, str(s)]).summarize(make_item(0))
    batch = script(tmp_path, "batch.py", r"""
        import json, sys
        rows = [json.loads(line) for line in open(sys.argv[1])]
        with open(sys.argv[2], "wb") as f:
            for r in rows:
                f.write(json.dumps({"id": r["id"], "summary": "caf\u00e9"}, ensure_ascii=False).encode("latin-1") + b"\n")
    """)
    with pytest.raises(BackendError, match=r"^the \{output\} file is not UTF-8 text"):
        cmd(cmd=[PY, str(batch), "{input}", "{output}"], batch=True).summarize_batch([make_item(0)])


def test_a_program_that_reads_no_stdin_still_answers(tmp_path):
    s = script(tmp_path, "deaf.py", "print('a summary written without reading')")
    item = make_item(0).model_copy(update={"article": "word " * 400_000})  # 2 MB: past any pipe buffer
    assert cmd(cmd=[PY, str(s)]).summarize(item) == "a summary written without reading"


def test_a_missing_program_is_refused_before_anything_is_written(tmp_path):
    """`run --out R --overwrite -s command:cmd=typo` deleted R's complete run and left an
    incomplete one: the program was only looked up at the first call. Fails before this commit."""
    from typer.testing import CliRunner

    from evalkit.cli import app

    runner = CliRunner()
    out = tmp_path / "run"
    base = ["run", "-s", "lead", "--limit", "2", "--metrics", "rouge", "--no-cache", "--out", str(out)]
    assert runner.invoke(app, base).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for spec, said in (("command:cmd=no-such-summarizer --fast", "'no-such-summarizer' (not on PATH)"),
                       ("command:cmd=./missing.py,cwd=" + str(tmp_path), "'./missing.py' (in cwd"),
                       (f"command:cmd={tmp_path / 'gold'}", "not found")):
        r = runner.invoke(app, [*base, "--overwrite", "-s", spec])
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert r.exit_code == 2 and said in r.output, r.output
    (tmp_path / "notexec.sh").write_text("echo hi\n")
    with pytest.raises(UsageError, match="program is not executable: './notexec.sh'"):
        cmd(cmd="./notexec.sh", cwd=str(tmp_path))
    assert cmd(cmd="sh -c 'echo x'", shell=True)  # a shell line is left to the shell
