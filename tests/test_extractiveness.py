"""Extractiveness and length (Grusky et al. 2018): oracle values computed by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.metrics import ScoringContext, build_metric
from evalkit.metrics.base import Pair
from evalkit.metrics.extractiveness import Fragment, greedy_fragments, novel_ngram_share, tokenize


def _values(summary, article, **options):
    metric = build_metric("extractiveness", options)
    (r,) = metric.score([Pair("s", "g", summary, article, ("ref",))], ScoringContext())
    return r.values


def test_hand_computed_example():
    # S = the cat sat on a mat (6); A = the cat sat on the mat today (7)
    # fragments: "the cat sat on" (4) and "mat" (1); "a" is novel
    v = _values("The cat sat on a mat.", "The cat sat on the mat today.")
    assert v == {
        "summary_words": 6.0,
        "compression": pytest.approx(7 / 6),
        "novel_1gram": pytest.approx(1 / 6),       # a
        "novel_2gram": pytest.approx(2 / 5),       # "on a", "a mat"
        "novel_3gram": pytest.approx(2 / 4),       # "sat on a", "on a mat"
        "coverage": pytest.approx(5 / 6),
        "density": pytest.approx((4 ** 2 + 1 ** 2) / 6),
    }


def test_fragments_of_the_hand_computed_example():
    s = tokenize("The cat sat on a mat.")
    a = tokenize("The cat sat on the mat today.")
    assert greedy_fragments(s, a) == [Fragment(0, 0, 4), Fragment(5, 5, 1)]


def test_longest_match_wins_over_the_first():
    # S = b c d; A = b c x b c d: the first "b c" (2) loses to the later "b c d" (3)
    assert greedy_fragments(["b", "c", "d"], ["b", "c", "x", "b", "c", "d"]) == [Fragment(0, 3, 3)]
    v = _values("b c d", "b c x b c d")
    assert v["coverage"] == 1.0 and v["density"] == 3.0


def test_article_scan_resumes_after_a_match_as_in_the_paper():
    # Algorithm 1 (and the Newsroom reference code) sets j <- j' after a match, so the match of
    # "a a b" starting at article position 1 is never tried: fragments "a a" (2) + "b" (1).
    assert greedy_fragments(["a", "a", "b"], ["a", "a", "a", "b"]) == [Fragment(0, 0, 2), Fragment(2, 3, 1)]
    v = _values("a a b", "a a a b")
    assert v["coverage"] == 1.0 and v["density"] == pytest.approx(5 / 3)


def test_fully_abstractive_and_fully_extractive():
    v = _values("Completely different words here", "The cat sat on the mat.")
    assert (v["coverage"], v["density"], v["novel_1gram"], v["novel_3gram"]) == (0.0, 0.0, 1.0, 1.0)
    v = _values("sat on the mat", "The cat sat on the mat.")
    assert (v["coverage"], v["density"], v["novel_1gram"], v["novel_2gram"]) == (1.0, 4.0, 0.0, 0.0)
    assert v["compression"] == 1.5


def test_repeated_ngrams_count_each_occurrence():
    # S = x x the (3): unigrams x, x novel -> 2/3; bigrams "x x", "x the" both novel -> 1.0
    assert novel_ngram_share(["x", "x", "the"], ["the"], 1) == pytest.approx(2 / 3)
    assert novel_ngram_share(["x", "x", "the"], ["the"], 2) == 1.0
    assert novel_ngram_share(["x"], ["the"], 2) is None


def test_empty_and_short_summaries():
    v = _values("", "The cat sat.")
    assert v == {"summary_words": 0.0, "compression": None, "novel_1gram": None, "novel_2gram": None,
                 "novel_3gram": None, "coverage": None, "density": None}
    v = _values("cat", "The cat sat.")
    assert (v["summary_words"], v["novel_1gram"], v["novel_2gram"], v["coverage"], v["density"]) == (1.0, 0.0, None, 1.0, 1.0)


def test_tokens():
    assert tokenize("Don’t stop: Starmer's £2.26bn plan, 3-0!") == ["don't", "stop", "starmer's", "2.26bn", "plan", "3", "0"]
    assert tokenize("Don’t stop.", punctuation=True) == ["don't", "stop", "."]
    assert tokenize("The Cat", case=True) == ["The", "Cat"]


def test_options_change_tokens():
    assert _values("The cat.", "the cat")["coverage"] == 1.0
    assert _values("The cat.", "the cat", case=True)["coverage"] == 0.5
    v = _values("The cat.", "the cat", punctuation=True)
    assert v["summary_words"] == 3.0 and v["coverage"] == pytest.approx(2 / 3)


def test_articles_tokenized_once_and_batch_scored():
    metric = build_metric("extractiveness")
    pairs = [Pair(f"s{i}", "g", s, "The cat sat on the mat.", ("r",)) for i, s in enumerate(["the cat", "a dog"])]
    rs = metric.score(pairs, ScoringContext())
    assert [r.values["coverage"] for r in rs] == [1.0, 0.0]
    assert metric.identity().outputs == ["summary_words", "compression", "novel_1gram", "novel_2gram",
                                         "novel_3gram", "coverage", "density"]


_tokens = st.lists(st.sampled_from(["a", "b", "c", "d", "the", "cat"]), max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(s=_tokens, a=_tokens)
def test_property_coverage_is_share_of_summary_tokens_found_in_article(s, a):
    frags = greedy_fragments(s, a)
    cov = sum(f.length for f in frags) / len(s) if s else None
    if s:
        assert cov == pytest.approx(1 - novel_ngram_share(s, a, 1))
        dens = sum(f.length ** 2 for f in frags) / len(s)
        assert dens >= cov - 1e-12
    for f in frags:  # every fragment really is shared, and fragments do not overlap in the summary
        assert s[f.summary_start:f.summary_start + f.length] == a[f.article_start:f.article_start + f.length]
    starts = [f.summary_start for f in frags]
    assert starts == sorted(starts)
    assert all(x.summary_start + x.length <= y.summary_start for x, y in zip(frags, frags[1:]))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(a=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=6), min_size=1, max_size=30), data=st.data())
def test_property_a_cut_from_the_article_is_fully_covered(a, data):
    i = data.draw(st.integers(0, len(a) - 1))
    j = data.draw(st.integers(i + 1, len(a)))
    v = _values(" ".join(a[i:j]), " ".join(a))
    assert v["coverage"] == 1.0 and v["novel_1gram"] == 0.0
    assert 1.0 <= v["density"] <= j - i
