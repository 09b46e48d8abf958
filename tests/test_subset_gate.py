"""A run on part of the gold set is gated and compared against a run (or baseline) on the whole
set, on the items both hold, and says so in every output (issue 15).

The gate test is the one the issue asks for: ``evalkit run --sample 10`` from an empty folder,
gated with this repository's own evalkit.toml against the committed full reports/baseline.json
(44 items): it passes; a degraded run (lead cut to one sentence) fails with exit 1; both name
"10 of 44 items". On main before this commit both were refused (exit 2: "gold sets differ").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scaleout_fixtures import evalkit, write_gold

ROOT = Path(__file__).resolve().parents[1]
PART = "10 of 44 items (seeded sample, seed 0)"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An empty folder holding this repository's evalkit.toml and committed baseline, and two runs
    on a seeded sample of 10 items: the baselines as they are, and lead cut to one sentence."""
    root = tmp_path_factory.mktemp("subset-gate")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
    mp.delenv("GITHUB_STEP_SUMMARY", raising=False)
    shutil.copy(ROOT / "evalkit.toml", root / "evalkit.toml")
    (root / "reports").mkdir()
    shutil.copy(ROOT / "reports" / "baseline.json", root / "reports" / "baseline.json")
    code, output = evalkit("run", "--quiet", "--no-cache", "--sample", "10", "--out", "ok")
    assert code == 0, output
    code, output = evalkit("run", "--quiet", "--no-cache", "--sample", "10", "-s", "lead=lead:k=1", "-s", "textrank",
                           "-s", "oracle", "--out", "worse")
    assert code == 0, output
    code, output = evalkit("run", "--quiet", "--no-cache", "--out", "full")
    assert code == 0, output
    yield root
    mp.undo()


def test_a_sample_run_gated_against_the_full_baseline_passes_and_says_on_which_items(folder):
    assert json.loads((folder / "reports" / "baseline.json").read_text())["gold"]["items"] == 44
    code, output = evalkit("gate", "ok", "--markdown", "gate.md", "--junit", "gate.xml")
    assert code == 0, output
    assert f"run ok holds {PART}" in " ".join(output.split())
    assert "gate passed" in output
    assert f"run ok holds {PART}" in (folder / "gate.md").read_text()
    assert PART in (folder / "gate.xml").read_text()
    code, output = evalkit("gate", "ok", "--json")
    report = json.loads(output)
    assert code == 0 and PART in report["scope"]
    drops = [c for c in report["checks"] if c["kind"] == "max_drop"]
    assert drops and {c["n"] for c in drops} == {10}  # paired on the 10 items the run holds


def test_a_degraded_sample_run_fails_the_gate_and_says_on_which_items(folder):
    code, output = evalkit("gate", "worse", "--markdown", "gate-worse.md")
    assert code == 1, output
    flat = " ".join(output.split())
    assert f"run worse holds {PART}" in flat and "gate failed" in flat
    assert "lead: rougeLsum" in flat and "dropped more than allowed, significant" in flat
    assert f"run worse holds {PART}" in (folder / "gate-worse.md").read_text()


def test_compare_a_sample_run_with_the_full_run_on_the_shared_items(folder):
    code, output = evalkit("compare", "full", "worse", "-m", "rougeLsum")
    assert code == 0, output
    flat = " ".join(output.split())
    assert f"run B (worse) holds {PART}: compared on those items" in flat
    assert "refusing" not in flat and "compared despite" not in flat
    code, output = evalkit("compare", "full", "worse", "-m", "rougeLsum", "--json")
    result = json.loads(output)
    assert PART in result["scope"] and result["warnings"] == []
    lead = next(p for p in result["pairs"] if p["system_a"] == "lead")["metrics"][0]
    assert lead["n"] == 10 and lead["outcome"] == "a_better"


def test_a_part_of_another_gold_set_is_still_refused(folder):
    other = write_gold(folder / "other.jsonl", 44, change=json.loads(
        (ROOT / "evalkit" / "data" / "gold" / "news-v1.jsonl").read_text().splitlines()[3])["id"])
    code, output = evalkit("run", "--quiet", "--no-cache", "--gold", other, "--sample", "10", "--out", "other")
    assert code == 0, output
    code, output = evalkit("gate", "other")
    assert code == 2 and "gold sets differ" in output
    code, output = evalkit("compare", "full", "other")
    assert code == 2 and "refusing to compare: gold sets differ" in output


def test_a_part_sharing_no_item_with_a_partial_baseline_is_refused_not_passed(folder):
    """Two seeded samples with no item in common: every drop check would be n/a and the gate
    passed having checked nothing (fails on main before this commit: exit 0, "gate passed")."""
    code, output = evalkit("run", "--quiet", "--no-cache", "--sample", "3", "--seed", "0", "--out", "part-a")
    assert code == 0, output
    ids_a = set(json.loads((folder / "part-a" / "manifest.json").read_text())["selection"]["item_ids"])
    seed = next(s for s in range(1, 50) if not ids_a & set(_sample_ids(3, s)))
    code, output = evalkit("run", "--quiet", "--no-cache", "--sample", "3", "--seed", str(seed), "--out", "part-b")
    assert code == 0, output
    code, output = evalkit("baseline", "part-a", "--to", "part-a.json")
    assert code == 0, output
    code, output = evalkit("gate", "part-b", "--baseline", "part-a.json")
    flat = " ".join(output.split())
    assert code == 2 and "cannot compare with the baseline" in flat and "compared on the 0 items both hold" in flat, output
    assert "gate passed" not in output


def _sample_ids(n: int, seed: int) -> list[str]:
    from evalkit.gold import load_gold
    from evalkit.subset import select

    _, selection = select(load_gold(ROOT / "evalkit" / "data" / "gold" / "news-v1.jsonl"), sample=n, seed=seed)
    assert selection is not None
    return list(selection.item_ids)
