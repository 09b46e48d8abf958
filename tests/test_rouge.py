"""ROUGE equals rouge-score called directly (1e-9), hand-computed oracle values, Unicode tokenizer."""

from __future__ import annotations

import math

import pytest
from rouge_score import rouge_scorer, tokenizers
from summeval_data import summeval_articles, summeval_rows

from evalkit.gold import SHIPPED_GOLD, load_gold
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.rouge import ROUGE_TYPES, UnicodeTokenizer
from evalkit.text import split_sentences


def pair(summary, refs, source="src"):
    return Pair(system="s", gold_id="g", summary=summary, source=source, references=tuple(refs))


def test_hand_computed_values():
    # reference tokens: the cat sat on the mat (6); prediction: the cat on the mat (5)
    [res] = build_metric("rouge", {"use_stemmer": False}).score([pair("the cat on the mat", ["the cat sat on the mat"])],
                                                                ScoringContext())
    v = res.values
    assert v["rouge1_p"] == pytest.approx(5 / 5)
    assert v["rouge1_r"] == pytest.approx(5 / 6)
    assert v["rouge1"] == pytest.approx(2 * 1 * (5 / 6) / (1 + 5 / 6))
    # bigrams: ref {the cat, cat sat, sat on, on the, the mat}; pred {the cat, cat on, on the, the mat}: 3 shared
    assert v["rouge2_p"] == pytest.approx(3 / 4)
    assert v["rouge2_r"] == pytest.approx(3 / 5)
    # LCS = the cat on the mat = 5
    assert v["rougeL_r"] == pytest.approx(5 / 6)


def test_multi_reference_mean_and_max():
    refs = ["the cat sat", "a dog ran far away"]
    mean = build_metric("rouge", {"multi_ref": "mean"}).score([pair("the cat ran", refs)], ScoringContext())[0]
    mx = build_metric("rouge", {"multi_ref": "max"}).score([pair("the cat ran", refs)], ScoringContext())[0]
    s = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    per = [s.score(r, "the cat ran")["rouge1"].fmeasure for r in refs]
    assert mean.values["rouge1"] == pytest.approx(sum(per) / 2, abs=1e-12)
    assert mx.values["rouge1"] == pytest.approx(max(per), abs=1e-12)


def _assert_equals_score_multi(values, targets, prediction):
    expected = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True).score_multi(targets, prediction)
    for t in ROUGE_TYPES:
        assert (values[t], values[t + "_p"], values[t + "_r"]) == (
            expected[t].fmeasure, expected[t].precision, expected[t].recall), t


def test_multi_reference_max_is_one_reference_per_type():
    """(P, R, F) all come from the reference with the best F, as rouge-score's score_multi
    (fails on main before issue 9.10: P, R and F were maxed separately, over different references)."""
    summary = "the cat sat on the mat today"
    refs = ["the cat", "the cat sat on the mat today and then it slept for hours in the sun"]
    # reference 0 has the best recall (1.0), reference 1 the best precision and F
    [res] = build_metric("rouge", {"multi_ref": "max", "reference_split": "newline"}).score(
        [pair(summary, refs)], ScoringContext())
    _assert_equals_score_multi(res.values, refs, summary)
    assert res.values["rouge1_r"] < 1.0


def test_multi_reference_max_equals_score_multi_on_summeval():
    rows = summeval_rows(80)
    metric = build_metric("rouge", {"multi_ref": "max", "summary_split": "newline", "reference_split": "newline"})
    pairs = [pair(r["summary"], r["references"], r["source"]) for r in rows]
    for p, res in zip(pairs, metric.score(pairs, ScoringContext())):
        _assert_equals_score_multi(res.values, list(p.references), p.summary)


def test_equals_rouge_score_on_the_gold_set():
    gold = load_gold(SHIPPED_GOLD)
    direct = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    metric = build_metric("rouge")
    pairs = []
    for item in gold.items:
        summary = " ".join(split_sentences(item.article)[:3])  # a lead-3 paragraph
        pairs.append(Pair(system="lead", gold_id=item.id, summary=summary, source=item.article,
                          references=("\n".join(item.key_points),)))
    ours = metric.score(pairs, ScoringContext())
    for p, res in zip(pairs, ours):
        expected = direct.score("\n".join(p.references[0].splitlines()), "\n".join(split_sentences(p.summary)))
        for t in ROUGE_TYPES:
            assert abs(res.values[t] - expected[t].fmeasure) <= 1e-9
            assert abs(res.values[t + "_p"] - expected[t].precision) <= 1e-9
            assert abs(res.values[t + "_r"] - expected[t].recall) <= 1e-9


