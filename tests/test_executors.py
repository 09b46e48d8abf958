"""Choosing an executor (no Ray started here: see test_ray_executor.py) and scoring in parts
that assemble into exactly what one call over the whole set returns."""

from __future__ import annotations

import socket

import pytest
from scaleout_fixtures import evalkit, write_gold

from evalkit.gold import load_gold
from evalkit.metrics import parse_metrics
from evalkit.records import Prediction
from evalkit.scoring import build_scorers, make_pairs, score_pairs
from evalkit.scoring_split import assemble, batches, combine, is_item_local, says_something, score_families


@pytest.mark.parametrize("args, message", [
    (["--executor", "dask"], "error: --executor 'dask': use one of local, ray"),
    (["--ray-address", "10.0.0.5:6379"], "error: --ray-address goes with --executor ray"),
    (["--executor", "ray", "--ray-address", "bogus"], "error: --ray-address 'bogus': use HOST:PORT"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:{port}"],
     "error: --executor ray: nothing answers at 127.0.0.1:{port} (Connection refused)"),
])
def test_a_bad_executor_choice_is_one_line_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as s:  # a port nothing listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code, output = evalkit("run", "-s", "lead", "--limit", "2", "--out", tmp_path / "out",
                               *[a.format(port=port) for a in args])
    assert code == 2, output
    assert output.strip().splitlines() == [output.strip()] and output.startswith(message.format(port=port)), output
    assert not (tmp_path / "out").exists()


def test_the_config_names_the_executor(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "evalkit.toml").write_text('[run]\nexecutor = "spark"\n')
    code, output = evalkit("run", "-s", "lead", "--limit", "2", "--config", tmp_path / "evalkit.toml",
                           "--out", tmp_path / "out")
    assert code == 2 and "--executor 'spark': use one of local, ray" in output, output
    (tmp_path / "evalkit.toml").write_text('[run]\nexecutor = "local"\n')
    code, output = evalkit("run", "-s", "lead", "--limit", "2", "--config", tmp_path / "evalkit.toml",
                           "--out", tmp_path / "out", "--quiet")
    assert code == 0, output


def test_item_local_families_scored_in_batches_assemble_into_the_whole_result(tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl", 12, foreign=True))
    predictions = [Prediction(gold_id=it.id, system=s, summary=it.article.split(". ")[0] + ".")
                   for s in ("a", "b") for it in gold.items]
    pairs = make_pairs(gold, predictions)
    scorers = build_scorers(parse_metrics("rouge,quotes,numbers,extractiveness"))
    assert all(is_item_local(s) for s in scorers)
    whole = score_pairs(pairs, scorers)
    parts = [score_families(pairs[a:b], scorers) for a, b in batches(len(pairs), 5)]
    families = [combine([batch[j] for batch in parts]) for j in range(len(scorers))]
    rouge = families[0]
    assert says_something(rouge)  # each batch with a Cyrillic/Greek text warns about its own count...
    assert rouge.warnings != [w for w in whole.warnings if w.startswith("rouge:")]  # ...which is not the run's
    families[0] = score_families(pairs, scorers[:1])[0]  # so the family is scored again over the whole set
    got = assemble(scorers, families)
    assert got.scores.equals(whole.scores) and got.scores.to_csv() == whole.scores.to_csv()
    assert got.details == whole.details and got.metrics == whole.metrics
    assert (got.notes, got.warnings) == (whole.notes, whole.warnings)


def test_model_metrics_are_not_item_local():
    scorers = build_scorers(parse_metrics("rouge,bertscore,keypoints"))
    assert [is_item_local(s) for s in scorers] == [True, False, False]
