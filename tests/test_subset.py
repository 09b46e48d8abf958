"""Runs on part of a gold set: --limit, a seeded --sample, --shard I/N; the manifest records the
full gold hash and the item ids, and --resume / score --run rebuild exactly that part."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import UsageError
from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.records import GoldSet
from evalkit.subset import describe, parse_shard, reselect, select, shard_ids

runner = CliRunner()


@pytest.fixture(scope="module")
def gold() -> GoldSet:
    return load_gold(SHIPPED_GOLD)


def shuffled(gold: GoldSet, seed: int) -> GoldSet:
    items = list(gold.items)
    random.Random(seed).shuffle(items)
    return GoldSet(name=gold.name, source=gold.source, items=items)


def test_sample_is_seeded_order_independent_and_nested(gold):
    part, sel = select(gold, sample=10, seed=3)
    assert sel is not None and sel.method == "sample" and len(part.items) == 10
    assert (sel.full_hash, sel.full_items, sel.seed) == (gold.hash, 44, 3)
    assert sel.item_ids == [it.id for it in part.items]
    assert [it.id for it in part.items] == [it.id for it in gold.items if it.id in set(sel.item_ids)]  # file order
    again, _ = select(shuffled(gold, 1), sample=10, seed=3)
    assert {it.id for it in again.items} == set(sel.item_ids)  # the file's order does not matter
    bigger, _ = select(gold, sample=20, seed=3)
    assert set(sel.item_ids) <= {it.id for it in bigger.items}  # nested
    other, _ = select(gold, sample=10, seed=4)
    assert {it.id for it in other.items} != set(sel.item_ids)  # the seed does


@pytest.mark.parametrize("n", [1, 2, 3, 5, 44, 50])
def test_shards_partition_the_gold_set_balanced_and_order_independent(gold, n):
    shards = shard_ids(gold, n)
    flat = [i for s in shards for i in s]
    assert sorted(flat) == sorted(it.id for it in gold.items) and len(flat) == len(set(flat))
    assert [sorted(s) for s in shard_ids(shuffled(gold, 7), n)] == [sorted(s) for s in shards]
    chars = {it.id: len(it.article) for it in gold.items}
    loads = [sum(chars[i] for i in s) for s in shards]
    if n <= len(gold.items):
        # greedy longest-first: no shard exceeds another by more than the longest article
        assert max(loads) - min(loads) <= max(chars.values())
    for i in range(n):
        part, sel = select(gold, shard=f"{i}/{n}")
        assert sel is not None and (sel.shard_index, sel.shard_count) == (i, n)
        assert sorted(sel.item_ids) == sorted(shards[i])


def test_selections_are_refused_when_combined_or_malformed(gold):
    with pytest.raises(UsageError, match="cannot be combined"):
        select(gold, limit=3, sample=3)
    for bad in ("3/3", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(UsageError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(UsageError, match="--sample must be at least 1"):
        select(gold, sample=0)


def test_reselect_rebuilds_the_part_and_refuses_a_changed_gold_set(gold):
    part, sel = select(gold, sample=7, seed=0)
    assert reselect(shuffled(gold, 2), sel).hash == part.hash
    changed = GoldSet(name=gold.name, source=gold.source,
                      items=[gold.items[0].model_copy(update={"article": "Changed. " + gold.items[0].article}),
                             *gold.items[1:]])
    with pytest.raises(UsageError, match="changed since the run was made"):
        reselect(changed, sel)
    assert describe(sel) == "7 of 44 items (seeded sample, seed 0)"
    assert describe(None) is None


def test_sample_run_records_the_part_and_resumes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "-s", "lead", "--sample", "6", "--seed", "5", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    sel = manifest["selection"]
    assert sel["method"] == "sample" and sel["full_items"] == 44 and len(sel["item_ids"]) == 6
    assert manifest["gold"]["items"] == 6 and manifest["gold"]["hash"] != sel["full_hash"]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["gold_id"] for r in rows] == sel["item_ids"]
    # drop the last row: --resume must redo exactly it, from the recorded part of the gold set
    (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:-1]))
    res = runner.invoke(app, ["run", "--resume", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    again = [json.loads(line)["gold_id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(again) == sorted(sel["item_ids"])
    html = (out / "report.html").read_text()
    assert "could not be loaded" not in html and "has changed since this run" not in html


def test_resume_refuses_a_new_selection(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert runner.invoke(app, ["run", "-s", "lead", "--shard", "0/4", "--out", str(out), "--quiet"]).exit_code == 0
    res = runner.invoke(app, ["run", "--resume", str(out), "--shard", "1/4"])
    assert res.exit_code == 2 and "--resume continues the run" in res.output