def test_equals_rouge_score_on_summeval():
    rows = summeval_rows(60)
    direct = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    metric = build_metric("rouge", {"summary_split": "newline", "reference_split": "newline"})
    pairs = [pair(r["summary"], r["references"][:3], r["source"]) for r in rows]
    for p, res in zip(pairs, metric.score(pairs, ScoringContext())):
        for t in ROUGE_TYPES:
            expected = sum(direct.score(ref, p.summary)[t].fmeasure for ref in p.references) / len(p.references)
            assert abs(res.values[t] - expected) <= 1e-9


def test_unicode_tokenizer_matches_default_on_ascii_and_keeps_other_scripts():
    default = tokenizers.DefaultTokenizer(use_stemmer=True)
    uni = UnicodeTokenizer(use_stemmer=True)
    text = "The councils voted 7-2 on Monday; running costs rose 3.4% (to £2.26bn)."
    assert uni.tokenize(text) == default.tokenize(text)
    assert uni.tokenize("Ο δήμαρχος μίλησε") == ["ο", "δήμαρχος", "μίλησε"]
    assert uni.tokenize("市议会投票") == list("市议会投票")
    assert default.tokenize("市议会投票") == []


def test_default_tokenizer_warns_loudly_on_non_latin_text():
    ctx = ScoringContext()
    res = build_metric("rouge").score([pair("Ο δήμαρχος μίλησε χθες", ["Ο δήμαρχος μίλησε"])], ctx)
    assert res[0].values["rouge1"] == 0.0
    assert ctx.warnings and "tokenizer=unicode" in ctx.warnings[0]
    ctx2 = ScoringContext()
    res2 = build_metric("rouge", {"tokenizer": "unicode"}).score([pair("Ο δήμαρχος μίλησε χθες", ["Ο δήμαρχος μίλησε"])], ctx2)
    assert res2[0].values["rouge1"] == pytest.approx(2 * 0.75 * 1 / 1.75)
    assert not ctx2.warnings


def test_lead3_rougelsum_equals_the_by_hand_computation_on_real_news():
    """Lead-3 of real CNN/DailyMail articles against references already one sentence per line:
    rougeLsum equals rouge-score on exactly those lines (fails on main before issue 11: lines
    holding a quotation of two sentences were cut again, and a closing mark got a line of its own)."""
    from evalkit.backends.extractive import Lead
    from evalkit.records import GoldItem

    direct = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    metric = build_metric("rouge")
    lead = Lead(Lead.Options(k=3))
    pairs, expected = [], []
    for i, article in enumerate(summeval_articles("source_raw")):
        sentences = split_sentences(article)
        reference = "\n".join(sentences[3:9])  # by hand: one sentence per line
        summary = lead.summarize(GoldItem(id=str(i), article=article, key_points=["x"]))
        pairs.append(pair(summary, [reference], article))
        expected.append(direct.score(reference, "\n".join(sentences[:3])))
    changed = 0
    for p, res, exp in zip(pairs, metric.score(pairs, ScoringContext()), expected):
        assert metric.prepare(p) == ([p.references[0]], "\n".join(split_sentences(p.source)[:3]))
        for t in ROUGE_TYPES:
            assert res.values[t] == exp[t].fmeasure
        changed += exp["rougeLsum"].fmeasure != exp["rougeL"].fmeasure
    assert changed > 50


def test_key_points_with_abbreviations_are_not_cut():
    """A key point is one line; pysbd would cut "Army Spc." / "Caleb" and "2 a.m." / "Wednesday"."""
    key_points = ["Army Spc. Caleb Smith died in the blast at 2 a.m. Wednesday.", "Officials said 4 p.m. Friday was the deadline."]
    targets, _ = build_metric("rouge").prepare(pair("Caleb died.", ["\n".join(key_points)]))
    assert targets == ["\n".join(key_points)]


def test_lsum_uses_sentence_lines():
    metric = build_metric("rouge")
    targets, prediction = metric.prepare(pair("One thing happened. Then another thing.", ["A: one\nB: two"]))
    assert prediction == "One thing happened.\nThen another thing."
    assert targets == ["A: one\nB: two"]


def test_identity_records_full_config():
    spec = build_metric("rouge").identity()
    assert spec.config["use_stemmer"] is True
    assert spec.config["tokenizer"] == "default"
    assert spec.config["library"] == "rouge-score" and spec.config["library_version"]
    assert spec.headline == list(ROUGE_TYPES)
    assert not math.isnan(len(spec.outputs))
