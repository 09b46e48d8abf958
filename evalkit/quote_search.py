"""The article window most similar to a quotation that is not in it verbatim.

Windows are runs of article words compared with rapidfuzz ``fuzz.ratio`` on the normalized,
case-folded strings. The best five windows of the quotation's length are refined: their
start, then their length, then their start again, each by up to a quarter of the window's
words and at most ``MAX_SLACK``.

Which windows are scored first depends on the article's size. Up to ``EXHAUSTIVE_WORDS``
words (any news article) every window is scored (``process.extract``). In a longer text,
scoring every window would cost the article's length for each quotation and keep a list of
all windows per quotation length, so candidates come from an index of the article's words:
windows placed on the occurrences of the quotation's rarest words (at most
``MAX_CANDIDATES``). The cost per quotation is then bounded whatever the article's length.
"""

from __future__ import annotations

from collections import defaultdict

EXHAUSTIVE_WORDS = 20_000
MAX_CANDIDATES = 200
MAX_SLACK = 8
_EDGE = " '-,.;:!?"


class WindowSearch:
    """Closest-window search over one normalized article (``words``: ``(start, end)`` offsets
    of its space-separated words in ``norm``)."""

    def __init__(self, norm: str, words: list[tuple[int, int]]):
        self.norm = norm
        self.words = words
        self._windows: dict[int, list[str]] = {}
        self._positions: dict[str, list[int]] | None = None

    def window_text(self, i: int, j: int) -> str:
        return self.norm[self.words[i][0]:self.words[j - 1][1]].strip(_EDGE)

    def best(self, plain: str) -> tuple[float, tuple[int, int]]:
        """The most similar window: (ratio 0..1, (first word, end word))."""
        from rapidfuzz import fuzz

        n_words = len(self.words)
        if n_words == 0 or not plain:
            return 0.0, (0, 0)
        n = min(len(plain.split()), n_words)
        query = plain.casefold()
        starts = self._exhaustive(query, n) if n_words <= EXHAUSTIVE_WORDS else self._seeded(query, n)
        slack = min(max(1, n // 4), MAX_SLACK)

        def score(s: int, e: int) -> float:
            return fuzz.ratio(query, self.window_text(s, e).casefold()) if 0 <= s < e <= n_words else -1.0

        best = (-1.0, 0, min(n, n_words))
        for i in starts:
            s, e = i, i + n
            for move_start in (True, False, True):
                options = ([(s + d, e) for d in range(-slack, slack + 1)] if move_start
                           else [(s, e + d) for d in range(-slack, slack + 1)])
                r, s, e = max((score(a, b), a, b) for a, b in options if a < b)
                if r > best[0]:
                    best = (r, s, e)
        r, s, e = best
        return max(r, 0.0) / 100.0, (s, e)

    def _exhaustive(self, query: str, n: int) -> list[int]:
        from rapidfuzz import fuzz, process

        windows = self._windows.get(n)
        if windows is None:
            windows = [self.window_text(i, i + n).casefold() for i in range(len(self.words) - n + 1)]
            self._windows[n] = windows
        return [i for _, _, i in process.extract(query, windows, scorer=fuzz.ratio, limit=5)]

    def _seeded(self, query: str, n: int) -> list[int]:
        """The five best windows among those placed on occurrences of the query's rarest words."""
        from rapidfuzz import fuzz

        if self._positions is None:
            positions: dict[str, list[int]] = defaultdict(list)
            for i in range(len(self.words)):
                positions[self.window_text(i, i + 1).casefold()].append(i)
            self._positions = positions
        qwords = [w.strip(_EDGE) for w in query.split()]
        found = sorted({(len(self._positions[w]), k, w) for k, w in enumerate(qwords) if w in self._positions})
        starts: set[int] = set()
        for _, offset, word in found:
            for p in self._positions[word]:
                starts.add(max(0, min(p - offset, len(self.words) - n)))
                if len(starts) >= MAX_CANDIDATES:
                    break
            if len(starts) >= MAX_CANDIDATES:
                break
        ranked = sorted(starts, key=lambda i: (-fuzz.ratio(query, self.window_text(i, i + n).casefold()), i))
        return ranked[:5] or [0]
