"""The vectorized resampling (evalkit/resample.py) against scipy on random data: the same
methods (BCa bootstrap of a mean, paired sign-flip permutation test), the same numbers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from evalkit import resample
from evalkit.comparisons import ScoreTable, metric_pairs, pair_table
from evalkit.stats import BATCH_ELEMENTS, bootstrap_ci, bootstrap_cis, paired_test, paired_tests


def scipy_ci(x, seed, n_resamples, method="BCa"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sst.bootstrap((x,), np.mean, confidence_level=0.95, n_resamples=n_resamples, method=method,
                            vectorized=True, axis=-1, rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize("n", [25, 40, 333])
def test_bca_interval_equals_scipy_bootstrap_given_the_same_generator(n):
    """The resamples are scipy's draws (rng.integers(0, n, (batch, n))), counted per item: with the
    same generator the BCa interval is scipy's, to float rounding. (Samples big enough that no
    resample is a permutation of the sample: see the next test for those.)"""
    data = np.random.default_rng(n)
    for trial in range(12):
        x = data.gamma(0.7, size=n) if trial % 2 else data.normal(0.4, 0.2, size=n)
        seed = 1000 * n + trial
        expected = scipy_ci(x, seed, 2999)
        if not all(math.isfinite(v) for v in expected):  # BCa undefined: both fall back to percentiles
            expected = scipy_ci(x, seed, 2999, method="percentile")
        theta = resample.bootstrap_means(x[None, :], np.random.default_rng(seed), 2999, BATCH_ELEMENTS)
        lo, hi = resample.bca_interval(x[None, :], theta, 0.95)
        assert (lo[0], hi[0]) == pytest.approx(expected, abs=1e-12, rel=1e-12)


def reference_bca(x: np.ndarray, seed: int, n_resamples: int, confidence: float = 0.95) -> tuple[float, float]:
    """BCa (Efron & Tibshirani 1993, 14.3 and 15.4) written out plainly, with every resample mean
    summed exactly (math.fsum): a permutation of the sample has exactly the sample's mean."""
    n = x.size
    idx = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    theta_hat = math.fsum(x) / n
    theta_b = np.array([math.fsum(x[i]) / n for i in idx])
    z0 = resample.ndtri(((theta_b < theta_hat).sum() + (theta_b <= theta_hat).sum()) / (2 * n_resamples))
    jack = np.array([math.fsum(np.delete(x, i)) / (n - 1) for i in range(n)])
    u = (n - 1) * (jack.mean() - jack)
    a = (u ** 3).sum() / n ** 3 / ((u ** 2).sum() / n ** 2) ** 1.5 / 6
    alpha = (1 - confidence) / 2
    qs = [resample.ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in (resample.ndtri(alpha), -resample.ndtri(alpha))]
    if not all(0 <= q <= 1 for q in qs):
        qs = [alpha, 1 - alpha]
    lo, hi = np.quantile(theta_b, qs)
    return float(lo), float(hi)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 12])
def test_bca_interval_of_small_samples_counts_permutations_as_ties(n):
    """Small samples: many resamples are permutations of the sample, whose mean equals the
    sample's but for the order of a float sum (scipy counts them below or not, at random); here
    they are ties, as in the exact computation."""
    data = np.random.default_rng(n)
    for trial in range(12):
        x = data.gamma(0.7, size=n) if trial % 2 else np.round(data.normal(0.4, 0.2, size=n), 3)
        theta = resample.bootstrap_means(x[None, :], np.random.default_rng(trial), 1999, BATCH_ELEMENTS)
        lo, hi = resample.bca_interval(x[None, :], theta, 0.95)
        assert (lo[0], hi[0]) == pytest.approx(reference_bca(x, trial, 1999), abs=1e-12), (n, trial)


def test_bootstrap_distribution_is_scipys_mean_of_each_resample():
    x = np.random.default_rng(1).random(50)
    theta = resample.bootstrap_means(x[None, :], np.random.default_rng(2), 500, BATCH_ELEMENTS)[0]
    res = sst.bootstrap((x,), np.mean, n_resamples=500, vectorized=True, axis=-1, rng=np.random.default_rng(2))
    np.testing.assert_allclose(theta, res.bootstrap_distribution, rtol=0, atol=1e-14)


