"""docs/ci.md works as written: the GitHub Actions workflow it shows (docs/examples/evalkit-gate.yml,
embedded verbatim in the page) installs the new distribution name, caches pip and .evalkit/, hands
the API key from the repository secrets to the run step, runs `evalkit run` + `evalkit gate`, and
uploads report.html. Every `evalkit ...` command in it is checked against the real click commands,
then run as written (console script, in a fresh folder laid out like a user's repository, with the
example evalkit.toml pointed at a loopback OpenAI-compatible server and $GITHUB_STEP_SUMMARY set).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from openai_server import FakeOpenAI

import evalkit
from evalkit.cli import app
from evalkit.extras import DIST

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "examples" / "evalkit-gate.yml"
EXAMPLE_CONFIG = ROOT / "docs" / "examples" / "evalkit.toml"
EVALKIT = Path(sys.executable).with_name("evalkit")  # the console script pip installed


def load_workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps() -> list[dict[str, Any]]:
    jobs = load_workflow()["jobs"]
    assert list(jobs) == ["gate"]
    return jobs["gate"]["steps"]


def step_using(action: str) -> dict[str, Any]:
    found = [s for s in steps() if str(s.get("uses", "")).startswith(action + "@")]
    assert len(found) == 1, f"one step uses {action}"
    return found[0]


def shell_commands(script: str) -> list[list[str]]:
    """The commands of a `run:` script, split the way bash splits them (lines, &&, ;)."""
    commands: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for w in words:
            if w in ("&&", ";", "||"):
                commands.append(current)
                current = []
            else:
                current.append(w)
        commands.append(current)
    return [c for c in commands if c]


def evalkit_commands() -> list[tuple[dict[str, Any], list[str]]]:
    return [(s, c) for s in steps() if "run" in s for c in shell_commands(s["run"]) if c[0] == "evalkit"]


def test_doc_embeds_the_example_workflow_verbatim():
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert WORKFLOW.read_text(encoding="utf-8").strip() in doc
    assert EXAMPLE_CONFIG.read_text(encoding="utf-8").strip() in doc


def test_installs_the_new_distribution_name_pinned_to_this_version():
    installs = [c for s in steps() if "run" in s for c in shell_commands(s["run"]) if c[:2] == ["pip", "install"]]
    assert installs == [["pip", "install", f"{DIST}=={evalkit.__version__}"]]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == DIST


def test_caches_pip_and_the_prediction_cache():
    setup = step_using("actions/setup-python")["with"]
    assert setup["cache"] == "pip"
    # setup-python's pip cache needs a file to hash: the workflow itself, which holds the install line
    assert setup["cache-dependency-path"] == ".github/workflows/evalkit-gate.yml"
    cache = step_using("actions/cache")["with"]
    assert cache["path"] == ".evalkit"
    assert cache["key"].startswith("evalkit-") and "${{ github.sha }}" in cache["key"]
    assert cache["key"].startswith(cache["restore-keys"])  # a new key per commit, restoring the latest
    names = [s.get("uses", s.get("run", "")) for s in steps()]
    assert names.index(step_using("actions/cache")["uses"]) < next(i for i, s in enumerate(steps())
                                                                    if "evalkit run" in s.get("run", ""))


def test_api_key_comes_from_repository_secrets_through_api_key_env():
    (run_step,) = [s for s, c in evalkit_commands() if c[1] == "run"]
    assert run_step["env"] == {"OPENAI_API_KEY": "${{ secrets.OPENAI_API_KEY }}"}
    config = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    envs = {spec.get("api_key_env") for spec in config["systems"].values() if spec["backend"] == "openai"}
    assert envs == {"OPENAI_API_KEY"}
    assert "secrets." not in "".join(str(s.get("run", "")) for s in steps())  # never on a command line


def test_uploads_the_html_report_even_when_the_gate_fails():
    upload = step_using("actions/upload-artifact")
    assert upload["if"] == "always()"
    (run_cmd,) = [c for _, c in evalkit_commands() if c[1] == "run"]
    out = run_cmd[run_cmd.index("--out") + 1]
    assert f"{out}/report.html" in upload["with"]["path"].split()


def test_every_evalkit_command_exists_with_its_options():
    root = typer.main.get_command(app)  # the click command tree `evalkit` parses with (typer vendors click)
    seen = []
    for _, argv in evalkit_commands():
        cmd: Any = root
        args = argv[1:]
        while hasattr(cmd, "get_command"):  # a group: descend into the named subcommand
            sub = cmd.get_command(root.make_context("evalkit", ["--help"], resilient_parsing=True), args[0])
            assert sub is not None, f"{argv}: no command {args[0]!r}"
            cmd, args = sub, args[1:]
        options = {o for p in cmd.params if p.param_type_name == "option" for o in [*p.opts, *p.secondary_opts]}
        for word in args:
            if word.startswith("-"):
                assert word.split("=")[0] in options, f"{argv}: `evalkit {cmd.name}` has no option {word}"
        cmd.make_context(cmd.name, list(args))  # parses: arity, types, no unknown option or extra argument
        seen.append(cmd.name)
    assert seen == ["run", "gate"]


class NewsDesk(FakeOpenAI):
    """Answers with the article's first two sentences, verbatim (faithful quotes and figures)."""

    @staticmethod
    def completion(body: Any) -> str:
        article = body["messages"][-1]["content"].split("Article:\n", 1)[-1].strip()
        first, second = re.split(r"(?<=[.!?])\s+", article, maxsplit=2)[:2]
        return f"{first} {second}\n\nKey Points:\n- {first}\n- {second}"


