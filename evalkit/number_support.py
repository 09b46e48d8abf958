"""Finding the support of summary figures among many article figures without reading them all.

:func:`evalkit.numbers.find_support` reads the article's figures in order and returns the first
exact match, else the first rounded one. :class:`SupportIndex` returns the same figure but
only reads the candidates that could match (``supports`` is not None only for them): dates of
the same month, times of the same value, decades and years with the same last two digits,
dates of that year, and figures whose value (a fraction's also ×100) lies within the rounding
tolerance of the summary figure's value or of its value ×100. The cost of a lookup is then
the number of candidates, not the length of the article.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from typing import Optional

from evalkit.numbers import Figure, first_support

_EXACT_KINDS = ("date", "time", "decade")


class SupportIndex:
    """The figures of one article, indexed for :meth:`find`."""

    def __init__(self, figures: list[Figure]):
        self.figures = figures
        keyed: list[tuple[float, int]] = []
        self._by_month: dict[int, list[int]] = defaultdict(list)
        self._by_year: dict[float, list[int]] = defaultdict(list)  # dates, by their year
        self._by_year2: dict[int, list[int]] = defaultdict(list)  # dates and years, by year % 100
        self._times: dict[float, list[int]] = defaultdict(list)
        self._decades: dict[int, list[int]] = defaultdict(list)
        for i, f in enumerate(figures):
            if f.kind == "date":
                for y, m, _ in f.dates:
                    if m is not None:
                        self._by_month[m].append(i)
                    if y is not None:
                        self._by_year[y].append(i)
                        self._by_year2[y % 100].append(i)
            elif f.kind == "time" and f.value is not None:
                self._times[f.value].append(i)
            elif f.kind == "decade" and f.value is not None:
                self._decades[int(f.value) % 100].append(i)
            elif f.value is not None:
                keyed.append((f.value, i))
                if f.kind == "fraction":
                    keyed.append((f.value * 100, i))
                if f.kind == "year":
                    self._by_year2[int(f.value) % 100].append(i)
        keyed.sort()
        self._keys = [k for k, _ in keyed]
        self._key_index = [i for _, i in keyed]

    def _near(self, x: float, tolerance: float) -> list[int]:
        """Figures whose key may equal ``x`` or round to it within the tolerance."""
        t = max(tolerance, 0.005)
        eps = 1e-9 * max(1.0, abs(x))
        lo = x / (1 + t) - eps
        hi = x / (1 - t) + eps if t < 1 else float("inf")
        return self._key_index[bisect_left(self._keys, lo):bisect_right(self._keys, hi)]

    def candidates(self, s: Figure, tolerance: float) -> list[int]:
        """Indices (in article order) of every figure that may support ``s``."""
        found: set[int] = set()
        if s.kind == "date":
            for _, m, _ in s.dates:
                found.update(self._by_month.get(m, ()) if m is not None else ())
        elif s.kind == "time" and s.value is not None:
            found.update(self._times.get(s.value, ()))
        elif s.kind == "decade" and s.value is not None:
            found.update(self._decades.get(int(s.value) % 100, ()))
        elif s.value is not None:
            if s.kind == "year":
                found.update(self._by_year2.get(int(s.value) % 100, ()))
            if s.kind == "number":
                found.update(self._by_year.get(s.value, ()))
            found.update(self._near(s.value, tolerance))
            found.update(self._near(s.value * 100, tolerance))
        return sorted(found)

    def find(self, summary: Figure, tolerance: float = 0.0) -> tuple[Optional[Figure], bool]:
        """What :func:`evalkit.numbers.find_support` returns for these figures."""
        return first_support(summary, (self.figures[i] for i in self.candidates(summary, tolerance)), tolerance)
