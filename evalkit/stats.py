"""Statistics: per-system means with bootstrap CIs, and paired comparisons between systems.

Choices (documented in docs/ci.md, stated in every output that uses them):

* **CI of a mean** — the BCa bootstrap interval (Efron & Tibshirani 1993; computed as
  ``scipy.stats.bootstrap(method="BCa")`` computes it, see evalkit/resample.py), falling back
  to the percentile interval when BCa is undefined (e.g. very small or lopsided samples),
  ``confidence`` (default 0.95), ``n_resamples`` (default 10,000). n = 0 gives no CI; n = 1
  or constant data give the degenerate interval [v, v] (there is no spread to resample).
* **Paired comparison** of systems A and B on the items both scored: d_i = B_i - A_i;
  mean difference, its paired-bootstrap CI (BCa; the items are resampled, so each pair
  stays together), the effect size d_z = mean(d) / sd(d), and wins/ties/losses of B over A.
* **p-value** — a paired permutation test (as ``scipy.stats.permutation_test`` with
  ``permutation_type="samples"``: under H0 the labels A/B of each item are exchangeable, so
  the signs of the d_i are flipped at random), statistic = mean difference, two-sided unless
  asked. Exact (all 2^n sign patterns) when 2^n <= n_resamples, otherwise Monte Carlo with
  the +1 correction, so p is never 0. Chosen over Wilcoxon signed-rank because it tests the
  very quantity we report (the mean difference, in metric units), makes no symmetry
  assumption about the ranks and handles the many exact ties of ROUGE scores without
  special rules.
* **Multiple comparisons** — Holm's step-down correction (controls the family-wise error rate
  under any dependence between tests). The family is stated where it is applied.
* **Vectorized, seeded draws** (evalkit/resample.py) — all metrics scored on the same items
  share one set of resamples: one bootstrap index matrix and one sign matrix per system pair
  (per system for the CIs) and item set, drawn from a generator seeded by (seed, the systems,
  a digest of the item ids). The same inputs give byte-identical numbers; adding a system or
  a metric does not change another one's numbers. The methods are scipy's; the draws are
  shared across metrics (tests/test_resample.py checks the results against scipy's).
* **Memory** — resamples are drawn in batches of at most ``BATCH_ELEMENTS`` values, so
  memory stays bounded at any n; batching does not change any number (the generator's
  stream is the same).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from evalkit import resample
from evalkit.errors import InputError
from evalkit.records import ErrorCount, GoldRef, MetricSpec, MetricStat, Prediction, RunSummary, SystemSummary

#: digits kept in every number written to summaries/comparisons: byte-stable across platforms
ROUND = 10
#: values per resampling batch (resamples x items): about 16 MB of float64 at a time
BATCH_ELEMENTS = 2 ** 21
#: error messages kept per system in summary.json (most frequent first), and their length
TOP_ERRORS = 3
ERROR_CHARS = 500


def batch_size(n_items: int, n_resamples: int) -> int:
    """Resamples per batch so that one batch holds at most ``BATCH_ELEMENTS`` values."""
    return resample.rows_per_batch(n_items, n_resamples, BATCH_ELEMENTS)


def _r(x: Optional[float]) -> Optional[float]:
    if x is None or not math.isfinite(x):
        return None
    v = round(float(x), ROUND)
    return 0.0 if v == 0 else v  # no "-0.0"


def stable_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and string keys (stable across processes, unlike hash())."""
    words = [int(seed) & 0xFFFFFFFF]
    for k in keys:
        words.append(int.from_bytes(hashlib.sha256(k.encode("utf-8")).digest()[:4], "little"))
    return np.random.default_rng(np.random.SeedSequence(words))


# --------------------------------------------------------------------------------------------
# CI of a mean
# --------------------------------------------------------------------------------------------

def items_digest(ids: Iterable[str]) -> str:
    """A short digest of an item set (part of the generator seed of the draws over it)."""
    return hashlib.sha256("\x1f".join(ids).encode("utf-8")).hexdigest()[:16]