@pytest.fixture()
def news_desk():
    server = NewsDesk().start()
    try:
        yield server
    finally:
        server.stop()


def run_step(script: str, cwd: Path, env: dict[str, str]) -> None:
    for argv in shell_commands(script):
        assert argv[0] == "evalkit"
        res = subprocess.run([str(EVALKIT), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"{argv} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"


def test_the_workflow_steps_run_as_written(tmp_path, news_desk):
    assert EVALKIT.is_file(), f"no console script at {EVALKIT}"
    repo = tmp_path / "repo"
    repo.mkdir()
    config = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert 'base_url = "https://api.openai.com/v1"' in config
    (repo / "evalkit.toml").write_text(config.replace("https://api.openai.com/v1", news_desk.base_url), encoding="utf-8")
    summary = tmp_path / "step-summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "EVALKIT_", "OPENAI_"))}
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    key = "sk-from-repository-secrets"

    # once, on main: the same run, promoted to the committed baseline
    env_main = {**env, "OPENAI_API_KEY": key}
    subprocess.run([str(EVALKIT), "run", "--quiet", "--out", "main-run"], cwd=repo, env=env_main, check=True,
                   capture_output=True, timeout=600)
    subprocess.run([str(EVALKIT), "baseline", "main-run", "--to", "reports/baseline.json"], cwd=repo, env=env_main,
                   check=True, capture_output=True, timeout=600)
    shutil.rmtree(repo / "main-run")
    requests_on_main = len(news_desk.log)
    assert requests_on_main == 44

    # the pull request's job: every evalkit step exactly as the workflow runs it
    for step in steps():
        if "evalkit" not in str(step.get("run", "")).split()[:1]:
            continue
        step_env = {k: v.replace("${{ secrets.OPENAI_API_KEY }}", key) for k, v in step.get("env", {}).items()}
        run_step(step["run"], repo, {**env, **step_env})

    assert (repo / "run" / "report.html").is_file()  # the uploaded artifact
    assert (repo / "gate.md").is_file() and (repo / "gate.xml").is_file()
    posted = summary.read_text(encoding="utf-8")
    assert posted.strip() == (repo / "gate.md").read_text(encoding="utf-8").strip()
    assert "passed" in posted
    # the .evalkit/ cache the workflow keeps between runs: the pull request's run was served from it
    assert (repo / ".evalkit" / "cache.sqlite").is_file()
    assert len(news_desk.log) == requests_on_main
    assert {r.authorization for r in news_desk.log} == {f"Bearer {key}"}
    for path in (repo / "run").iterdir():
        assert key.encode() not in path.read_bytes()
