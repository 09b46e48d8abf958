"""Figures in text, normalized: ``extract_figures(text) -> list[Figure]`` and
``find_support(figure, article_figures)``. Pure functions, no I/O.

A figure is a number with what it measures: plain numbers (``1,250``, ``2.5``, ``16``,
``sixteen``, ``twenty-three``, ``a million``), money (``£2.26bn`` = ``2.26 billion pounds``
= ``£2,260m``; symbols, ISO codes and currency words; ``50p``), percentages (``12%`` =
``12 per cent`` = ``12 percent`` = ``12pc``; percentage points are a unit of their own),
fractions (``two-thirds``, ``3/4``), years, decades (``1990s``, ``’90s``), dates
(``March 3, 2026`` = ``3 March 2026`` = ``2026-03-03``; ``3/4/2026`` is read both ways;
two-digit years ``Sep 4, '03``, ``3/4/99`` and ``in '94`` keep their century open: ``'03``
is 1903 or 2003 or ...) and clock times (``3pm`` = ``15:00``). Scale words and suffixes: k, m/mn, bn/b (with money),
tn/trn, thousand, million, billion, trillion, dozen. In a range (``£2-3bn``,
``5-10%``, ``between 5 and 10 per cent``) each end is a figure and the ends share the
currency, scale and percent sign. Signs are ignored (the prose says "fell" or "rose").

Not figures (ignored on purpose): ordinals (``3rd``, ``first``), list markers at the start
of a line (``1.``, ``2)``) and list labels (``Point 1:``, ``Step 3.``, ``(2)``),
identifiers where digits are glued to letters (``COVID-19``, ``M25``, ``G7``, ``MP3``,
``4G``), ``No. 10``, URLs and e-mail addresses, the lone word ``one`` (usually a pronoun:
"one of the players"), and vague plurals (``dozens``, ``hundreds``, ``millions``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Optional

from evalkit.number_patterns import (
    APOSTROPHE_YEAR,
    CURRENCY_SYMBOLS,
    CURRENCY_WORDS,
    DATE_PATTERNS,
    DENOMINATORS,
    DIGITS,
    FRACTION_DIGITS,
    IGNORE,
    MONTHS,
    NUMERIC_DATE,
    ORDINAL,
    PREFIX,
    RANGE_LINK,
    SCALE,
    SCALE_WORDS,
    SCALES,
    SUFFIXES,
    TENS,
    TIME,
    UNITS,
    WORD_FRACTION,
    WORDS,
)


@dataclass(frozen=True)
class Figure:
    """One figure: where it is (``start``/``end``), what it says, and its normalized value."""

    text: str
    start: int
    end: int
    kind: str  # number | money | percent | fraction | year | decade | date | time
    value: Optional[float] = None
    unit: Optional[str] = None  # currency code, "%", "pp", "cents" or a physical unit
    precision: float = 1.0  # the step of the written form: "2.3bn" -> 1e8
    scale: float = 1.0  # the scale word applied ("bn" -> 1e9)
    #: (year, month, day) readings; a year below 100 is a two-digit year whose century is open
    dates: tuple[tuple[Optional[int], Optional[int], Optional[int]], ...] = ()

    @property
    def number(self) -> float:
        """The value of a figure that has one (every kind but ``date``, whose readings are in ``dates``)."""
        assert self.value is not None, f"{self.kind} figure {self.text!r} has no single value"
        return self.value

    @property
    def normalized(self) -> str:
        if self.kind == "date":
            return " or ".join("-".join(_date_part(x, k == 0) for k, x in enumerate(d)) for d in self.dates)
        if self.kind == "year" and self.value is not None and self.value < 100:
            return f"'{int(self.value):02d}"
        if self.kind == "time":
            return f"{int(self.number) // 60:02d}:{int(self.number) % 60:02d}"
        v = self.number
        if v == int(v) and abs(v) < 1e15:
            num = f"{v:,.0f}"
        elif 0 < self.precision < 1:
            num = f"{v:,.{round(-math.log10(self.precision))}f}"
        else:
            num = f"{v:,.6g}"
        if self.kind == "money":
            return f"{self.unit} {num}"
        if self.kind in ("year", "decade"):
            return f"{int(v)}" + ("s" if self.kind == "decade" else "")
        if self.kind == "percent":
            return num + ("%" if self.unit == "%" else " pp")
        return num + (f" {self.unit}" if self.unit else "")


def _date_part(x: Optional[int], year: bool) -> str:
    if x is None:
        return "??"
    return f"'{x:02d}" if year and x < 100 else f"{x:02d}"


def extract_figures(text: str) -> list[Figure]:
    """Every figure in ``text`` in order of position (linear in the length of ``text``)."""
    taken = bytearray(len(text) + 1)  # 1 where a figure or an ignored span already is
    figures: list[Figure] = []

    def free(s: int, e: int) -> bool:
        return taken.find(1, s, max(e, s + 1)) < 0

    def add(fig: Optional[Figure], s: int, e: int) -> None:
        if free(s, e):
            taken[s:e] = b"\x01" * (e - s)
            if fig is not None:
                figures.append(fig)

    for rx in IGNORE:
        for m in rx.finditer(text):
            add(None, m.start(), m.end())
    for m in (m for rx in DATE_PATTERNS for m in rx.finditer(text)):
        add(_date(text, m), m.start(), m.end())
    for m in NUMERIC_DATE.finditer(text):
        readings = _numeric_date(*m.groups())
        if readings:
            add(Figure(m.group(0), m.start(), m.end(), "date", dates=readings), m.start(), m.end())
    for m in TIME.finditer(text):
        add(_time(text, m), m.start(), m.end())
    for m in APOSTROPHE_YEAR.finditer(text):
        add(Figure(m.group(1), m.start(1), m.end(1), "year", float(m.group(2))), m.start(1), m.end(1))
    for m in ORDINAL.finditer(text):
        add(None, m.start(), m.end())
    for m in FRACTION_DIGITS.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if b:
            add(Figure(m.group(0), m.start(), m.end(), "fraction", a / b, precision=0.0), m.start(), m.end())
    for m in WORD_FRACTION.finditer(text):
        word = m.group(2).lower()
        num, den = UNITS[m.group(1).lower()], DENOMINATORS[word if word in DENOMINATORS else word[:-1]]
        add(Figure(m.group(0), m.start(), m.end(), "fraction", num / den, precision=0.0), m.start(), m.end())
    for m in DIGITS.finditer(text):
        raw = m.group(1)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        fig = _decorate(text, m.start(), m.end(), float(raw.replace(",", "")), 10.0 ** -decimals,
                        plain_year=decimals == 0 and "," not in raw)
        if fig is not None and free(fig.start, fig.end):
            add(fig, fig.start, fig.end)
        elif fig is None:
            add(None, m.start(), m.end())
    for m in WORDS.finditer(text):
        for s, e, value, precision, scale in _parse_words(text, m):
            fig = _decorate(text, s, e, value, precision, plain_year=False, scale=scale)
            if fig is not None:
                add(fig, fig.start, fig.end)
    figures.sort(key=lambda f: f.start)
    return _link_ranges(text, figures)


def _date(text: str, m: re.Match) -> Optional[Figure]:
    g = m.groupdict()
    month = MONTHS[g["m"].rstrip(".").lower()] if g.get("m") else int(g["mm"])
    day = g.get("d") or g.get("dd")
    day = int(re.sub(r"\D", "", day)) if day else None
    year = int(g["y"].lstrip("'’‘")) if g.get("y") else None
    return Figure(m.group(0), m.start(), m.end(), "date", dates=((year, month, day),))


def _numeric_date(a: str, b: str, y: str) -> tuple:
    year = int(y)  # two digits: the century stays open
    readings = []
    for d, mo in ((int(a), int(b)), (int(b), int(a))):
        if 1 <= mo <= 12 and 1 <= d <= 31 and (year, mo, d) not in readings:
            readings.append((year, mo, d))
    return tuple(readings)


def _time(text: str, m: re.Match) -> Figure:
    if m.group("h24") is not None:
        minutes = int(m.group("h24")) * 60 + int(m.group("mi24"))
    else:
        h = int(m.group("h")) % 12 + (12 if m.group("ap").lower() == "p" else 0)
        minutes = h * 60 + int(m.group("mi") or 0)
    return Figure(m.group(0), m.start(), m.end(), "time", float(minutes))


def _parse_words(text: str, m: re.Match):
    """Split a run of number words into numbers: ``twenty-three`` -> 23, ``two million`` -> 2e6."""
    tokens = [(t.group(0).lower(), m.start() + t.start(), m.start() + t.end())
              for t in re.finditer(r"[A-Za-z]+", m.group(0)) if t.group(0).lower() != "and"]
    out: list[tuple[float, int, int]] = []
    cur: list[tuple[str, int, int]] = []

    def flush():
        if not cur:
            return
        words = [w for w, _, _ in cur]
        if words == ["one"] or all(w in SCALE_WORDS for w in words):
            cur.clear()
            return
        total, part, precision, scale = 0.0, 0.0, 1.0, 1.0
        for w in words:
            if w == "a":
                part = 1
            elif w in UNITS or w in TENS:
                part += UNITS.get(w, TENS.get(w, 0))
                precision = 1.0
            elif w == "hundred":
                part = (part or 1) * 100
                precision = 100
            else:
                total += (part or 1) * SCALE_WORDS[w]
                part, precision = 0.0, SCALE_WORDS[w]
                scale = SCALE_WORDS[w] if SCALE_WORDS[w] >= 1e3 else scale
        out.append((cur[0][1], cur[-1][2], total + part, precision, scale))
        cur.clear()

    prev = None
    for w, s, e in tokens:
        small = w in UNITS or w in TENS
        if small and prev is not None and (prev in UNITS or (prev in TENS and w in TENS)):
            flush()
        cur.append((w, s, e))
        prev = w
    flush()
    return out


def _decorate(text: str, start: int, end: int, value: float, precision: float, plain_year: bool,
              scale: float = 1.0) -> Optional[Figure]:
    """Attach currency, scale, percent or unit around a number; None if it is not a figure."""
    kind, unit = "number", None
    pre = PREFIX.search(text[max(0, start - 4):start])
    if pre:
        kind, unit = "money", CURRENCY_SYMBOLS.get(pre.group("sym") or "", pre.group("code"))
        unit = "CNY" if unit == "RMB" else unit
        start -= len(pre.group(0))
    sm = SCALE.match(text, end)
    if sm:
        word = (sm.group("s1") or sm.group("s2") or sm.group("s3")).strip().lower()
        if not (word == "b" and kind != "money") and scale == 1.0:
            scale = SCALES[word]
            value, precision, end = value * scale, precision * scale, sm.end()
    for name, rx in SUFFIXES:
        sx = rx.match(text, end)
        if not sx:
            continue
        if name == "decade":
            if scale == 1.0 and value == int(value) and (value >= 1000 or text[start - 1:start] in ("'", "’")):
                s0 = start - (text[start - 1:start] in ("'", "’"))
                return Figure(text[s0:sx.end()], s0, sx.end(), "decade", value)
            continue
        if name in ("%", "pp"):
            kind, unit = "percent", name
        elif name == "pence" and kind == "number":
            kind, unit, value, precision = "money", "GBP", value / 100, precision / 100
        elif name == "cents" and kind == "number":
            kind, unit = "money", "cents"
        elif name == "money":
            kind, unit = "money", unit or CURRENCY_WORDS[sx.group("w").lower()]
        elif name == "unit" and kind == "number":
            unit = _unit_name(sx.group("u"))
        else:
            continue
        end = sx.end()
        break
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        return None  # digits glued to letters: an identifier such as 4G or 3D
    if kind == "number" and plain_year and scale == 1.0 and unit is None and 1000 <= value <= 2199:
        kind = "year"
    return Figure(text[start:end], start, end, kind, value, unit, precision, scale)


def _unit_name(u: str) -> str:
    u = u.lower()
    return {"lbs": "lb", "mins": "min", "hrs": "hr", "secs": "sec", "yrs": "yr", "kph": "km/h"}.get(u, u)


def _link_ranges(text: str, figures: list[Figure]) -> list[Figure]:
    """Ends of a range share currency, percent and scale: ``£2-3bn`` -> £2bn and £3bn."""
    out = list(figures)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        link = text[a.end:b.start]
        if not RANGE_LINK.match(link) or a.kind in ("date", "time") or b.kind in ("date", "time"):
            continue
        if link.strip() == "and" and not text[max(0, a.start - 16):a.start].rstrip().lower().endswith("between"):
            continue
        if b.scale > 1 and a.scale == 1 and a.number * b.scale <= b.number:
            a = replace(a, value=a.number * b.scale, precision=a.precision * b.scale, scale=b.scale,
                        kind="number" if a.kind == "year" else a.kind)
        if b.kind in ("money", "percent") and a.kind in ("number", "year"):
            a = replace(a, kind=b.kind, unit=b.unit)
        elif a.kind == "money" and b.kind in ("number", "year"):
            b = replace(b, kind="money", unit=a.unit)
        out[i], out[i + 1] = a, b
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _rounds_to(summary: Figure, value: float, tolerance: float) -> bool:
    """``value`` written at the summary figure's precision gives the summary figure."""
    if tolerance <= 0 or summary.precision <= 0 or value == 0:
        return False
    return (_close(round(value / summary.precision) * summary.precision, summary.number)
            and abs(summary.number - value) <= tolerance * abs(value))


