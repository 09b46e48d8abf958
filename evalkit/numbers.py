"""Figures in text, normalized: ``extract_figures(text) -> list[Figure]`` and
``find_support(figure, article_figures)``. Pure functions, no I/O.

A figure is a number with what it measures: plain numbers (``1,250``, ``2.5``, ``16``,
``sixteen``, ``twenty-three``, ``a million``), money (``£2.26bn`` = ``2.26 billion pounds``
= ``£2,260m``; symbols, ISO codes and currency words; ``50p``), percentages (``12%`` =
``12 per cent`` = ``12 percent`` = ``12pc``; percentage points are a unit of their own),
fractions (``two-thirds``, ``3/4``), years, decades (``1990s``, ``’90s``), dates
(``March 3, 2026`` = ``3 March 2026`` = ``2026-03-03``; ``3/4/2026`` is read both ways) and
clock times (``3pm`` = ``15:00``). Scale words and suffixes: k, m/mn, bn/b (with money),
tn/trn, thousand, million, billion, trillion, dozen. In a range (``£2-3bn``,
``5-10%``, ``between 5 and 10 per cent``) each end is a figure and the ends share the
currency, scale and percent sign. Signs are ignored (the prose says "fell" or "rose").

Not figures (ignored on purpose): ordinals (``3rd``, ``first``), list markers at the start
of a line (``1.``, ``2)``), identifiers where digits are glued to letters (``COVID-19``,
``M25``, ``G7``, ``MP3``, ``4G``), ``No. 10``, URLs and e-mail addresses, the lone word
``one`` (usually a pronoun: "one of the players"), and vague plurals (``dozens``,
``hundreds``, ``millions``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Optional

_MONTHS = {m: i for i, ms in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")], 1) for m in ms}
_MONTH = (r"(?:[Jj]anuary|[Ff]ebruary|[Mm]arch|[Aa]pril|May|[Jj]une|[Jj]uly|[Aa]ugust|[Ss]eptember|[Oo]ctober"
          r"|[Nn]ovember|[Dd]ecember|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")  # lower-case: not may/mar
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1\d|20|21)\d\d"
_DATE_PATTERNS = [
    re.compile(rf"\b(?P<d>{_DAY})(?:\s+of)?\s+(?P<m>{_MONTH})(?:,?\s+(?P<y>{_YEAR}))?(?!\w)"),
    re.compile(rf"\b(?P<m>{_MONTH})\s+(?P<d>{_DAY})(?!\d)(?:,?\s+(?P<y>{_YEAR}))?(?![\w])"),
    re.compile(rf"\b(?P<m>{_MONTH}),?\s+(?P<y>{_YEAR})\b"),
    re.compile(rf"\b(?P<y>{_YEAR})-(?P<mm>0[1-9]|1[0-2])-(?P<dd>0[1-9]|[12]\d|3[01])\b"),
]
_NUMERIC_DATE = re.compile(r"(?<![\w./])(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})(?![\w./])")
_TIME = re.compile(r"(?<![\w.:])(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<mi>[0-5]\d))?\s?(?P<ap>[ap])(?:\.m\.|m\b)"
                   r"|(?<![\w.:])(?P<h24>[01]?\d|2[0-3]):(?P<mi24>[0-5]\d)(?![\d:])", re.IGNORECASE)
_IGNORE = [
    re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+"),
    re.compile(r"(?m)^[ \t]*(?:[-*•]\s*)?\(?\d{1,2}[.)](?=\s)"),
    re.compile(r"\b(?:[A-Z][A-Za-z]*-?\d+|[A-Za-z]+\d+)[A-Za-z\d]*\b"),
    re.compile(r"\b(?!(?i:mid|pre|post|late|early|aged?)-)[A-Za-z]+-\d+[A-Za-z\d]*\b"),
    re.compile(r"\b[Nn]o\.?\s?\d+\b"),
]
_ORDINAL = re.compile(r"(?<![\w.])\d+(?:st|nd|rd|th)\b", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")
_FRACTION_DIGITS = re.compile(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w/])")

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALE_WORDS = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "dozen": 12}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALE_WORDS], key=len, reverse=True))
_WORDS = re.compile(rf"\b(?:a\s+(?=(?:hundred|thousand|million|billion|trillion|dozen)\b))?"
                    rf"(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*\b(?!-(?:{_NUMBER_WORD}))",
                    re.IGNORECASE)
_DENOMINATORS = {"half": 2, "halves": 2, "third": 3, "quarter": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9, "tenth": 10}
_WORD_FRACTION = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine)[\s-](half|halves|thirds?|quarters?|fifths?|sixths?|sevenths?"
    r"|eighths?|ninths?|tenths?)\b", re.IGNORECASE)

_CURRENCY_SYMBOLS = {"US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD",
                     "HK$": "HKD", "S$": "SGD", "R$": "BRL", "$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY",
                     "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS"}
_CODES = "USD GBP EUR JPY CNY RMB INR AUD CAD CHF NZD HKD SGD ZAR SEK NOK DKK BRL RUB MXN KRW TRY".split()
_PREFIX = re.compile(r"(?:(?P<sym>" + "|".join(re.escape(s) for s in sorted(_CURRENCY_SYMBOLS, key=len, reverse=True))
                     + r")|\b(?P<code>" + "|".join(_CODES) + r")\s?)$")
_CURRENCY_WORDS = {"dollar": "USD", "pound": "GBP", "sterling": "GBP", "euro": "EUR", "yen": "JPY",
                   "yuan": "CNY", "rupee": "INR", "franc": "CHF", "rouble": "RUB", "ruble": "RUB"}
_SCALE = re.compile(r"(?P<s1>m|k|b|\s?bn|\s?mn|\s?tn|\s?trn)(?![A-Za-z])|\s?(?P<s2>thousand|million|billion|trillion)\b"
                    r"|\s(?P<s3>hundred)\b", re.IGNORECASE)
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9,
           "billion": 1e9, "tn": 1e12, "trn": 1e12, "trillion": 1e12, "hundred": 100}
_SUFFIXES = [
    ("pp", re.compile(r"\s?(?:percentage[-\s]points?|pp|ppts?)\b", re.IGNORECASE)),
    ("%", re.compile(r"\s?(?:%|per\s?cent\b|percent\b|pc\b)", re.IGNORECASE)),
    ("pence", re.compile(r"(?:p\b|\s?pence\b)")),
    ("cents", re.compile(r"\s?(?:cents?\b|c\b)")),
    ("money", re.compile(r"\s(?:(?:US|Australian|Canadian|Hong\sKong|New\sZealand)\s)?(?P<w>dollar|pound|sterling|euro"
                         r"|yen|yuan|rupee|franc|rouble|ruble)s?(?:\s+sterling)?\b", re.IGNORECASE)),
    ("unit", re.compile(r"\s?(?P<u>km/h|km|kg|mph|kph|cm|mm|ft|lbs?|ml|mg|kW|MW|GW|kWh|MWh|GWh|GB|MB|TB|ha"
                        r"|mins?|hrs?|secs?|yrs?|°C|°F|°)(?![A-Za-z])")),
    ("decade", re.compile(r"['’]?s\b")),
]
_RANGE_LINK = re.compile(r"^\s?(?:-|–|—|to)\s?$|^\s+and\s+$")


@dataclass(frozen=True)
class Figure:
    """One figure: where it is (``start``/``end``), what it says, and its normalized value."""

    text: str
    start: int
    end: int
    kind: str  # number | money | percent | fraction | year | decade | date | time
    value: float = math.nan  # NaN for a date (its readings are in ``dates``)
    unit: Optional[str] = None  # currency code, "%", "pp", "cents" or a physical unit
    precision: float = 1.0  # the step of the written form: "2.3bn" -> 1e8
    scale: float = 1.0  # the scale word applied ("bn" -> 1e9)
    dates: tuple[tuple[Optional[int], Optional[int], Optional[int]], ...] = ()  # (year, month, day) readings

    @property
    def normalized(self) -> str:
        if self.kind == "date":
            return " or ".join("-".join("??" if x is None else f"{x:02d}" for x in d) for d in self.dates)
        if self.kind == "time":
            return f"{int(self.value) // 60:02d}:{int(self.value) % 60:02d}"
        v = self.value
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


def extract_figures(text: str) -> list[Figure]:
    """Every figure in ``text`` in order of position."""
    taken: list[tuple[int, int]] = []
    figures: list[Figure] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    def add(fig: Optional[Figure], s: int, e: int) -> None:
        if free(s, e):
            taken.append((s, e))
            if fig is not None:
                figures.append(fig)

    for rx in _IGNORE:
        for m in rx.finditer(text):
            add(None, m.start(), m.end())
    for m in (m for rx in _DATE_PATTERNS for m in rx.finditer(text)):
        add(_date(text, m), m.start(), m.end())
    for m in _NUMERIC_DATE.finditer(text):
        readings = _numeric_date(*m.groups())
        if readings:
            add(Figure(m.group(0), m.start(), m.end(), "date", dates=readings), m.start(), m.end())
    for m in _TIME.finditer(text):
        add(_time(text, m), m.start(), m.end())
    for m in _ORDINAL.finditer(text):
        add(None, m.start(), m.end())
    for m in _FRACTION_DIGITS.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if b:
            add(Figure(m.group(0), m.start(), m.end(), "fraction", a / b, precision=0.0), m.start(), m.end())
    for m in _WORD_FRACTION.finditer(text):
        word = m.group(2).lower()
        num, den = _UNITS[m.group(1).lower()], _DENOMINATORS[word if word in _DENOMINATORS else word[:-1]]
        add(Figure(m.group(0), m.start(), m.end(), "fraction", num / den, precision=0.0), m.start(), m.end())
    for m in _DIGITS.finditer(text):
        raw = m.group(1)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        fig = _decorate(text, m.start(), m.end(), float(raw.replace(",", "")), 10.0 ** -decimals,
                        plain_year=decimals == 0 and "," not in raw)
        if fig is not None and free(fig.start, fig.end):
            add(fig, fig.start, fig.end)
        elif fig is None:
            add(None, m.start(), m.end())
    for m in _WORDS.finditer(text):
        for s, e, value, precision, scale in _parse_words(text, m):
            fig = _decorate(text, s, e, value, precision, plain_year=False, scale=scale)
            if fig is not None:
                add(fig, fig.start, fig.end)
    figures.sort(key=lambda f: f.start)
    return _link_ranges(text, figures)


def _date(text: str, m: re.Match) -> Optional[Figure]:
    g = m.groupdict()
    month = _MONTHS[g["m"].rstrip(".").lower()] if g.get("m") else int(g["mm"])
    day = g.get("d") or g.get("dd")
    day = int(re.sub(r"\D", "", day)) if day else None
    year = int(g["y"]) if g.get("y") else None
    return Figure(m.group(0), m.start(), m.end(), "date", dates=((year, month, day),))


def _numeric_date(a: str, b: str, y: str) -> tuple:
    year = int(y) + (2000 if len(y) == 2 else 0)
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
    out: list[tuple[int, int, float, float, float]] = []
    cur: list[tuple[str, int, int]] = []

    def flush():
        if not cur:
            return
        words = [w for w, _, _ in cur]
        if words == ["one"] or all(w in _SCALE_WORDS for w in words):
            cur.clear()
            return
        total, part, precision, scale = 0.0, 0.0, 1.0, 1.0
        for w in words:
            if w == "a":
                part = 1
            elif w in _UNITS or w in _TENS:
                part += _UNITS.get(w, _TENS.get(w, 0))
                precision = 1.0
            elif w == "hundred":
                part = (part or 1) * 100
                precision = 100
            else:
                total += (part or 1) * _SCALE_WORDS[w]
                part, precision = 0.0, _SCALE_WORDS[w]
                scale = _SCALE_WORDS[w] if _SCALE_WORDS[w] >= 1e3 else scale
        out.append((cur[0][1], cur[-1][2], total + part, precision, scale))
        cur.clear()

    prev = None
    for w, s, e in tokens:
        small = w in _UNITS or w in _TENS
        if small and prev is not None and (prev in _UNITS or (prev in _TENS and w in _TENS)):
            flush()
        cur.append((w, s, e))
        prev = w
    flush()
    return out


def _decorate(text: str, start: int, end: int, value: float, precision: float, plain_year: bool,
              scale: float = 1.0) -> Optional[Figure]:
    """Attach currency, scale, percent or unit around a number; None if it is not a figure."""
    kind, unit = "number", None
    pre = _PREFIX.search(text[max(0, start - 4):start])
    if pre:
        kind, unit = "money", _CURRENCY_SYMBOLS.get(pre.group("sym") or "", pre.group("code"))
        unit = "CNY" if unit == "RMB" else unit
        start -= len(pre.group(0))
    sm = _SCALE.match(text, end)
    if sm:
        word = (sm.group("s1") or sm.group("s2") or sm.group("s3")).strip().lower()
        if not (word == "b" and kind != "money") and scale == 1.0:
            scale = _SCALES[word]
            value, precision, end = value * scale, precision * scale, sm.end()
    for name, rx in _SUFFIXES:
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
            kind, unit = "money", unit or _CURRENCY_WORDS[sx.group("w").lower()]
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
        if not _RANGE_LINK.match(link) or a.kind in ("date", "time") or b.kind in ("date", "time"):
            continue
        if link.strip() == "and" and not text[:a.start].rstrip().lower().endswith("between"):
            continue
        if b.scale > 1 and a.scale == 1 and a.value * b.scale <= b.value:
            a = replace(a, value=a.value * b.scale, precision=a.precision * b.scale, scale=b.scale,
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
    return (_close(round(value / summary.precision) * summary.precision, summary.value)
            and abs(summary.value - value) <= tolerance * abs(value))


def _date_supports(a: Figure, s: Figure) -> bool:
    for ya, ma, da in a.dates:
        for ys, ms, ds in s.dates:
            if ma == ms and (ds is None or ds == da) and (ys is None or ya is None or ys == ya):
                return True
    return False


def supports(article: Figure, summary: Figure, tolerance: float = 0.0) -> Optional[bool]:
    """Whether an article figure supports a summary figure: None if not, else ``rounded``
    (False: the same value; True: the summary rounds the article's value)."""
    a, s = article, summary
    if s.kind == "date":
        return False if a.kind == "date" and _date_supports(a, s) else None
    if s.kind == "time" or a.kind == "time":
        return False if s.kind == a.kind and _close(a.value, s.value) else None
    if s.kind == "decade" or a.kind == "decade":
        if s.kind != a.kind:
            return None
        two_digit = a.value < 1000 or s.value < 1000
        return False if (a.value % 100 == s.value % 100 if two_digit else a.value == s.value) else None
    if a.kind == "date":
        return False if s.kind in ("year", "number") and any(y == s.value for y, _, _ in a.dates) else None
    a_value = a.value
    if s.kind == "fraction" and a.kind == "percent" and a.unit == "%":
        return True if abs(s.value * 100 - a.value) <= max(tolerance, 0.005) * a.value else None
    if s.kind == "percent" and a.kind == "fraction":
        a_value = a.value * 100
    elif s.kind == "percent" and (a.kind != "percent" or a.unit != s.unit):
        return None  # a percentage needs a percentage: "16%" is not supported by "16 managers"
    elif s.unit is not None and a.unit is not None and s.unit != a.unit:
        return None
    if _close(a_value, s.value):
        return False
    return True if _rounds_to(s, a_value, tolerance) else None


def find_support(summary: Figure, article_figures: list[Figure], tolerance: float = 0.0
                 ) -> tuple[Optional[Figure], bool]:
    """The article figure that supports ``summary`` (an exact one before a rounded one)."""
    rounded_match = None
    for a in article_figures:
        verdict = supports(a, summary, tolerance)
        if verdict is False:
            return a, False
        if verdict is True and rounded_match is None:
            rounded_match = a
    return rounded_match, rounded_match is not None