def test_rows_share_draws_and_each_row_is_its_own_interval():
    """Several metrics on the same items: one set of draws, each row's CI as if computed alone."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.random(60), rng.normal(size=60), rng.integers(0, 2, 60).astype(float), np.full(60, 0.25)])
    together = bootstrap_cis(X, n_resamples=999, rng=np.random.default_rng(9))
    alone = [bootstrap_cis(X[i:i + 1], n_resamples=999, rng=np.random.default_rng(9))[0] for i in range(4)]
    assert together == alone
    assert together[3] == (0.25, 0.25)
    assert bootstrap_ci(X[0], n_resamples=999, rng=np.random.default_rng(9)) == together[0]


def scipy_p(a, b, seed, n_resamples, alternative):
    res = sst.permutation_test((b, a), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                               alternative=alternative, n_resamples=n_resamples, vectorized=True, axis=-1,
                               rng=np.random.default_rng(seed))
    return float(res.pvalue)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_exact_permutation_p_equals_scipy(alternative):
    """2^n <= n_resamples: every sign pattern, no randomness: the p-values are scipy's exactly."""
    data = np.random.default_rng(11)
    for n in (2, 3, 5, 8, 12, 13):
        a = data.random(n)
        b = a + data.normal(0.05, 0.1, n)
        ours = resample.sign_flip_pvalues((b - a)[None, :], np.random.default_rng(0), 10000, alternative,
                                          BATCH_ELEMENTS)[0]
        assert ours == pytest.approx(scipy_p(a, b, 0, 10000, alternative), abs=1e-12), n


def test_monte_carlo_permutation_p_agrees_with_scipy_within_sampling_error():
    """Random sign flips (other draws than scipy's): the p-values agree within Monte Carlo error
    (4 standard errors of two independent estimates), and never reach 0 (the +1 correction)."""
    data = np.random.default_rng(12)
    R = 4000
    for trial in range(20):
        n = int(data.integers(20, 300))
        a = data.random(n)
        b = a + data.normal(0.02 * (trial % 4), 0.15, n)
        ours = paired_test(a, b, n_resamples=R, rng=np.random.default_rng(trial)).p_value
        theirs = min(1.0, scipy_p(a, b, trial, R, "two-sided"))
        p = max((ours + theirs) / 2, 1 / R)
        se = math.sqrt(2 * p * (1 - p) / R) * 2  # two-sided doubles the tail estimate
        assert abs(ours - theirs) <= 4 * se + 2 / R, (trial, ours, theirs)
        assert ours >= round(2 / (R + 1), 10)


def test_paired_tests_rows_equal_paired_test_alone():
    rng = np.random.default_rng(5)
    A = rng.random((3, 80))
    B = A + rng.normal(0.01, 0.1, (3, 80))
    together = paired_tests(A, B, n_resamples=999, rng=np.random.default_rng(3))
    for i in range(3):
        assert paired_test(A[i], B[i], n_resamples=999, rng=np.random.default_rng(3)) == together[i]


def tidy(values: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    rows = [(s, f"g{i:03d}", m, float(v)) for s, by in values.items() for m, vs in by.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["system", "gold_id", "metric", "value"])


def test_one_metric_alone_gets_the_numbers_it_gets_among_all():
    """The draws depend on the system pair and its items, not on which other metrics are tested."""
    rng = np.random.default_rng(8)
    nan_some = rng.random(50)
    nan_some[:7] = np.nan
    scores = tidy({s: {"m1": rng.random(50), "m2": rng.random(50), "m3": nan_some.copy()} for s in ("x", "y", "z")})
    pairs = [("x", "y"), ("x", "z"), ("y", "z")]
    table = ScoreTable(scores)
    together = pair_table(table, table, pairs, ["m1", "m2", "m3"], seed=3, min_items=10, confidence=0.95,
                          n_resamples=999)
    for m in ("m1", "m2", "m3"):
        rows, _ = metric_pairs(scores, scores, pairs, m, seed=3, min_items=10, confidence=0.95, n_resamples=999)
        assert [r.numbers for r in rows] == together[m]
    assert together["m3"][0].n == 43 and together["m1"][0].n == 50