def _same_year(a: int, b: int) -> bool:
    """Years equal; a two-digit year (below 100, century open) matches on its last two digits."""
    return a % 100 == b % 100 if a < 100 or b < 100 else a == b


def _date_supports(a: Figure, s: Figure) -> bool:
    """The article date gives the summary date's month, and its day and year where the summary
    has them: a date without a (readable) year vouches for no year."""
    for ya, ma, da in a.dates:
        for ys, ms, ds in s.dates:
            if ma == ms and (ds is None or ds == da) and (ys is None or (ya is not None and _same_year(ya, ys))):
                return True
    return False


def supports(article: Figure, summary: Figure, tolerance: float = 0.0) -> Optional[bool]:
    """Whether an article figure supports a summary figure: None if not, else ``rounded``
    (False: the same value; True: the summary rounds the article's value)."""
    a, s = article, summary
    if s.kind == "date":
        return False if a.kind == "date" and _date_supports(a, s) else None
    if s.kind == "time" or a.kind == "time":
        return False if s.kind == a.kind and _close(a.number, s.number) else None
    if s.kind == "decade" or a.kind == "decade":
        if s.kind != a.kind:
            return None
        two_digit = a.number < 1000 or s.number < 1000
        return False if (a.number % 100 == s.number % 100 if two_digit else a.number == s.number) else None
    if s.kind == "year" and s.value is not None and a.kind in ("year", "date"):
        years = [a.value] if a.kind == "year" else [y for y, _, _ in a.dates]
        return False if any(y is not None and _same_year(int(y), int(s.number)) for y in years) else None
    if a.kind == "date":
        return False if s.kind == "number" and any(y is not None and y >= 100 and y == s.value for y, _, _ in a.dates) else None
    if s.kind == "year" and s.value is not None and s.value < 100:
        return None  # '03 needs a year
    a_value = a.number
    if s.kind == "fraction" and a.kind == "percent" and a.unit == "%":
        return True if abs(s.number * 100 - a.number) <= max(tolerance, 0.005) * a.number else None
    if s.kind == "percent" and a.kind == "fraction":
        a_value = a.number * 100
    elif s.kind == "percent" and (a.kind != "percent" or a.unit != s.unit):
        return None  # a percentage needs a percentage: "16%" is not supported by "16 managers"
    elif s.unit is not None and a.unit is not None and s.unit != a.unit:
        return None
    if _close(a_value, s.number):
        return False
    return True if _rounds_to(s, a_value, tolerance) else None


def find_support(summary: Figure, article_figures: list[Figure], tolerance: float = 0.0
                 ) -> tuple[Optional[Figure], bool]:
    """The article figure that supports ``summary`` (an exact one before a rounded one)."""
    return first_support(summary, article_figures, tolerance)


def first_support(summary: Figure, figures: Iterable[Figure], tolerance: float = 0.0
                  ) -> tuple[Optional[Figure], bool]:
    """The first of ``figures`` that contradicts ``summary`` (False), else the first that
    supports it (True), else (None, False)."""
    rounded_match = None
    for a in figures:
        verdict = supports(a, summary, tolerance)
        if verdict is False:
            return a, False
        if verdict is True and rounded_match is None:
            rounded_match = a
    return rounded_match, rounded_match is not None
