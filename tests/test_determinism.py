"""Issue 9, item 9 (determinism): `evalkit run` with the default metrics and BERTScore (a tiny
local BERT) in two processes with different PYTHONHASHSEED values writes byte-identical
scores.csv, summary.json, comparisons.json, details.jsonl and report.md (the manifest and
report differ only in the creation time, masked here, and summary.json and the reports in the
latencies they measured), and BERTScore embeds the very same batches in both.

The batches are what made BERTScore vary with the hash seed (a set sorted by word count alone:
ties landed in different batches, so a text was padded differently; with the packaged MiniLM
that moved scores by up to 6e-8). The tiny model is too small for padding to change its floats,
so the test records the batches themselves: on main before this commit they differ between the
two seeds (the test fails there); now their order is total (ties broken by the text).
Also `scipy.stats` resampling: batching (``batch=``) changes no number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scaleout_fixtures import report_without_latencies, without_latencies
from tiny_bert import build_tiny_bert

from evalkit import stats
from evalkit.gold import SHIPPED_GOLD

GOLD = SHIPPED_GOLD
SAME_BYTES = ("scores.csv", "summary.json", "comparisons.json", "details.jsonl")

DRIVER = """
import json, sys
import bert_score.utils as bu
_encode = bu.bert_encode
log = open(sys.argv[1], "w")
def logged(model, x, attention_mask, all_layers=False):
    log.write(json.dumps(x.tolist()) + "\\n")
    return _encode(model, x, attention_mask=attention_mask, all_layers=all_layers)
bu.bert_encode = logged
from evalkit.cli import main
sys.argv = ["evalkit"] + sys.argv[2:]
main()
"""


@pytest.mark.slow
def test_run_outputs_do_not_depend_on_pythonhashseed(tmp_path):
    model = build_tiny_bert(tmp_path / "tiny")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    outs = []
    for seed in ("1", "2"):
        cwd = tmp_path / f"seed{seed}"
        cwd.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("GITHUB_STEP_SUMMARY", None)
        res = subprocess.run(
            [sys.executable, str(driver), str(cwd / "batches.jsonl"), "run", "-g", str(GOLD), "--limit", "12",
             "--no-cache", "--quiet", "--metrics", f"rouge,quotes,numbers,bertscore:model={model},batch_size=4",
             "--out", "run"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        outs.append(cwd)
    a, b = outs
    batches = (a / "batches.jsonl").read_text()
    assert batches.count("\n") >= 10  # several batches, so ties can straddle a boundary
    assert batches == (b / "batches.jsonl").read_text(), "BERTScore batches depend on PYTHONHASHSEED"
    for name in SAME_BYTES:  # but the latencies summary.json measured (see without_latencies)
        assert (without_latencies(name, (a / "run" / name).read_bytes())
                == without_latencies(name, (b / "run" / name).read_bytes())), name
    man_a, man_b = (json.loads((d / "run" / "manifest.json").read_text()) for d in (a, b))
    created = man_a.pop("created"), man_b.pop("created")
    assert man_a == man_b
    for name in ("report.md", "report.html"):
        text_a = report_without_latencies((a / "run" / name).read_text().replace(created[0], "<created>"))
        text_b = report_without_latencies((b / "run" / name).read_text().replace(created[1], "<created>"))
        assert text_a == text_b, name
    assert json.loads((a / "run" / "comparisons.json").read_text())["metrics"]  # really compared something


def test_resampling_in_batches_changes_no_number(monkeypatch):
    """scipy's ``batch=`` bounds memory; the p-value and CIs are the same with and without it."""
    rng = np.random.default_rng(3)
    a = rng.random(301)
    b = a + rng.normal(0.01, 0.1, 301)
    whole = stats.paired_test(a, b, n_resamples=2999, rng=stats.stable_rng(5, "x"))
    ci_whole = stats.bootstrap_ci(b, n_resamples=2999, rng=stats.stable_rng(5, "y"))
    assert stats.batch_size(301, 2999) == 2999  # small n: one batch
    monkeypatch.setattr(stats, "BATCH_ELEMENTS", 301 * 7)  # 7 resamples per batch: hundreds of batches
    assert stats.batch_size(301, 2999) == 7 and stats.batch_size(10 ** 9, 2999) == 1
    batched = stats.paired_test(a, b, n_resamples=2999, rng=stats.stable_rng(5, "x"))
    assert batched == whole and 0 < whole.p_value < 1
    assert stats.bootstrap_ci(b, n_resamples=2999, rng=stats.stable_rng(5, "y")) == ci_whole
