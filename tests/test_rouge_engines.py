"""The rust ROUGE engine (rouge-score-rs) equals rouge-score, bit for bit, and never imports it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rouge_score import rouge_scorer
from summeval_data import summeval_rows

from evalkit.errors import UsageError
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics import rouge as rouge_module
from evalkit.metrics.rouge import ROUGE_TYPES, UnicodeTokenizer, _combine


def summeval_pairs(n=None):
    return [Pair(system=r["system_id"], gold_id=r["doc_id"], summary=r["summary"], source=r["source"],
                 references=tuple(r["references"])) for r in summeval_rows(n)]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("tokenizer", ["default", "unicode"])
def test_rust_engine_equals_rouge_score_on_all_of_summeval(tokenizer):
    """All 1,600 SummEval pairs x 11 references, the texts prepared as the metric prepares them
    (one sentence per line): every type's P, R and F of every (reference, summary) from
    rouge-score itself; the rust engine's metric values, mean and max over the references, are
    those numbers combined, exactly (==, not approx)."""
    pairs = summeval_pairs()
    rust = {mode: build_metric("rouge", {"engine": "rust", "tokenizer": tokenizer, "multi_ref": mode})
            for mode in ("mean", "max")}
    direct = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True,
                                      tokenizer=UnicodeTokenizer(True) if tokenizer == "unicode" else None)
    context = ScoringContext()
    prepared = [rust["mean"].prepare(p, context.texts) for p in pairs]
    per_ref = [[direct.score(t, summary) for t in targets] for targets, summary in prepared]
    assert sum(len(r) for r in per_ref) == 1600 * 11
    # every single (reference, summary) score, from the rust batch call
    flat_t = [t for targets, _ in prepared for t in targets]
    flat_p = [s for targets, s in prepared for _ in targets]
    batch = rust["mean"].scorer(context.texts).score_batch(flat_t, flat_p)
    expected_flat = [s for refs in per_ref for s in refs]
    for got, want in zip(batch, expected_flat):
        for t in ROUGE_TYPES:
            assert tuple(got[t]) == tuple(want[t])
    for mode, metric in rust.items():
        results = metric.compute(pairs, context)
        for res, refs in zip(results, per_ref):
            assert res.values == _combine(refs, mode)


def test_engines_agree_on_a_slice_both_tokenizers_both_modes():
    pairs = summeval_pairs(60)
    for tokenizer in ("default", "unicode"):
        for mode in ("mean", "max"):
            got = {engine: [r.values for r in build_metric("rouge", {"engine": engine, "tokenizer": tokenizer,
                                                                   "multi_ref": mode}).score(pairs, ScoringContext())]
                   for engine in ("rust", "python")}
            assert got["rust"] == got["python"], (tokenizer, mode)


def test_non_latin_text_with_the_unicode_tokenizer_is_scored_alike():
    pairs = [Pair("s", "g", "Правительство объявило новые меры. 今天天气很好", "src",
                  ("Объявлены новые меры правительства.", "今天天气不错 running runners")),
             Pair("s", "h", "Café déjà vu: the runners were running", "src", ("the runner ran to the café",))]
    for mode in ("mean", "max"):
        values = [[r.values for r in build_metric("rouge", {"engine": e, "tokenizer": "unicode", "multi_ref": mode})
                   .score(pairs, ScoringContext())] for e in ("rust", "python")]
        assert values[0] == values[1] and values[0][0]["rouge1"] > 0


@pytest.mark.parametrize("options", [{}, {"tokenizer": "unicode"}, {"multi_ref": "max", "engine": "rust"}])
def test_rust_path_imports_neither_rouge_score_nor_nltk(options):
    """rouge-score pulls in nltk (seconds of imports); the rust engine needs neither."""
    code = ("import json, sys\n"
            "from evalkit.metrics import Pair, ScoringContext, build_metric\n"
            f"m = build_metric('rouge', {options!r})\n"
            "v = m.score([Pair('s', 'g', 'The cats ran home. They slept.', 'src', ('cats running home',))], ScoringContext())\n"
            "m.identity()\n"
            "print(json.dumps([v[0].values['rouge1'], sorted(k for k in sys.modules if k.split('.')[0] in ('rouge_score', 'nltk'))]))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    value, imported = json.loads(res.stdout)
    assert value > 0 and imported == []


def test_engine_and_its_version_are_recorded_in_the_spec():
    from importlib.metadata import version

    spec = build_metric("rouge").identity().config
    assert (spec["engine"], spec["engine_resolved"], spec["engine_library"]) == ("auto", "rust", "rouge-score-rs")
    assert spec["engine_version"] == version("rouge-score-rs")
    assert spec["library"] == "rouge-score" and spec["library_version"] == version("rouge-score")
    py = build_metric("rouge", {"engine": "python"}).identity().config
    assert (py["engine_resolved"], py["engine_library"], py["engine_version"]) == ("python", "rouge-score",
                                                                                   version("rouge-score"))


def test_auto_falls_back_to_rouge_score_without_the_rust_package(monkeypatch):
    monkeypatch.setattr(rouge_module, "rust_version", lambda: None)
    metric = build_metric("rouge")
    assert metric.engine == "python" and metric.identity().config["engine_library"] == "rouge-score"
    [res] = metric.score([Pair("s", "g", "the cat sat", "src", ("the cat sat on the mat",))], ScoringContext())
    assert res.values["rouge1_p"] == 1.0
    with pytest.raises(UsageError, match="rouge-score-rs"):
        build_metric("rouge", {"engine": "rust"})
    with pytest.raises(UsageError, match="engine"):
        build_metric("rouge", {"engine": "fortran"})
