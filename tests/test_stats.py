"""Statistics: bootstrap CIs, paired permutation tests with planted effects, Holm, summarize_run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import InputError
from evalkit.records import GoldRef, MetricSpec, Prediction, RunSummary
from evalkit.stats import bootstrap_ci, holm, paired_frame, paired_test, stable_rng, summarize_run

GOLD = GoldRef(name="g", source="g.jsonl", hash="sha256:abc", items=40)


def test_planted_shift_is_found_and_ci_covers_it():
    shift, covered = 0.05, 0
    seeds = range(20)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        a = rng.uniform(0.2, 0.6, 60)
        b = a + shift + rng.normal(0, 0.03, 60)
        r = paired_test(a, b, n_resamples=999, rng=stable_rng(seed, "t"))
        assert r.p_value < 0.01, (seed, r)
        assert r.delta > 0 and r.wins > r.losses
        covered += r.ci_low <= shift <= r.ci_high
    # a 95% CI should cover the true shift in about 19 of 20 seeds
    assert covered >= 17, covered


def test_planted_negative_shift_one_sided():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.2, 0.6, 50)
    b = a - 0.04 + rng.normal(0, 0.03, 50)
    less = paired_test(a, b, n_resamples=2000, rng=stable_rng(0), alternative="less")
    greater = paired_test(a, b, n_resamples=2000, rng=stable_rng(0), alternative="greater")
    assert less.p_value < 0.01
    assert greater.p_value > 0.99
    assert less.ci_high < 0


def test_no_difference_false_positive_rate():
    """Under H0 (B = A + symmetric noise) p > 0.05 in the large majority of seeds, and p is
    not degenerate (it spreads over [0, 1] like a valid p-value should)."""
    ps = []
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        a = rng.uniform(0.2, 0.6, 40)
        b = a + rng.normal(0, 0.05, 40)
        ps.append(paired_test(a, b, n_resamples=499, rng=stable_rng(seed, "h0")).p_value)
    ps = np.array(ps)
    fpr = float((ps <= 0.05).mean())
    assert fpr <= 0.09, fpr  # nominal 0.05; binomial(200, 0.05) exceeds 18 with prob < 1%
    assert 0.35 < ps.mean() < 0.65  # roughly uniform, not stuck at 1.0
    assert fpr > 0  # a test that never rejects is not a test


def test_bootstrap_ci_coverage_of_a_mean():
    covered = 0
    for seed in range(100):
        x = np.random.default_rng(seed).beta(2, 5, 40)  # skewed, like ROUGE scores
        lo, hi = bootstrap_ci(x, n_resamples=999, rng=stable_rng(seed))
        covered += lo <= 2 / 7 <= hi
    assert 85 <= covered <= 100, covered


def test_edge_cases_without_warnings_or_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci([]) == (None, None)
        assert bootstrap_ci([0.3]) == (0.3, 0.3)
        assert bootstrap_ci([0.7] * 25) == (0.7, 0.7)
        assert bootstrap_ci([float("nan"), 0.2]) == (0.2, 0.2)
        lo, hi = bootstrap_ci([0.0, 0.0, 0.0, 1.0], n_resamples=500)  # BCa degenerate here
        assert 0.0 <= lo <= 0.25 <= hi <= 1.0
        r = paired_test([0.5], [0.6])
        assert r.n == 1 and r.p_value == 1.0 and r.effect_size is None and r.wins == 1
        r = paired_test([0.5, 0.5], [0.5, 0.5])
        assert r.p_value == 1.0 and r.ties == 2 and r.delta == 0.0
        r = paired_test([], [])
        assert r.n == 0 and r.p_value is None and r.delta is None
        r = paired_test([0.1, float("nan"), 0.3], [0.2, 0.5, float("nan")])
        assert r.n == 1


def test_exact_permutation_p_value_small_n():
    # 5 positive differences: exact two-sided p = 2 / 2^5
    r = paired_test([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5, 0.6], n_resamples=1000)
    assert r.p_value == pytest.approx(2 / 32)


def test_determinism():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    r1 = paired_test(a, b, rng=stable_rng(7, "x", "y"), n_resamples=999)
    r2 = paired_test(a, b, rng=stable_rng(7, "x", "y"), n_resamples=999)
    assert r1 == r2
    assert bootstrap_ci(a, rng=stable_rng(1), n_resamples=999) == bootstrap_ci(a, rng=stable_rng(1), n_resamples=999)


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.01, None, 0.5]) == [0.02, None, 0.5]
    assert holm([]) == []
    assert holm([0.6, 0.6]) == [1.0, 1.0]


def test_paired_frame_aligns_by_gold_id():
    a = pd.DataFrame({"system": "x", "gold_id": ["1", "2", "3"], "metric": "m", "value": [0.1, 0.2, 0.3]})
    b = pd.DataFrame({"system": "y", "gold_id": ["3", "2", "4"], "metric": "m", "value": [0.9, np.nan, 0.4]})
    va, vb = paired_frame(a, "x", b, "y", "m")
    assert va.tolist() == [0.3] and vb.tolist() == [0.9]
    dup = pd.concat([a, a.iloc[:1]])
    with pytest.raises(InputError, match="'m' of system 'x' twice for gold_id '1'"):
        paired_frame(dup, "x", b, "y", "m")


def _scores(systems, n, rng):
    rows = []
    for s, mu in systems.items():
        for i in range(n):
            rows.append((s, f"d{i:02d}", "rouge1", float(np.clip(mu + rng.normal(0, 0.1), 0, 1))))
            rows.append((s, f"d{i:02d}", "quote_fidelity", 1.0 if i % 3 == 0 else np.nan))
            rows.append((s, f"d{i:02d}", "only_one", 0.4 if i == 0 else np.nan))
    return pd.DataFrame(rows, columns=["system", "gold_id", "metric", "value"])


def test_summarize_run_counts_and_stats():
    rng = np.random.default_rng(0)
    scores = _scores({"lead": 0.3, "llm": 0.4}, 12, rng)
    preds = [Prediction(gold_id=f"d{i:02d}", system=s, summary="x", cached=i < 2)
             for s in ("lead", "llm") for i in range(12)]
    preds[-1] = Prediction(gold_id="d11", system="llm", summary=None, error="timeout")
    # the pipeline may write NaN rows for a failed item: they are failures, not "not applicable"
    scores.loc[(scores.system == "llm") & (scores.gold_id == "d11"), "value"] = np.nan
    specs = [MetricSpec(name="quotes", outputs=["quote_fidelity"]), MetricSpec(name="rouge", outputs=["rouge1"])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarize_run("r1", GOLD, scores, preds, specs, seed=1, n_resamples=999, notes=["hello"])
    assert list(s.systems) == ["lead", "llm"]
    lead, llm = s.systems["lead"], s.systems["llm"]
    assert (lead.items, lead.ok, lead.failed, lead.cached) == (12, 12, 0, 2)
    assert (llm.items, llm.ok, llm.failed, llm.cached) == (12, 11, 1, 2)
    assert list(lead.metrics) == ["quote_fidelity", "rouge1", "only_one"]  # declared order first
    r1 = lead.metrics["rouge1"]
    vals = scores[(scores.system == "lead") & (scores.metric == "rouge1")].value
    assert r1.mean == pytest.approx(vals.mean()) and r1.n == 12 and r1.n_not_applicable == 0
    assert r1.ci_low < r1.mean < r1.ci_high
    assert llm.metrics["rouge1"].n == 11 and llm.metrics["rouge1"].n_not_applicable == 0
    q = lead.metrics["quote_fidelity"]
    assert (q.mean, q.ci_low, q.ci_high, q.n, q.n_not_applicable) == (1.0, 1.0, 1.0, 4, 8)
    one = lead.metrics["only_one"]
    assert (one.mean, one.ci_low, one.ci_high, one.n) == (0.4, 0.4, 0.4, 1)
    assert s.notes == ["hello"] and s.seed == 1 and s.n_resamples == 999 and s.gold == GOLD
    # byte-identical twice; a system's CI does not depend on which other systems are in the run
    s2 = summarize_run("r1", GOLD, scores, preds, specs, seed=1, n_resamples=999, notes=["hello"])
    assert s.model_dump_json() == s2.model_dump_json()
    only_lead = summarize_run("r1", GOLD, scores[scores.system == "lead"], preds[:12], specs, seed=1, n_resamples=999)
    assert only_lead.systems["lead"] == lead
    # a different seed gives a (slightly) different CI
    s3 = summarize_run("r1", GOLD, scores, preds, specs, seed=2, n_resamples=999)
    assert s3.systems["lead"].metrics["rouge1"].ci_low != r1.ci_low


def test_summarize_run_all_not_applicable():
    scores = pd.DataFrame({"system": "a", "gold_id": ["1", "2"], "metric": "quote_fidelity", "value": [np.nan, np.nan]})
    preds = [Prediction(gold_id=g, system="a", summary="s") for g in ("1", "2")]
    s = summarize_run("r", GOLD, scores, preds, [])
    st = s.systems["a"].metrics["quote_fidelity"]
    assert st.mean is None and st.ci_low is None and st.n == 0 and st.n_not_applicable == 2
    assert RunSummary.model_validate_json(s.model_dump_json()) == s
