"""ROUGE equals rouge-score called directly (1e-9), hand-computed oracle values, Unicode tokenizer."""

from __future__ import annotations

import math

import pytest
from rouge_score import rouge_scorer, tokenizers
from summeval_data import summeval_rows

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
