"""Key-point coverage: best sentence per key point, similarity, covered flag, missed list;
embeddings shared with BERTScore through the ScoringContext; fallbacks and edge cases."""

from __future__ import annotations

import pytest
from tiny_bert import build_tiny_bert

from evalkit.metrics import Pair, ScoringContext, build_metric
from evalkit.metrics.embeddings import TextEncoder
from evalkit.metrics.encoder_model import resolve_model
from evalkit.metrics.keypoints import DEFAULT_THRESHOLD, KeyPointCoverage, summary_sentences

pytestmark = pytest.mark.timeout(300)

KPS = ("Parliament lowered the voting age from 18 to 16.",
       "The bill passed by 112 votes to 97.",
       "The junior coalition partner split over the vote.")
GOOD = "- The parliament voted to let 16-year-olds vote, down from 18.\n- The measure was approved 112 to 97."
OFF_TOPIC = "Heavy rain flooded the city centre on Friday. Shops stayed closed."


def pair(system: str, summary: str, kps=KPS, refs=None) -> Pair:
    return Pair(system=system, gold_id="politics-01", summary=summary, source="",
                references=("\n".join(kps),) if refs is None else refs, key_points=tuple(kps))


def encoder_of(context: ScoringContext) -> TextEncoder:
    return next(v for v in context.shared.values() if isinstance(v, TextEncoder))


def test_covered_and_missed_key_points_with_the_default_model():
    results = KeyPointCoverage().score([pair("good", GOOD), pair("off", OFF_TOPIC)], ScoringContext())
    good, off = results
    assert good.values == {"kp_recall": pytest.approx(2 / 3)}
    rows = good.detail["key_points"]
    assert [r["key_point"] for r in rows] == list(KPS)
    assert rows[0]["best_sentence"] == "The parliament voted to let 16-year-olds vote, down from 18."  # bullet stripped
    assert rows[1]["best_sentence"] == "The measure was approved 112 to 97."
    assert [r["covered"] for r in rows] == [True, True, False]
    assert all(r["similarity"] >= DEFAULT_THRESHOLD for r in rows[:2]) and rows[2]["similarity"] < DEFAULT_THRESHOLD
    assert good.detail["missed"] == [KPS[2]] and good.detail["threshold"] == DEFAULT_THRESHOLD
    assert off.values == {"kp_recall": 0.0} and off.detail["missed"] == list(KPS)


def test_similarity_is_the_sentence_transformers_cosine_for_the_default_model():
    from sentence_transformers import SentenceTransformer

    results = KeyPointCoverage().score([pair("good", GOOD)], ScoringContext())
    st = SentenceTransformer(resolve_model(None).location, device="cpu")
    for row in results[0].detail["key_points"]:
        a, b = st.encode([row["key_point"], row["best_sentence"]], normalize_embeddings=True)
        assert row["similarity"] == pytest.approx(float(a @ b), abs=1e-5)


def test_threshold_is_an_option_and_deterministic():
    strict = build_metric("keypoints", {"threshold": "0.9"}).score([pair("good", GOOD)], ScoringContext())
    assert strict[0].values["kp_recall"] == 0.0 and strict[0].detail["threshold"] == 0.9
    again = [KeyPointCoverage().score([pair("good", GOOD)], ScoringContext())[0].detail for _ in range(2)]
    assert again[0] == again[1]


def test_reuses_the_encoder_and_embeddings_shared_with_bertscore(tmp_path):
    model = str(build_tiny_bert(tmp_path / "tiny"))
    one_sentence = "Parliament lowered the voting age from 18 to 16."
    pairs = [pair(f"s{k}", one_sentence if k == 0 else f"Sentence {k} about the vote.") for k in range(4)]
    context = ScoringContext()
    build_metric("bertscore", {"model": model}).score(pairs, context)
    encoder = encoder_of(context)
    seen = encoder.stats.texts  # 4 summaries + 1 joined reference
    build_metric("keypoints", {"model": model}).score(pairs, context)
    assert encoder_of(context) is encoder  # same model object, not loaded twice
    # the one-sentence summaries were embedded by bertscore already, and so was the key point equal
    # to one of them: only the 2 other key points are new (embedded once for all 4 systems)
    assert encoder.stats.texts == seen + 2


def test_fallback_to_reference_sentences_and_not_applicable_cases(tmp_path):
    model = str(build_tiny_bert(tmp_path / "tiny"))
    metric = build_metric("keypoints", {"model": model, "threshold": "0.999"})
    refs = ("The cat sat on the mat. It purred.", "A dog barked.")
    with_refs = Pair("s", "g", "The cat sat on the mat.", "", refs)
    nothing = Pair("s", "h", "Some text.", "", ())
    empty = Pair("s", "i", "", "", ("x",), key_points=("A key point.",))
    res = metric.score([with_refs, nothing, empty], ScoringContext())
    assert res[0].values["kp_recall"] == pytest.approx((1 / 2 + 0) / 2)  # mean over references
    assert res[0].detail["key_points_from"] == "reference sentences"
    assert res[0].detail["per_reference_recall"] == [0.5, 0.0]
    assert res[1].values == {"kp_recall": None}
    assert res[2].values == {"kp_recall": 0.0}
    assert res[2].detail["key_points"][0]["best_sentence"] is None
    best = build_metric("keypoints", {"model": model, "threshold": "0.999", "multi_ref": "max"}).score(
        [with_refs], ScoringContext())
    assert best[0].values["kp_recall"] == 0.5


def test_summary_sentences_split_lines_and_strip_bullets():
    assert summary_sentences("Key points:\n- First one. Second one.\n2) Third") == [
        "Key points:", "First one.", "Second one.", "Third"]


def test_identity_records_threshold_model_and_method():
    cfg = KeyPointCoverage().identity().config
    assert cfg["threshold"] == DEFAULT_THRESHOLD and cfg["num_layers"] == 6
    assert cfg["model"] == "sentence-transformers/all-MiniLM-L6-v2" and cfg["model_sha256"]
    assert "mean-pooled" in cfg["similarity"]
