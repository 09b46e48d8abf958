"""Vectorized, seeded resampling for the statistics (numpy only: no scipy import).

Every function takes a matrix ``X`` of shape (metrics, items): several metrics measured on
the same items share one set of random draws, so a system pair's comparisons over twenty
metrics cost about as much as one (a matrix product per batch of resamples).

- :func:`bootstrap_means`: the bootstrap distribution of each row's mean. The resamples are
  drawn exactly as ``scipy.stats.bootstrap`` draws them (``rng.integers(0, n, (batch, n))``,
  batch after batch), so with the same generator the distribution is scipy's (up to the
  order of a floating-point sum); they are counted per item and multiplied in.
- :func:`bca_interval`: the BCa interval of a mean (Efron and Tibshirani 1993, 14.3 and
  15.4), computed as scipy's ``_bca_interval`` computes it (percentile of score with the
  'mean' rule, jackknife acceleration, linear quantiles); a row where BCa is undefined falls
  back to the percentile interval of the same resamples. One difference: a resample mean
  equal to the sample mean but for floating-point rounding (a permutation of the sample) is
  a tie (it counts half); scipy counts it below or not depending on the order of its sum,
  which moves small samples' intervals at random.
- :func:`sign_flip_pvalues`: the paired permutation test of the mean difference
  (``scipy.stats.permutation_test`` with ``permutation_type="samples"``: each item's two
  values swap sides with probability 1/2, i.e. the sign of its difference flips). Exact (all
  2^n sign patterns) when 2^n <= n_resamples, otherwise Monte Carlo with the +1 correction;
  ties within 100 ulp of the observed statistic (or the rounding of a sum of n values, if
  larger) count as extreme, as in scipy. Random signs
  come from full-range 64-bit draws, one row at a time.

Memory stays bounded: at most ``batch_elements`` (resamples x items) values are drawn at a
time, and the number of resamples per batch never changes a number (the generator's stream
is the same whatever the batching).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()
#: the exact sign-flip test enumerates at most this many items (2^n patterns)
EXACT_MAX_ITEMS = 24


def ndtri(p: float) -> float:
    """The standard normal quantile (scipy.special.ndtri), -inf/inf at 0/1, NaN outside."""
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return _NORMAL.inv_cdf(p)


def ndtr(x: float) -> float:
    """The standard normal CDF (scipy.special.ndtr)."""
    if math.isnan(x):
        return math.nan
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _columns(X: np.ndarray) -> np.ndarray:
    """``X`` transposed for the matrix products, with at least two columns: a one-column
    product takes another BLAS path (gemv) that rounds differently, and a metric's numbers must
    not depend on how many other metrics share its draws."""
    Xt = np.ascontiguousarray(X.T)
    if Xt.shape[1] == 1:
        Xt = np.hstack([Xt, np.zeros_like(Xt)])
    return Xt


def rows_per_batch(n_items: int, n_resamples: int, batch_elements: int) -> int:
    return max(1, min(n_resamples, batch_elements // max(n_items, 1)))


def sum_tolerance(X: np.ndarray) -> np.ndarray:
    """Per row, how far two ways of summing a mean of its values may differ by rounding alone."""
    n = X.shape[1]
    return 16 * np.finfo(np.float64).eps * n * np.abs(X).mean(axis=1)


def bootstrap_means(X: np.ndarray, rng: np.random.Generator, n_resamples: int,
                    batch_elements: int) -> np.ndarray:
    """(metrics, n_resamples): each row's mean over each bootstrap resample of the items."""
    m, n = X.shape
    out = np.empty((m, n_resamples))
    step = rows_per_batch(n, n_resamples, batch_elements)
    Xt = _columns(X)
    for start in range(0, n_resamples, step):
        c = min(step, n_resamples - start)
        idx = rng.integers(0, n, (c, n))
        idx += np.arange(c)[:, None] * n
        counts = np.bincount(idx.ravel(), minlength=c * n).reshape(c, n).astype(np.float64)
        out[:, start:start + c] = (counts @ Xt)[:, :m].T / n
    return out


