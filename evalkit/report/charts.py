"""Inline SVG charts for the HTML report, generated here (no chart library, no JavaScript).

Every function returns a ``markupsafe.Markup`` built with ``Markup.format``, which escapes
each argument: system names, metric names and gold ids can never inject markup. Numbers are
formatted before they are placed. Each chart carries a ``<title>`` and ``<desc>``, and every
point its own ``<title>``, so the data stays readable by hovering and by screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from markupsafe import Markup

WIDTH = 360
LABEL_W = 96  # left gutter for system names
PAD_R = 14
ROW_H = 22
AXIS_H = 24
TOP = 6
PALETTE = ("#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626")


@dataclass(frozen=True)
class Scale:
    """A linear map of [lo, hi] onto [x0, x1] pixels."""

    lo: float
    hi: float
    x0: float
    x1: float

    def __call__(self, v: float) -> float:
        if self.hi == self.lo:
            return (self.x0 + self.x1) / 2
        return self.x0 + (v - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0)


def nice_domain(values: Sequence[Optional[float]]) -> tuple[float, float]:
    """[0, 1] for values inside it (most scores); otherwise bounds rounded outward to a nice step."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    lo = min(lo, 0.0)
    if hi == lo:
        hi = lo + 1.0
    step = nice_step((hi - lo) / 4)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is >= raw (raw > 0)."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * 10 ** exp
        if step >= raw * (1 - 1e-12):
            return step
    return 10 ** (exp + 1)  # pragma: no cover - the loop always returns


def ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About ``n`` (at least 3) evenly spaced round values inside [lo, hi] (ends included when round)."""
    if hi <= lo:
        return [lo]
    step = nice_step((hi - lo) / n)
    start = math.ceil(lo / step - 1e-9)
    out = []
    k = start
    while k * step <= hi + step * 1e-9:
        out.append(round(k * step, 10) or 0.0)
        k += 1
    return out if len(out) >= 3 or n > 32 else ticks(lo, hi, n * 2)


def fmt_tick(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.1e}"


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _frame(title: str, desc: str, height: int, body: Markup) -> Markup:
    return Markup('<svg class="chart" viewBox="0 0 {w} {h}" '
                  'width="{w}" height="{h}" role="img"><title>{t}</title><desc>{d}</desc>{b}</svg>'
                  ).format(w=WIDTH, h=height, t=title, d=desc, b=body)


def _axis(scale: Scale, y: float) -> Markup:
    parts = [Markup('<line class="axis" x1="{a:.1f}" y1="{y:.1f}" x2="{b:.1f}" y2="{y:.1f}"/>').format(
        a=scale.x0, b=scale.x1, y=y)]
    for t in ticks(scale.lo, scale.hi):
        x = scale(t)
        parts.append(Markup('<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y:.1f}"/>'
                            '<text class="tick" x="{x:.1f}" y="{ty:.1f}" text-anchor="middle">{label}</text>'
                            ).format(x=x, top=TOP, y=y, ty=y + 14, label=fmt_tick(t)))
    return Markup("").join(parts)


def _label(text: str, y: float) -> Markup:
    short = text if len(text) <= 14 else text[:13] + "…"
    return Markup('<text class="label" x="{x}" y="{y:.1f}" text-anchor="end">{s}<title>{t}</title></text>'
                  ).format(x=LABEL_W - 6, y=y + 4, s=short, t=text)


@dataclass(frozen=True)
class MeanCI:
    system: str
    mean: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    n: int


def means_chart(metric: str, rows: Sequence[MeanCI], confidence: float = 0.95) -> Markup:
    """One metric: each system's mean as a dot with its CI as an error bar."""
    height = TOP + ROW_H * max(len(rows), 1) + AXIS_H
    lo, hi = nice_domain([v for r in rows for v in (r.mean, r.ci_low, r.ci_high)])
    scale = Scale(lo, hi, LABEL_W, WIDTH - PAD_R)
    y_axis = TOP + ROW_H * max(len(rows), 1)
    parts = [_axis(scale, y_axis)]
    for i, r in enumerate(rows):
        y = TOP + ROW_H * i + ROW_H / 2
        parts.append(_label(r.system, y))
        if r.mean is None:
            parts.append(Markup('<text class="na" x="{x}" y="{y:.1f}">n/a</text>').format(x=LABEL_W + 4, y=y + 4))
            continue
        tip = f"{r.system}: mean {r.mean:.4f}"
        if r.ci_low is not None and r.ci_high is not None:
            tip += f", {confidence:.0%} CI [{r.ci_low:.4f}, {r.ci_high:.4f}]"
            parts.append(Markup(
                '<line class="ci" x1="{a:.1f}" y1="{y:.1f}" x2="{b:.1f}" y2="{y:.1f}" stroke="{c}"/>'
                '<line class="ci" x1="{a:.1f}" y1="{y0:.1f}" x2="{a:.1f}" y2="{y1:.1f}" stroke="{c}"/>'
                '<line class="ci" x1="{b:.1f}" y1="{y0:.1f}" x2="{b:.1f}" y2="{y1:.1f}" stroke="{c}"/>').format(
                a=scale(r.ci_low), b=scale(r.ci_high), y=y, y0=y - 5, y1=y + 5, c=colour(i)))
        parts.append(Markup('<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{c}"><title>{t} (n={n})</title></circle>'
                            ).format(x=scale(r.mean), y=y, c=colour(i), t=tip, n=r.n))
    return _frame(f"{metric}: mean per system with {confidence:.0%} CI",
                  f"Dot: mean of {metric}; bar: bootstrap confidence interval.", height, Markup("").join(parts))


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Q1, median, Q3 by linear interpolation (numpy's default), for a non-empty sample."""
    xs = sorted(values)

    def q(p: float) -> float:
        pos = p * (len(xs) - 1)
        i = math.floor(pos)
        j = min(i + 1, len(xs) - 1)
        return xs[i] + (xs[j] - xs[i]) * (pos - i)

    return q(0.25), q(0.5), q(0.75)


def _jitter(k: int) -> float:
    """Deterministic offset in [-1, 1] for the k-th point (golden-ratio sequence)."""
    return ((k * 0.6180339887498949) % 1.0) * 2 - 1


@dataclass(frozen=True)
class Point:
    value: float
    label: str  # e.g. the gold id
    href: str  # an in-page anchor ("#item-...")


def distribution_chart(metric: str, series: Sequence[tuple[str, Sequence[Point]]]) -> Markup:
    """One metric: per system, every item's score as a dot (linked to its article) over a box
    of the quartiles with the median marked."""
    n_rows = max(len(series), 1)
    height = TOP + ROW_H * 1.5 * n_rows + AXIS_H
    lo, hi = nice_domain([p.value for _, pts in series for p in pts])
    scale = Scale(lo, hi, LABEL_W, WIDTH - PAD_R)
    y_axis = TOP + ROW_H * 1.5 * n_rows
    parts = [_axis(scale, y_axis)]
    for i, (system, points) in enumerate(series):
        y = TOP + ROW_H * 1.5 * i + ROW_H * 0.75
        parts.append(_label(system, y))
        if not points:
            parts.append(Markup('<text class="na" x="{x}" y="{y:.1f}">n/a</text>').format(x=LABEL_W + 4, y=y + 4))
            continue
        q1, med, q3 = quartiles([p.value for p in points])
        parts.append(Markup(
            '<rect class="box" x="{a:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" stroke="{c}">'
            '<title>{s}: Q1 {q1:.4f}, median {m:.4f}, Q3 {q3:.4f} (n={n})</title></rect>'
            '<line class="median" x1="{mx:.1f}" y1="{y0:.1f}" x2="{mx:.1f}" y2="{y1:.1f}" stroke="{c}"/>').format(
            a=scale(q1), w=max(scale(q3) - scale(q1), 1.0), y0=y - 9, y1=y + 9, h=18.0, c=colour(i),
            s=system, q1=q1, m=med, q3=q3, n=len(points), mx=scale(med)))
        for k, p in enumerate(points):
            parts.append(Markup('<a href="{href}"><circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{c}">'
                                '<title>{s} · {lab}: {v:.4f}</title></circle></a>').format(
                href=p.href, x=scale(p.value), y=y + 6 * _jitter(k), c=colour(i), s=system, lab=p.label, v=p.value))
    return _frame(f"{metric}: per-item scores per system",
                  f"Each dot is one article's {metric}; the box spans the quartiles, the line is the median.",
                  int(math.ceil(height)), Markup("").join(parts))
