"""Key-point coverage: which reference key points a summary covers.

For each reference key point, the summary sentence closest in meaning and their cosine
similarity; the key point is *covered* when that similarity is at least ``threshold``.
``kp_recall`` = covered / key points; the item detail lists every key point with its best
sentence, similarity and flag, and the missed ones.

Similarity: the cosine of the mean-pooled token embeddings (special tokens included) of
the key point and of the sentence, taken from the run's shared text encoder — the same
model, layer and cache as BERTScore, so nothing is embedded twice (an article's key
points are embedded once for all systems; sentences systems share, e.g. lead-k outputs,
once). For the default model (all-MiniLM-L6-v2, last layer) this is exactly that model's
sentence-transformers embedding, the one it was trained to compare.

Threshold: 0.5 by default (:data:`DEFAULT_THRESHOLD`), calibrated on the shipped gold set
(news-v1, 265 key points) with the default model: 99.2% of key points reach 0.5 against
their best sentence of their own article, while only 1.1% do against the best sentence of
another article and 4.5% against the other sentences of their own article; 0.5 maximizes
Youden's J on both contrasts (numbers and script: docs/metrics-bertscore.md, benchmarks/kp_threshold.py).

Summary sentences come from ``evalkit.text.split_sentences`` (line breaks are boundaries,
bullets and numbering stripped). A pair without key points falls back to the sentences
of each reference as its key points (scored per reference, aggregated by ``multi_ref``);
with neither, ``kp_recall`` is not applicable. An empty summary covers nothing (0.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Optional

from pydantic import Field

from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.metrics.embeddings import TextEncoder, shared_encoder, truncation_text
from evalkit.metrics.encoder_model import DEFAULT_MODEL, DEFAULT_TOKENS_PER_BATCH, EncoderModel
from evalkit.records import MetricSpec
from evalkit.text import split_sentences, strip_bullet

DEFAULT_THRESHOLD = 0.5


class KeyPointConfig(MetricConfig):
    threshold: float = Field(DEFAULT_THRESHOLD, ge=-1.0, le=1.0,
                             description="cosine similarity at which a key point counts as covered")
    model: Optional[str] = Field(None, description=f"model id or local path (default: {DEFAULT_MODEL}, offline); "
                                 "keep it equal to bertscore's to share embeddings")
    num_layers: Optional[int] = Field(None, ge=0, description="layer (default: as bertscore)")
    batch_size: int = Field(64, ge=1, description="texts per forward pass at most")
    tokens_per_batch: int = Field(DEFAULT_TOKENS_PER_BATCH, ge=1, description="padded wordpieces per forward pass")
    dtype: str = Field("float32", description="float32; float16 or bfloat16 on a GPU (keep it equal to bertscore's "
                       "to share embeddings)")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N, mps")
    multi_ref: Literal["mean", "max"] = Field(
        "mean", description="without key points: aggregate the recall against each reference's sentences")


def summary_sentences(summary: str) -> list[str]:
    return [s for s in (strip_bullet(x) for x in split_sentences(summary)) if s]


class KeyPointCoverage(EncoderModel, Metric):
    name = "keypoints"
    Config = KeyPointConfig
    heavy = True
    requires_extra = "bertscore"

    def outputs(self) -> list[str]:
        return ["kp_recall"]

    reads = ("summary", "references", "key_points")

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        lists = [self._key_point_lists(p) for p in pairs]
        sentences = [summary_sentences(p.summary) for p in pairs]
        texts = [t for kps in lists for kp in kps for t in kp] + [s for ss in sentences for s in ss]
        if not texts:
            return [ItemScore(values={"kp_recall": None}) for _ in pairs]
        encoder = shared_encoder(context.shared, self.model_ref, self.num_layers, self.config.device, self.config.dtype)
        encoder.embed(texts, self.config.batch_size, self.config.tokens_per_batch)
        vectors = _Vectors(encoder)
        results = []
        for pair, kp_lists, sents in zip(pairs, lists, sentences):
            if not kp_lists:
                results.append(ItemScore(values={"kp_recall": None}))
                continue
            matched = [self._match(kps, sents, vectors) for kps in kp_lists]
            recalls = [sum(m["covered"] for m in ms) / len(ms) for ms in matched]
            if pair.key_points:
                detail: dict[str, Any] = {"threshold": self.config.threshold, "key_points": matched[0],
                                          "missed": [m["key_point"] for m in matched[0] if not m["covered"]]}
            else:
                detail = {"threshold": self.config.threshold, "key_points_from": "reference sentences",
                          "per_reference_recall": recalls}
            agg = max(recalls) if self.config.multi_ref == "max" else sum(recalls) / len(recalls)
            own = [t for kps in kp_lists for t in kps] + sents
            over = [[t, encoder.stats.truncated[t]] for t in dict.fromkeys(own) if t in encoder.stats.truncated]
            results.append(ItemScore(values={"kp_recall": agg}, detail=detail,
                                     flags={"truncated": over, "limit": encoder.max_length} if over else None))
        return results

    def report(self, pairs: Sequence[Pair], results: Sequence[ItemScore], context: ScoringContext) -> None:
        over = {t: n for r in results if r.flags for t, n in r.flags.get("truncated", [])}
        if not over:
            return
        texts = {t for p in pairs for kps in self._key_point_lists(p) for t in kps}
        texts.update(s for p in pairs for s in summary_sentences(p.summary))
        limit = next(r.flags["limit"] for r in results if r.flags and "limit" in r.flags)
        context.warnings.append(truncation_text("keypoints", over, len(texts), self.model_ref.label, limit))

    @staticmethod
    def _key_point_lists(pair: Pair) -> list[list[str]]:
        if pair.key_points:
            return [[kp.strip() for kp in pair.key_points if kp.strip()]] if any(k.strip() for k in pair.key_points) else []
        lists = [summary_sentences(ref) for ref in pair.references]
        return [kps for kps in lists if kps]

    def _match(self, key_points: list[str], sentences: list[str], vectors: _Vectors) -> list[dict[str, Any]]:
        out = []
        for kp in key_points:
            best, sim = None, None
            for s in sentences:
                x = vectors.cosine(kp, s)
                if sim is None or x > sim:
                    best, sim = s, x
            out.append({"key_point": kp, "best_sentence": best,
                        "similarity": None if sim is None else round(sim, 6),
                        "covered": sim is not None and sim >= self.config.threshold})
        return out

    def identity(self) -> MetricSpec:
        spec = super().identity()
        spec.config.update({"model": self.model_ref.label, "model_sha256": self.model_ref.sha256,
                            "num_layers": self.num_layers,
                            "similarity": "cosine of mean-pooled token embeddings (special tokens included)",
                            "sentence_splitter": "evalkit.text.split_sentences (pysbd)"})
        return spec


class _Vectors:
    """Unit-length mean-pooled embeddings, computed once per text."""

    def __init__(self, encoder: TextEncoder):
        self.encoder = encoder
        self._cache: dict[str, Any] = {}

    def get(self, text: str) -> Any:
        v = self._cache.get(text)
        if v is None:
            v = self.encoder.get(text).emb.double().mean(dim=0)
            v = v / v.norm().clamp_min(1e-12)
            self._cache[text] = v
        return v

    def cosine(self, a: str, b: str) -> float:
        return float(self.get(a) @ self.get(b))