def bootstrap_cis(X: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 10000,
                  rng: np.random.Generator | None = None) -> list[tuple[Optional[float], Optional[float]]]:
    """Bootstrap CIs of the mean of each row of ``X`` (metrics x items, all finite), from one
    set of resamples. [v, v] for one item or a constant row."""
    X = np.asarray(X, dtype=float)
    m, n = X.shape
    if n == 0:
        return [(None, None)] * m
    if n == 1:
        return [(float(x), float(x)) for x in X[:, 0]]
    rng = rng if rng is not None else np.random.default_rng(0)
    theta_b = resample.bootstrap_means(X, rng, n_resamples, BATCH_ELEMENTS)
    lo, hi = resample.bca_interval(X, theta_b, confidence)
    out: list[tuple[Optional[float], Optional[float]]] = []
    for i in range(m):
        row = X[i]
        if np.ptp(row) == 0:
            out.append((float(row[0]), float(row[0])))
        else:  # a percentile interval of a mean lies within [min, max]; clip BCa's rare overshoot
            out.append((max(float(lo[i]), float(row.min())), min(float(hi[i]), float(row.max()))))
    return out


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95,
                 n_resamples: int = 10000, rng: np.random.Generator | None = None
                 ) -> tuple[Optional[float], Optional[float]]:
    """Bootstrap CI of the mean. (None, None) for no data; [v, v] for one value or constant data."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return bootstrap_cis(x[None, :], confidence=confidence, n_resamples=n_resamples, rng=rng)[0]


# --------------------------------------------------------------------------------------------
# Per-run summary
# --------------------------------------------------------------------------------------------

def summarize_run(run_id: str, gold: GoldRef, scores: pd.DataFrame, predictions: list[Prediction],
                  metrics: list[MetricSpec], *, seed: int = 0, confidence: float = 0.95,
                  n_resamples: int = 10000, notes: Iterable[str] = ()) -> RunSummary:
    """Per system: item counts (ok / failed / cached), the most frequent error messages of the
    failed rows, and per metric mean, bootstrap CI and n.

    ``scores`` is the tidy table (system, gold_id, metric, value); NaN means "not applicable"
    (e.g. quote fidelity of a summary without quotes) and is excluded from the mean and
    counted in ``n_not_applicable``. Rows of failed predictions are not scores at all: they
    are counted in ``failed`` and excluded from every metric (the ``errors`` gate rule exists
    so that failures cannot hide behind a good mean).
    """
    failed_keys: set[tuple[str, str]] = set()
    per_system: dict[str, dict[str, int]] = {}
    messages: dict[str, dict[str, int]] = {}
    for p in predictions:
        c = per_system.setdefault(p.system, {"items": 0, "ok": 0, "failed": 0, "cached": 0})
        c["items"] += 1
        if p.ok:
            c["ok"] += 1
        else:
            c["failed"] += 1
            failed_keys.add((p.system, p.gold_id))
            msg = error_text(p)
            messages.setdefault(p.system, {})[msg] = messages.get(p.system, {}).get(msg, 0) + 1
        if p.cached:
            c["cached"] += 1

    df = scores.loc[:, ["system", "gold_id", "metric", "value"]]
    if failed_keys and len(df):
        keys = pd.Series(list(zip(df["system"], df["gold_id"])), index=df.index)
        df = df[~keys.isin(failed_keys)]
    metric_order = _metric_order(metrics, df)
    systems_order = list(dict.fromkeys([p.system for p in predictions] + list(df["system"].unique())))

    by_system = {str(name): sdf for name, sdf in df.groupby("system", sort=False)}
    systems: dict[str, SystemSummary] = {}
    for system in systems_order:
        counts = per_system.get(system, {"items": 0, "ok": 0, "failed": 0, "cached": 0})
        sdf = by_system.get(system)
        stats_by_metric: dict[str, MetricStat] = {}
        if sdf is not None:
            cis = _system_cis(system, sdf, seed=seed, confidence=confidence, n_resamples=n_resamples)
            for metric in metric_order:
                if metric not in cis:
                    continue
                finite, n_na, (lo, hi) = cis[metric]
                stats_by_metric[metric] = MetricStat(
                    mean=_r(float(finite.mean())) if finite.size else None,
                    ci_low=_r(lo), ci_high=_r(hi), n=int(finite.size), n_not_applicable=n_na)
        systems[system] = SystemSummary(items=counts["items"], ok=counts["ok"], failed=counts["failed"],
                                        cached=counts["cached"], metrics=stats_by_metric,
                                        errors=top_errors(messages.get(system, {})))

    return RunSummary(run_id=run_id, gold=gold, confidence=confidence, n_resamples=n_resamples,
                      seed=seed, systems=systems, metrics=list(metrics), notes=list(notes))


def _system_cis(system: str, sdf: pd.DataFrame, *, seed: int, confidence: float, n_resamples: int
                ) -> dict[str, tuple[np.ndarray, int, tuple[Optional[float], Optional[float]]]]:
    """Per metric of one system: its finite values, how many were not applicable, its CI.
    Metrics with the same scored items share one set of resamples (seeded by the system and
    the item set, so neither another system nor another metric changes a CI)."""
    groups: dict[tuple[str, ...], list[tuple[str, np.ndarray]]] = {}
    out: dict[str, tuple[np.ndarray, int, tuple[Optional[float], Optional[float]]]] = {}
    for metric, mdf in sdf.groupby("metric", sort=False):
        vals = mdf["value"].to_numpy(dtype=float)
        ids = mdf["gold_id"].astype(str).to_numpy()
        keep = np.isfinite(vals)
        vals, ids = vals[keep], ids[keep]
        order = np.argsort(ids, kind="stable")
        groups.setdefault(tuple(ids[order]), []).append((str(metric), vals[order]))
        out[str(metric)] = (vals, int(keep.size - vals.size), (None, None))
    for ids, members in groups.items():
        X = np.vstack([v for _, v in members]) if ids else np.empty((len(members), 0))
        cis = bootstrap_cis(X, confidence=confidence, n_resamples=n_resamples,
                            rng=stable_rng(seed, "ci", system, items_digest(ids)))
        for (metric, _), ci in zip(members, cis):
            out[metric] = (out[metric][0], out[metric][1], ci)
    return out


def error_text(p: Prediction) -> str:
    """A failed row's message as summaries and reports show it (one line, at most ERROR_CHARS)."""
    text = " ".join((p.error or "no summary returned").split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def top_errors(counts: dict[str, int], k: int = TOP_ERRORS) -> list[ErrorCount]:
    """The ``k`` most frequent messages, most frequent first, ties by message (deterministic)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [ErrorCount(message=m, count=c) for m, c in ranked[:k]]


def _metric_order(metrics: list[MetricSpec], df: pd.DataFrame) -> list[str]:
    """Metric names in the order the specs declare them, then any others in table order."""
    declared = [o for m in metrics for o in m.outputs]
    present = list(dict.fromkeys(df["metric"].tolist()))
    return [m for m in declared if m in present] + [m for m in present if m not in declared]


# --------------------------------------------------------------------------------------------
# Paired comparison
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairedResult:
    """B minus A on the items both scored."""

    n: int
    mean_a: Optional[float]
    mean_b: Optional[float]
    delta: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    effect_size: Optional[float]  # Cohen's d_z = mean(d) / sd(d); None when sd(d) = 0
    wins: int  # items where B > A
    ties: int
    losses: int  # items where B < A
    alternative: str = "two-sided"
    tested: bool = True  # False: too few items to test (no CI, no p; see comparisons.py)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


#: differences smaller than this are ties (float noise of identical scores)
TIE_TOLERANCE = 1e-12


def paired_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                confidence: float = 0.95, n_resamples: int = 10000,
                rng: np.random.Generator | None = None, alternative: str = "two-sided") -> PairedResult:
    """Compare paired samples (same items, same order). Pairs with a NaN on either side are dropped.

    ``alternative``: "two-sided", "less" (B < A) or "greater" (B > A) for the p-value.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    return paired_tests(a[keep][None, :], b[keep][None, :], confidence=confidence, n_resamples=n_resamples,
                        rng=rng, alternative=alternative)[0]


def paired_tests(A: np.ndarray, B: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 10000,
                 rng: np.random.Generator | None = None, alternative: str = "two-sided") -> list[PairedResult]:
    """:func:`paired_test` for each row of ``A``/``B`` (metrics x items, finite, aligned), all
    rows on the same items and so from one set of resamples: the bootstrap of the differences
    first, then the sign flips of the permutation test."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    m, n = A.shape
    if n == 0:
        return [PairedResult(0, None, None, None, None, None, None, None, 0, 0, 0, alternative) for _ in range(m)]
    D = B - A
    D[np.abs(D) < TIE_TOLERANCE] = 0.0
    rng = rng if rng is not None else np.random.default_rng(0)
    cis = bootstrap_cis(D, confidence=confidence, n_resamples=n_resamples, rng=rng)
    if n == 1:  # the exact test over the 2 sign patterns of one difference
        pvals = [0.5 if (alternative == "greater" and d > 0) or (alternative == "less" and d < 0) else 1.0
                 for d in D[:, 0]]
    else:
        pvals = [float(p) for p in resample.sign_flip_pvalues(D, rng, n_resamples, alternative, BATCH_ELEMENTS)]
    out = []
    for i in range(m):
        d, (lo, hi) = D[i], cis[i]
        wins, losses = int((d > 0).sum()), int((d < 0).sum())
        sd = float(d.std(ddof=1)) if n > 1 else 0.0
        effect = float(d.mean()) / sd if sd > 0 else None
        p = 1.0 if not d.any() else min(1.0, pvals[i])
        out.append(PairedResult(n=n, mean_a=_r(A[i].mean()), mean_b=_r(B[i].mean()), delta=_r(d.mean()),
                                ci_low=_r(lo), ci_high=_r(hi), p_value=_r(p), effect_size=_r(effect),
                                wins=wins, ties=n - wins - losses, losses=losses, alternative=alternative))
    return out


def holm(p_values: Sequence[Optional[float]]) -> list[Optional[float]]:
    """Holm step-down adjusted p-values (None entries are skipped and stay None)."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    m = len(idx)
    out: list[Optional[float]] = [None] * len(p_values)
    running = 0.0
    present = {i: float(p) for i, p in enumerate(p_values) if p is not None}
    for rank, i in enumerate(sorted(idx, key=lambda i: (present[i], i))):
        adj = min(1.0, (m - rank) * present[i])
        running = max(running, adj)
        out[i] = _r(running)
    return out


def paired_frame(scores_a: pd.DataFrame, system_a: str, scores_b: pd.DataFrame, system_b: str,
                 metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-item values of ``metric`` for system A (in table A) and B (in table B) on the items
    both have a finite score for, aligned by gold_id (sorted, so order never matters)."""
    def series(df: pd.DataFrame, system: str) -> pd.Series:
        sel = df[(df["system"] == system) & (df["metric"] == metric)]
        s = pd.Series(sel["value"].to_numpy(dtype=float), index=sel["gold_id"].astype(str).to_numpy())
        if s.index.has_duplicates:
            dup = s.index[s.index.duplicated()][0]
            raise InputError(f"scores hold {metric!r} of system {system!r} twice for gold_id {dup!r}", field="gold_id")
        return s[np.isfinite(s.to_numpy())]

    sa, sb = series(scores_a, system_a), series(scores_b, system_b)
    common = sorted(set(sa.index) & set(sb.index))
    return sa.loc[common].to_numpy(dtype=float), sb.loc[common].to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------
# formatting shared by verdicts and reports
# --------------------------------------------------------------------------------------------

def fmt_p(p: Optional[float]) -> str:
    """A p-value for humans: 3 decimals, "<0.001" below that, "n/a" when there is none."""
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_p_eq(p: Optional[float], name: str = "p") -> str:
    """``p=0.003`` or ``p<0.001``."""
    text = fmt_p(p)
    return f"{name}{text}" if text.startswith("<") else f"{name}={text}"


def fmt_num(x: Optional[float], *, signed: bool = False, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    x = round(x, digits) or 0.0  # never "-0.0000"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