def bca_interval(X: np.ndarray, theta_b: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's BCa interval of the mean (percentile interval where BCa is undefined)."""
    m, n = X.shape
    alpha = (1.0 - confidence) / 2.0
    theta = X.mean(axis=1)
    lo, hi = np.empty(m), np.empty(m)
    # jackknife means, and the acceleration a = sum(U^3) / (6 sum(U^2)^1.5)
    jack = (X.sum(axis=1, keepdims=True) - X) / (n - 1)
    u = (n - 1) * (jack.mean(axis=1, keepdims=True) - jack)
    num = (u ** 3).sum(axis=1) / n ** 3
    den = (u ** 2).sum(axis=1) / n ** 2
    z_alpha = ndtri(alpha)
    B = theta_b.shape[1]
    tol = sum_tolerance(X)
    for i in range(m):
        row = theta_b[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            a_hat = float(num[i] / den[i] ** 1.5 / 6.0)
        # a resample mean within rounding of the sample mean (e.g. a permutation of the sample)
        # is a tie: it counts half, whatever the order of the floating-point sum made of it
        below = np.count_nonzero(row < theta[i] - tol[i])
        tied = np.count_nonzero(np.abs(row - theta[i]) <= tol[i])
        z0 = ndtri(float((2 * below + tied) / (2 * B)))
        bounds = []
        for z in (z_alpha, -z_alpha):
            s = np.float64(z0 + z)
            with np.errstate(all="ignore"):
                inner = s / (np.float64(1.0) - np.float64(a_hat) * s)
            bounds.append(ndtr(float(z0 + inner)))
        if not all(0.0 <= q <= 1.0 for q in bounds):  # NaN: BCa undefined here
            bounds = [alpha, 1.0 - alpha]
        q_lo, q_hi = np.quantile(row, bounds)
        lo[i], hi[i] = float(q_lo), float(q_hi)
    return lo, hi


def _all_sign_patterns(n: int) -> np.ndarray:
    """(2^n, n) of +-1: every assignment of signs (the exact test's permutations)."""
    codes = np.arange(2 ** n, dtype=np.int64)[:, None]
    bits = (codes >> np.arange(n, dtype=np.int64)[None, :]) & 1
    return 1.0 - 2.0 * bits


def _random_signs(rng: np.random.Generator, c: int, n: int) -> np.ndarray:
    words = (n + 63) // 64
    draws = rng.integers(0, 2 ** 64, (c, words), dtype=np.uint64, endpoint=False)
    bits = np.unpackbits(draws.view(np.uint8).reshape(c, words * 8), axis=1, bitorder="little")[:, :n]
    return 1.0 - 2.0 * bits.astype(np.float64)


def sign_flip_pvalues(D: np.ndarray, rng: np.random.Generator, n_resamples: int, alternative: str,
                      batch_elements: int) -> np.ndarray:
    """Each row's paired permutation p-value for the mean of its differences ``D``."""
    m, n = D.shape
    observed = D.mean(axis=1)
    # scipy's tolerance (100 ulp of the statistic), widened to the rounding of our sums: a null
    # statistic that equals the observed one but for rounding counts as extreme
    gamma = np.maximum(np.abs(np.finfo(np.float64).eps * 100 * observed), sum_tolerance(D))
    exact = n <= EXACT_MAX_ITEMS and 2 ** n <= n_resamples
    total = 2 ** n if exact else n_resamples
    le = np.zeros(m, dtype=np.int64)
    ge = np.zeros(m, dtype=np.int64)
    Dt = _columns(D)
    step = rows_per_batch(n, total, batch_elements)
    patterns = _all_sign_patterns(n) if exact else None
    for start in range(0, total, step):
        c = min(step, total - start)
        signs = patterns[start:start + c] if patterns is not None else _random_signs(rng, c, n)
        null = (signs @ Dt)[:, :m] / n  # (c, m)
        le += np.count_nonzero(null <= observed + gamma, axis=0)
        ge += np.count_nonzero(null >= observed - gamma, axis=0)
    adjustment = 0 if exact else 1
    p_less = (le + adjustment) / (total + adjustment)
    p_greater = (ge + adjustment) / (total + adjustment)
    if alternative == "less":
        p = p_less
    elif alternative == "greater":
        p = p_greater
    else:
        p = np.minimum(p_less, p_greater) * 2
    return np.clip(p, 0.0, 1.0)
