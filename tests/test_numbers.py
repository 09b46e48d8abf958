"""Figure extraction and normalization, support rules and the number-fidelity metric (issue 4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import UsageError
from evalkit.metrics import ScoringContext, build_metric
from evalkit.metrics.base import Pair
from evalkit.numbers import extract_figures, find_support


def figs(text):
    return [(f.text, f.kind, f.normalized) for f in extract_figures(text)]


# ---------------------------------------------------------------- extraction and normalization

EXTRACTION = [
    # integers, decimals, thousands separators
    ("1250 staff and 1,250 staff", [("1250", "year", "1250"), ("1,250", "number", "1,250")]),
    ("It rose 2.5 points to 1,234,567.89.", [("2.5", "number", "2.5"), ("1,234,567.89", "number", "1,234,567.89")]),
    # money: symbols, codes, words, scale words and suffixes
    ("£2.26bn", [("£2.26bn", "money", "GBP 2,260,000,000")]),
    ("2.26 billion pounds", [("2.26 billion pounds", "money", "GBP 2,260,000,000")]),
    ("£2,260m", [("£2,260m", "money", "GBP 2,260,000,000")]),
    ("£42.5million", [("£42.5million", "money", "GBP 42,500,000")]),
    ("$5m and US$3.5 billion", [("$5m", "money", "USD 5,000,000"), ("US$3.5 billion", "money", "USD 3,500,000,000")]),
    ("€40,000 or EUR 40,000 or 40,000 euros",
     [("€40,000", "money", "EUR 40,000"), ("EUR 40,000", "money", "EUR 40,000"), ("40,000 euros", "money", "EUR 40,000")]),
    ("a $2b deal", [("$2b", "money", "USD 2,000,000,000")]),
    ("50p and 50 pence", [("50p", "money", "GBP 0.50"), ("50 pence", "money", "GBP 0.50")]),
    ("two million pounds", [("two million pounds", "money", "GBP 2,000,000")]),
    # percentages and percentage points
    ("12% then 12 per cent, 12 percent and 12pc",
     [("12%", "percent", "12%"), ("12 per cent", "percent", "12%"), ("12 percent", "percent", "12%"),
      ("12pc", "percent", "12%")]),
    ("up 2 percentage points", [("2 percentage points", "percent", "2 pp")]),
    # counts written as words
    ("Sixteen people, twenty-three dogs and one hundred and five cats",
     [("Sixteen", "number", "16"), ("twenty-three", "number", "23"), ("one hundred and five", "number", "105")]),
    ("a million fans and two dozen eggs", [("a million", "number", "1,000,000"), ("two dozen", "number", "24")]),
    ("a sixteen-year-old", [("sixteen", "number", "16")]),
    # fractions
    ("two-thirds, three quarters and 3/4", [("two-thirds", "fraction", "0.666667"),
                                           ("three quarters", "fraction", "0.75"), ("3/4", "fraction", "0.75")]),
    ("one-half, three halves and one fifth", [("one-half", "fraction", "0.5"), ("three halves", "fraction", "1.5"),
                                              ("one fifth", "fraction", "0.2")]),
    # years, decades, dates, times
    ("in 2026", [("2026", "year", "2026")]),
    ("the 1990s and the ’90s", [("1990s", "decade", "1990s"), ("’90s", "decade", "90s")]),
    ("March 3, 2026 and 3 March 2026 and the 3rd of March 2026 and 2026-03-03",
     [("March 3, 2026", "date", "2026-03-03"), ("3 March 2026", "date", "2026-03-03"),
      ("3rd of March 2026", "date", "2026-03-03"), ("2026-03-03", "date", "2026-03-03")]),
    ("on march 3 and in May 2025", [("march 3", "date", "??-03-03"), ("May 2025", "date", "2025-05-??")]),
    ("on 03/04/2026", [("03/04/2026", "date", "2026-04-03 or 2026-03-04")]),
    ("at 3pm, 3.30 p.m. and 15:30.", [("3pm", "time", "15:00"), ("3.30 p.m.", "time", "15:30"), ("15:30", "time", "15:30")]),
    # ranges share currency, scale and percent
    ("£2-3bn", [("£2", "money", "GBP 2,000,000,000"), ("3bn", "money", "GBP 3,000,000,000")]),
    ("5-10%", [("5", "percent", "5%"), ("10%", "percent", "10%")]),
    ("between 5 and 10 per cent", [("5", "percent", "5%"), ("10 per cent", "percent", "10%")]),
    ("10 to 12 million", [("10", "number", "10,000,000"), ("12 million", "number", "12,000,000")]),
    ("a 2-1 win", [("2", "number", "2"), ("1", "number", "1")]),
    # physical units are kept as units
    ("5km, 2,500 km and 20°C", [("5km", "number", "5 km"), ("2,500 km", "number", "2,500 km"), ("20°C", "number", "20 °c")]),
    # not figures: list markers, ordinals, identifiers, labels, URLs, "one" as a pronoun, vague plurals
    ("1. First point\n2) Second point\n- 3. third", []),
    ("the 3rd time in the 21st century, first and second", []),
    ("COVID-19 closed the M25; G7 leaders, 4G phones, MP3s, an under-21 side", []),
    ("No. 10 and no 8", []),
    ("see https://example.com/page/2024 or mail a1@b2.com", []),
    ("One of them said one thing; dozens, hundreds and millions came", []),
    ("in mid-2020", [("2020", "year", "2020")]),
    # two-digit and apostrophe years keep their century open (issue 11)
    ("Sep 4, '03 and 4 September ’94", [("Sep 4, '03", "date", "'03-09-04"), ("4 September ’94", "date", "'94-09-04")]),
    ("September '94 and 3/4/99", [("September '94", "date", "'94-09-??"), ("3/4/99", "date", "'99-04-03 or '99-03-04")]),
    ("in '94, the class of ’03", [("'94", "year", "'94"), ("’03", "year", "'03")]),
    ("‘20 people were killed,’ he said", [("20", "number", "20")]),  # an opening quote, not a year
    # list labels and markers are not figures (issue 11)
    ("Point 1: the deal. Point 3: the vote (2) and No. 3.", []),
    ("Key point 2 - costs\nStep 4 in the plan", []),
    ("It fell at point 3 minutes later", [("3", "number", "3")]),
]


@pytest.mark.parametrize("text,expected", EXTRACTION)
def test_extract_figures(text, expected):
    assert figs(text) == expected


def test_figure_offsets_point_into_the_text():
    text = "The deal, worth £2.26bn, closed on March 3, 2026."
    for f in extract_figures(text):
        assert text[f.start:f.end] == f.text


# ---------------------------------------------------------------- support

ARTICLE = ("The deal was worth £2.26bn. About 15.6% of the 1,250 staff and sixteen managers agreed on "
           "3 March 2026; two-thirds voted yes. Costs grew 2 percentage points in the 1990s. At 3pm a "
           "million fans cheered the 2-1 win. It cost $40,000 and 20km of track.")

SUPPORT = [
    # (summary figure text, supported, rounded)
    ("£2,260m", True, False),
    ("2.26 billion pounds", True, False),
    ("2.26 billion", True, False),            # no currency claimed: the value is there
    ("$2.26bn", False, False),                # another currency
    ("£2.3bn", True, True),                   # rounded within 5%
    ("£2bn", False, False),                   # rounding changes the value by 11.5%
    ("£2.62bn", False, False),                # a changed figure
    ("15.6 per cent", True, False),
    ("16%", True, True),
    ("12%", False, False),
    ("1250", True, False),
    ("16", True, False),                      # "sixteen"
    ("seventeen", False, False),
    ("1,000,000", True, False),               # "a million"
    ("March 3, 2026", True, False),
    ("3rd March", True, False),
    ("March 2026", True, False),
    ("March 4, 2026", False, False),
    ("2026", True, False),                    # the year of a date
    ("2025", False, False),
    ("67%", True, True),                      # two-thirds
    ("2/3", True, False),
    ("2 percentage points", True, False),
    ("2%", False, False),                     # percentage points are not per cent
    ("the ’90s", True, False),
    ("the 1980s", False, False),
    ("15:00", True, False),
    ("4pm", False, False),
    ("40,000 dollars", True, False),
    ("€40,000", False, False),
    ("20 km", True, False),
    ("20 miles", True, False),                # "miles" is not a unit we read: a plain 20
    ("2-1", True, False),
]


@pytest.mark.parametrize("summary,supported,rounded", SUPPORT)
def test_support(summary, supported, rounded):
    article = extract_figures(ARTICLE)
    figures = extract_figures(summary)
    assert figures, summary
    results = [find_support(f, article, tolerance=0.05) for f in figures]
    assert all((m is not None) == supported for m, _ in results), (summary, results)
    assert all(r == rounded for _, r in results)


def test_rounding_can_be_turned_off():
    article = extract_figures(ARTICLE)
    (f,) = extract_figures("£2.3bn")
    assert find_support(f, article, tolerance=0.0) == (None, False)


def test_percentage_needs_a_percentage():
    (f,) = extract_figures("16%")
    assert find_support(f, extract_figures("sixteen managers"), 0.05) == (None, False)


def test_a_date_without_day_in_the_article_does_not_support_a_day():
    (f,) = extract_figures("March 3, 2026")
    assert find_support(f, extract_figures("in March 2026"), 0.0)[0] is None
    (g,) = extract_figures("March 2026")
    assert find_support(g, extract_figures("on March 3, 2026"), 0.0)[0] is not None


@pytest.mark.parametrize("summary,supported", [
    ("September 1994", False), ("September 4, 1994", False), ("in 1994", False),
    ("September 4, 2003", True), ("Sept 2003", True), ("2003", True), ("in '03", True), ("Sep 4", True),
])
def test_two_digit_years_are_read(summary, supported):
    """Fails on main before issue 11: "'03" was not read, and the article's "Sep 4" (no year)
    supported any year."""
    article = extract_figures("The raid on Sep 4, '03 left 20 dead.")
    (f,) = extract_figures(summary)
    assert (find_support(f, article)[0] is not None) == supported, summary


def test_a_date_without_a_year_vouches_for_no_year():
    article = extract_figures("The raid on Sep 4 left 20 dead.")
    for summary, supported in (("September 4, 1994", False), ("September 1994", False), ("September 4", True)):
        (f,) = extract_figures(summary)
        assert (find_support(f, article)[0] is not None) == supported, summary


# ---------------------------------------------------------------- properties

@settings(max_examples=200, deadline=None, derandomize=True)
@given(n=st.integers(0, 10**9))
def test_property_thousands_separators_do_not_change_the_value(n):
    (a,) = extract_figures(f"{n:,} people")
    (b,) = extract_figures(f"{n} people")
    assert a.value == b.value == n
    assert find_support(a, [b])[0] is not None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(millions=st.integers(1, 999_999))
def test_property_money_scales_agree(millions):
    bn = f"{millions / 1000:.6f}".rstrip("0").rstrip(".")
    (a,) = extract_figures(f"£{millions:,}m")
    (b,) = extract_figures(f"£{bn}bn")
    (c,) = extract_figures(f"{bn} billion pounds")
    assert a.value == pytest.approx(b.value) == pytest.approx(c.value) == millions * 1e6
    assert find_support(a, [b])[0] is not None and find_support(c, [a])[0] is not None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(n=st.integers(1, 10**6), delta=st.integers(1, 1000))
def test_property_a_changed_figure_is_caught(n, delta):
    (changed,) = extract_figures(f"{n + delta * max(1, n // 10)} people")
    assert find_support(changed, extract_figures(f"{n} people"), tolerance=0.05)[0] is None


_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
          9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen",
          16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen"}
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}


def _spell(n: int) -> str:
    if n < 20:
        return _WORDS[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _WORDS[n % 10] if n % 10 else "")
    head = _WORDS[n // 100] + " hundred"
    return head + (" and " + _spell(n % 100) if n % 100 else "")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(n=st.integers(2, 999))
def test_property_words_equal_digits(n):
    (w,) = extract_figures(f"They counted {_spell(n)} birds.")
    assert w.value == n
    assert find_support(w, extract_figures(f"They counted {n} birds."))[0] is not None


# ---------------------------------------------------------------- the metric

def _score(summaries, article=ARTICLE, **options):
    metric = build_metric("numbers", options)
    pairs = [Pair(f"s{i}", "g1", s, article, ("ref",)) for i, s in enumerate(summaries)]
    return metric.score(pairs, ScoringContext())


def test_no_figures_is_not_applicable():
    (r,) = _score(["The staff agreed."])
    assert r.values == {"number_fidelity": None, "number_count": 0.0, "number_unsupported": 0.0}
    assert r.detail is None


def test_fidelity_and_unsupported_figures_in_detail():
    summary = "The £2.3bn deal was backed by 16 managers on March 4, 2026."
    (r,) = _score([summary])
    assert r.values == {"number_fidelity": pytest.approx(2 / 3), "number_count": 3.0, "number_unsupported": 1.0}
    assert r.detail["unsupported"] == ["March 4, 2026"]
    deal = r.detail["figures"][0]
    assert (deal["text"], deal["kind"], deal["normalized"], deal["supported"], deal["rounded"]) == (
        "£2.3bn", "money", "GBP 2,300,000,000", True, True)
    assert ARTICLE[slice(*deal["article_span"])] == deal["article_text"] == "£2.26bn"
    for fig in r.detail["figures"]:
        assert summary[slice(*fig["summary_span"])] == fig["text"]


def test_changed_figures_are_caught():
    rs = _score(["The deal was worth £2.62bn.", "About 51.6% of staff agreed.", "Seventeen managers agreed.",
                 "They agreed on 3 May 2026."])
    assert [r.values["number_fidelity"] for r in rs] == [0.0, 0.0, 0.0, 0.0]


def test_options():
    (r,) = _score(["£2.3bn in 2025"], rounding_tolerance="0")
    assert r.values["number_fidelity"] == 0.0
    (r,) = _score(["£2.26bn in 2025"], skip_kinds="year")
    assert r.values == {"number_fidelity": 1.0, "number_count": 1.0, "number_unsupported": 0.0}
    with pytest.raises(UsageError, match="unknown figure kind"):
        build_metric("numbers", {"skip_kinds": "yr"})
    spec = build_metric("numbers").identity()
    assert spec.outputs == ["number_fidelity", "number_count", "number_unsupported"]
    assert spec.config == {"rounding_tolerance": 0.05, "skip_kinds": []}


def test_dates_and_list_labels_through_the_metric():
    """The issue's reproductions: a summary's list labels are not checked figures; a date with
    a two-digit year supports only that year (fails on main before issue 11)."""
    article = "The raid on Sep 4, '03 left 20 dead and cost £2.26bn."
    (labels, wrong_year, right) = _score([
        "Point 1: The raid cost £2.26bn.\nPoint 3: It left 20 dead.",
        "The raid of September 4, 1994 left 20 dead.",
        "The raid of September 4, 2003 left 20 dead.",
    ], article=article)
    assert labels.values == {"number_fidelity": 1.0, "number_count": 2.0, "number_unsupported": 0.0}
    assert wrong_year.values["number_unsupported"] == 1.0 and wrong_year.detail["unsupported"] == ["September 4, 1994"]
    assert right.values["number_fidelity"] == 1.0


def test_support_index_finds_what_the_linear_scan_finds():
    """SupportIndex reads only candidate figures (issue 9.13: the scan was summary figures ×
    article figures); on every SummEval summary and article, at several tolerances, it returns
    the same figure as find_support."""
    from summeval_data import summeval_rows

    from evalkit.number_support import SupportIndex

    checked = 0
    rows = summeval_rows()[::4]
    articles = {r["doc_id"]: extract_figures(r["source_raw"]) for r in rows}
    indexes = {d: SupportIndex(f) for d, f in articles.items()}
    extra = extract_figures("It rose 2.3bn, 16%, two-thirds, in 1994 and in '03, at 3pm, the '90s, 67% and 0.5 "
                            "on Sep 4, '03 and March 3, 2026; sixteen and 2026.")
    for r in rows:
        figures = extract_figures(r["summary"]) + extract_figures(r["source_raw"])[:20] + extra
        for tolerance in (0.0, 0.05, 0.5, 1.0):
            for f in figures:
                assert indexes[r["doc_id"]].find(f, tolerance) == find_support(f, articles[r["doc_id"]], tolerance), f
                checked += 1
    assert checked > 20000
