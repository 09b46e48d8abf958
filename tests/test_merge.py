"""``evalkit merge``: shard runs merged into the run made in one piece, byte for byte, and every
kind of shard set that does not belong together refused with one line naming the difference.

Every run here is real (the CLI in this process, real backends and metrics, --no-cache so
that no row is counted as cached in one run and not in the other). A run's id is its
directory's name, so the one-piece run and the merged run are both written to a directory
called ``run``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scaleout_fixtures import differing, evalkit, write_gold

from evalkit.gold import SHIPPED_GOLD

SYSTEMS = ("-s", "lead", "-s", "textrank")
METRICS = "rouge,quotes,numbers,extractiveness"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """The shipped gold set: three shards, the one-piece run, and shards that do not belong to them."""
    root = tmp_path_factory.mktemp("merge")
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
    common = ("--metrics", METRICS, "--no-cache", "--quiet")

    def run(out: str, *args: object) -> None:
        code, output = evalkit("run", *SYSTEMS, *common, "--out", root / out, *args)
        assert code == 0, output

    for i in range(3):
        run(f"s{i}", "--shard", f"{i}/3")
    run("one/run")
    other_gold = write_gold(root / "other.jsonl", 44, change=json.loads(SHIPPED_GOLD.read_text().splitlines()[5])["id"])
    run("other_gold", "--shard", "2/3", "--gold", other_gold)
    code, output = evalkit("run", "-s", "lead", "-s", "textrank", "--metrics", "rouge:tokenizer=unicode,quotes,numbers,"
                           "extractiveness", "--no-cache", "--quiet", "--shard", "2/3", "--out", root / "unicode")
    assert code == 0, output
    code, output = evalkit("run", "-s", "lead=lead:k=2", "-s", "textrank", *common, "--shard", "2/3", "--out", root / "k2")
    assert code == 0, output
    run("half", "--shard", "1/2")
    run("sample", "--sample", "20", "--seed", "0")
    shutil.copytree(root / "s1", root / "s1_copy")
    shutil.copytree(root / "s2", root / "s2_unfinished")
    manifest = json.loads((root / "s2_unfinished" / "manifest.json").read_text())
    (root / "s2_unfinished" / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    yield root
    mp.undo()


def test_three_shards_merge_into_the_one_piece_run_byte_for_byte(runs, tmp_path):
    merged = tmp_path / "merged" / "run"
    code, merge_output = evalkit("merge", runs / "s2", runs / "s0", runs / "s1", "--out", merged)  # any order
    assert code == 0, merge_output
    one = runs / "one" / "run"
    assert differing(one, merged) == []
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["selection"] is None and manifest["complete"] is True
    assert manifest["gold"] == json.loads((one / "manifest.json").read_text())["gold"]  # the whole gold set
    assert [(s["shard_index"], s["shard_count"]) for s in manifest["merged_from"]] == [(0, 3), (1, 3), (2, 3)]
    assert sum(s["items"] for s in manifest["merged_from"]) == 44
    rows = [json.loads(line) for line in (merged / "predictions.jsonl").read_text().splitlines()]
    assert [(r["system"], r["gold_id"]) for r in rows] == [(r["system"], r["gold_id"]) for r in
                                                           map(json.loads, (one / "predictions.jsonl").read_text().splitlines())]

    # every judging command takes it like any run, and says the same as of the one-piece run
    other = runs / "s0"  # a run on part of the gold set: compare needs --force
    for args in (["compare", "{run}", "--json"], ["compare", "{run}", other, "--force", "--json"],
                 ["baseline", "{run}", "--to", tmp_path / "b.json", "--json"]):
        said = [evalkit(*[str(a).format(run=r) for a in args]) for r in (one, merged)]
        assert said[0] == said[1] and said[0][0] == 0, said[0][1]
    (tmp_path / "gate.toml").write_text(f'[gate]\nbaseline = "{tmp_path / "b.json"}"\nsignificance = 0.05\n'
                                        '[[gate.rule]]\nmetric = "rougeLsum"\nmin = 0.2\nmax_drop = 0.01\n')
    gates = [evalkit("gate", r, "--config", tmp_path / "gate.toml", "--json") for r in (one, merged)]
    assert gates[0] == gates[1] and gates[0][0] == 0, gates[0][1]
    code, output = evalkit("report", merged, "--html", tmp_path / "r.html")
    assert code == 0 and (tmp_path / "r.html").stat().st_size > 10_000, output

    # the reports say where the run came from; the one-piece run's do not
    said = "merged from 3 shards (0/3, 1/3, 2/3) by evalkit merge"
    assert said in (tmp_path / "r.html").read_text() and said in (merged / "report.md").read_text()
    assert "merged from" not in (one / "report.md").read_text()
    assert said in " ".join(merge_output.split()), merge_output  # under the leaderboard merge prints


@pytest.mark.parametrize("shards, message", [
    (["s0", "s1"], "cannot merge: shard 2/3 missing (given: 0/3, 1/3)"),
    (["s0", "s1", "s1_copy", "s2"], "cannot merge: shard 1/3 is given twice ({s1} and {s1_copy})"),
    (["s0", "s1", "s1", "s2"], "cannot merge: {s1} is given twice"),
    (["s0", "s1", "other_gold"], "cannot merge: {s0} and {other_gold} were run on different gold sets (news-v1 sha256:"),
    (["s0", "s1", "unicode"], "cannot merge: metric 'rouge' is configured differently in {s0} and {unicode} "
                              "(config.tokenizer: 'default' vs 'unicode')"),
    (["s0", "s1", "k2"], "cannot merge: system 'lead' is configured differently in {s0} and {k2} (options.k: 3 vs 2)"),
    (["s0", "s1", "s2_unfinished"], "cannot merge: run {s2_unfinished} is incomplete"),
    (["s0", "half"], "cannot merge: {s0} is shard 0/3 but {half} is shard 1/2"),
    (["s0", "s1", "sample"], "the shards overlap (they must partition the gold set)"),
])
def test_shards_that_do_not_belong_together_are_refused_in_one_line(runs, tmp_path, shards, message):
    out = tmp_path / "merged"
    code, output = evalkit("merge", *[runs / s for s in shards], "--out", out)
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1, output
    names = {s: runs / s for s in ("s0", "s1", "s1_copy", "other_gold", "unicode", "k2", "s2_unfinished", "half")}
    assert message.format(**names) in output, output
    assert not out.exists()  # refused before anything was written


def test_a_shard_of_another_gold_file_is_named_when_the_gold_file_is_given(runs, tmp_path):
    code, output = evalkit("merge", runs / "s0", runs / "s1", runs / "s2", "--gold", tmp_path / "nowhere.jsonl",
                           "--out", tmp_path / "m")
    assert code == 2 and "cannot merge: the gold set the shards were run on cannot be loaded" in output, output
    code, output = evalkit("merge", runs / "s0", runs / "s1", runs / "s2", "--gold", runs / "other.jsonl",
                           "--out", tmp_path / "m")
    assert code == 2 and f"cannot merge: gold file {runs / 'other.jsonl'} is not the gold set the shards" in output
    code, output = evalkit("merge", runs / "s0", runs / "s1", runs / "s2", "--out", runs / "s1", "--overwrite")
    assert code == 2 and "is one of the shards being merged" in output, output
    assert (runs / "s1" / "manifest.json").is_file()


def test_batch_statements_and_model_metrics_are_computed_over_the_whole_set(tmp_path, monkeypatch):
    """ROUGE's warning about dropped letters counts texts of the batch it scored, BERTScore's note counts
    the texts it embedded, and an encoder's numbers depend in their last bits on what shares its padded
    batch: the merged run computes those again over the whole set, so it still equals the one-piece run."""
    from tiny_bert import build_tiny_bert

    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    gold = write_gold(tmp_path / "gold.jsonl", 9, foreign=True)
    model = build_tiny_bert(tmp_path / "tiny")
    metrics = f"rouge,numbers,bertscore:model={model},keypoints:model={model}"
    args = ("-s", "lead", "-s", "textrank", "--gold", gold, "--metrics", metrics, "--no-cache", "--quiet")
    for i in range(2):
        code, output = evalkit("run", *args, "--shard", f"{i}/2", "--out", tmp_path / f"s{i}")
        assert code == 0, output
    code, output = evalkit("run", *args, "--out", tmp_path / "one" / "run")
    assert code == 0, output
    notes = json.loads((tmp_path / "one" / "run" / "summary.json").read_text())["notes"]
    assert any(n.startswith("rouge: the default tokenizer dropped") for n in notes)
    assert any(n.startswith("bertscore:") for n in notes)
    shard_notes = [json.loads((tmp_path / f"s{i}" / "summary.json").read_text())["notes"] for i in range(2)]
    assert not any(set(s) & set(notes) for s in shard_notes)  # each shard states its own counts
    code, output = evalkit("merge", tmp_path / "s0", tmp_path / "s1", "--out", tmp_path / "merged" / "run")
    assert code == 0, output
    assert differing(tmp_path / "one" / "run", tmp_path / "merged" / "run") == []
