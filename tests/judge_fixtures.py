"""Run directories built from synthetic per-item scores, for the compare / gate / report tests.

They are real run directories (manifest.json, predictions.jsonl, scores.parquet/csv,
summary.json written through RunDir), so the tests exercise the same reading path as a run
made by ``evalkit run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.comparisons import write_comparisons
from evalkit.metrics.base import Metric
from evalkit.records import GoldRef, Manifest, MetricSpec, Prediction, SystemSpec
from evalkit.rundir import RunDir
from evalkit.stats import summarize_run

GOLD_HASH = "sha256:" + "ab" * 32
ROUGE_CONFIG = {"tokenizer": "default", "use_stemmer": True, "lsum_split": "pysbd"}
N_RESAMPLES = 999


class LowerIsBetter(Metric):
    """A metric family whose output is better when lower (found via ``judge_fixtures:LowerIsBetter``)."""

    name = "judge_fixtures:LowerIsBetter"
    directions = {"hallucination_rate": "lower"}

    def outputs(self) -> list[str]:
        return ["hallucination_rate"]


#: outputs the fixtures put in an "extractiveness" spec with direction none (descriptive)
DESCRIPTIVE = ("summary_words", "coverage", "density", "compression")


def make_run(path: Path, values: Mapping[str, Mapping[str, Sequence[float]]], *, run_id: Optional[str] = None,
             gold_hash: str = GOLD_HASH, gold_name: str = "synthetic", rouge_config: Optional[dict] = None,
             failed: Mapping[str, Sequence[int]] = {}, seed: int = 0, errors: Mapping[str, str | Sequence[str]] = {},
             directions: bool = True, comparisons: bool = True, min_items: int = 10,
             n_resamples: int = N_RESAMPLES) -> RunDir:
    """``values``: system -> metric -> per-item values (NaN = not applicable). Items are d000, d001, ...
    ``failed``: system -> item indexes whose prediction failed (their scores are not written), with
    the message ``errors[system]`` (default "backend timed out"; a list: one message per failed item).
    ``directions=False`` writes metric specs without directions and ``comparisons=False`` no
    comparisons.json: a run directory as an older evalkit wrote it."""
    run = RunDir.create(path)
    n_items = max(len(v) for per_metric in values.values() for v in per_metric.values())
    gold = GoldRef(name=gold_name, source=f"{gold_name}.jsonl", hash=gold_hash, items=n_items)
    metric_names = list(dict.fromkeys(m for per_metric in values.values() for m in per_metric))
    rouge_outputs = [m for m in metric_names if m.startswith("rouge")]
    descriptive = [m for m in metric_names if m in DESCRIPTIVE]
    other = [m for m in metric_names if not m.startswith("rouge") and m != "hallucination_rate" and m not in descriptive]

    def spec(name: str, outputs: list[str], direction: str, config: Optional[dict] = None) -> MetricSpec:
        return MetricSpec(name=name, config=config or {}, outputs=outputs, headline=outputs,
                          directions=dict.fromkeys(outputs, direction) if directions else {})

    specs = []
    if rouge_outputs:
        specs.append(spec("rouge", rouge_outputs, "higher", dict(rouge_config or ROUGE_CONFIG)))
    if other:
        specs.append(spec("quotes", other, "higher"))
    if descriptive:
        specs.append(spec("extractiveness", descriptive, "none"))
    if "hallucination_rate" in metric_names:
        specs.append(spec(LowerIsBetter.name, ["hallucination_rate"], LowerIsBetter().direction("hallucination_rate")))
    rows, preds = [], []
    for system, per_metric in values.items():
        bad = set(failed.get(system, ()))
        for i in range(n_items):
            gid = f"d{i:03d}"
            if i in bad:
                msg = errors.get(system, "backend timed out")
                if not isinstance(msg, str):
                    msg = msg[sorted(bad).index(i)]
                preds.append(Prediction(gold_id=gid, system=system, error=msg))
                continue
            preds.append(Prediction(gold_id=gid, system=system, summary=f"summary {i}"))
            for metric, vals in per_metric.items():
                rows.append((system, gid, metric, float(vals[i])))
    scores = pd.DataFrame(rows, columns=["system", "gold_id", "metric", "value"])
    manifest = Manifest(run_id=run_id or path.name, created="2025-01-01T00:00:00+00:00", evalkit_version="0.1.0",
                        gold=gold, systems=[SystemSpec(name=s, backend="lead") for s in values], metrics=specs, seed=seed)
    run.write_manifest(manifest)
    with open(run.predictions_path, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(p.model_dump_json() + "\n")
    run.write_scores(scores)
    summary = summarize_run(manifest.run_id, gold, scores, preds, specs, seed=seed, n_resamples=n_resamples)
    run.write_summary(summary)
    if comparisons:
        write_comparisons(run, summary, scores, min_items=min_items)
    return run


def noisy(mean: float, n: int, seed: int, sd: float = 0.08) -> np.ndarray:
    return np.clip(np.random.default_rng(seed).normal(mean, sd, n), 0, 1)


def invoke(*args: str, env: Optional[dict] = None):
    """Run the real CLI in-process; returns the click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
