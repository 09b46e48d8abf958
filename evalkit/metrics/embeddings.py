"""Each distinct text's token embeddings, computed once per run, as bert-score computes them.

A :class:`TextEncoder` keeps, per distinct text, the token ids bert-score feeds the model
and the token embeddings at the chosen layer. It lives in ``ScoringContext.shared`` so
BERTScore and key-point coverage (and every system of a run) share one model and one
embedding per text. Texts longer than the model's limit are counted, not silently cut. The
model (where it comes from, device, dtype, threads): evalkit/metrics/encoder_model.py.

torch, transformers and bert_score are imported inside functions only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from evalkit.errors import UsageError
from evalkit.metrics.encoder_model import (
    _NO_LIMIT,
    _POSITION_OFFSET_TYPES,
    DEFAULT_TOKENS_PER_BATCH,
    ModelRef,
    check_dtype,
    hub_offline,
    intra_op_threads,
    model_layer_count,
    resolve_device,
)


@dataclass
class Embedded:
    """One text as bert-score sees it: token ids (with special tokens) and their embeddings."""

    ids: list[int]
    emb: Any  # torch.Tensor [tokens, dim] on CPU
    full_length: int  # tokens before truncation

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.ids)


@dataclass
class EncoderStats:
    texts: int = 0
    tokens: int = 0
    padded_tokens: int = 0  # tokens the model ran, padding included
    batches: int = 0
    seconds: float = 0.0
    truncated: dict[str, int] = field(default_factory=dict)  # text -> full token length

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class TextEncoder:
    """A model at one layer plus the token embeddings of every text it has seen."""

    def __init__(self, ref: ModelRef, num_layers: int, device: str, dtype: str = "float32"):
        from bert_score.utils import get_model, get_tokenizer
        from transformers.utils import logging as hf_logging

        self.ref, self.num_layers, self.device = ref, num_layers, resolve_device(device)
        check_dtype(dtype, self.device)
        self.dtype = dtype
        self.notes: list[str] = []
        n_layers = model_layer_count(ref)
        if n_layers is not None and not 0 <= num_layers <= n_layers:
            raise UsageError(f"num_layers={num_layers} is out of range for {ref.label!r} (0..{n_layers})")
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            with hub_offline(ref.local):
                self.tokenizer = get_tokenizer(ref.location, use_fast=False)
                self.model = get_model(ref.location, num_layers, all_layers=False)
        except OSError as e:
            raise UsageError(f"cannot load model {ref.label!r} (the hub is unreachable here; give a local "
                             f"path or an installed package's model): {str(e).splitlines()[0]}") from None
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        self.model.to(self.device)
        if dtype != "float32":
            import torch

            self.model.to(getattr(torch, dtype))  # embeddings come back as float32 for the matching
        self.max_length = self._fix_max_length()
        self._cache: dict[str, Embedded] = {}
        self.stats = EncoderStats()

    def _fix_max_length(self) -> int:
        """bert-score passes ``tokenizer.model_max_length`` as ``max_length``; a tokenizer
        without one reports 1e30 and the fast tokenizers raise OverflowError. Use the
        model's position-embedding count instead (what the model can actually take)."""
        limit = int(self.tokenizer.model_max_length)
        if limit <= _NO_LIMIT:
            return limit
        cfg = self.model.config
        positions = getattr(cfg, "max_position_embeddings", None) or 512
        if getattr(cfg, "model_type", "") in _POSITION_OFFSET_TYPES:
            positions -= 2
        self.tokenizer.model_max_length = int(positions)
        self.notes.append(f"the tokenizer of {self.ref.label} sets no model_max_length; using {positions} "
                          "(the model's position embeddings)")
        return int(positions)

    @property
    def special_ids(self) -> tuple[Optional[int], Optional[int]]:
        return self.tokenizer.sep_token_id, self.tokenizer.cls_token_id

    def encode_ids(self, text: str) -> list[int]:
        """Token ids exactly as bert-score makes them (``sent_encode``: strip, specials, truncation).
        An empty text is just the special tokens; bert-score asks the tokenizer for
        ``build_inputs_with_special_tokens``, which transformers 5.x tokenizers no longer have."""
        from bert_score.utils import sent_encode

        if not text.strip():
            return list(self.tokenizer.encode("", add_special_tokens=True))
        return list(sent_encode(self.tokenizer, text))

    def _full_length(self, text: str, ids: list[int]) -> int:
        if len(ids) < self.max_length:
            return len(ids)
        enc = self.tokenizer(text.strip(), add_special_tokens=True, truncation=False, verbose=False)
        return len(enc["input_ids"])

    def embed(self, texts: Sequence[str], batch_size: int = 64, tokens_per_batch: int = DEFAULT_TOKENS_PER_BATCH) -> None:
        """Embed the texts not seen yet.

        Every new text is tokenized first; then the texts go to the model longest first by
        wordpiece count (ties broken by the text itself, so the order is total and never depends
        on set iteration order, i.e. on PYTHONHASHSEED), in batches of at most ``batch_size``
        texts and ``tokens_per_batch`` padded tokens: texts of about the same length share a
        batch (little padding), and short texts go many at a time (matrix products big enough to
        run at the machine's rate). The model runs with intra-op threads on every CPU this
        process may use; nothing but the forward pass happens per batch."""
        import bert_score.utils as bsu
        import torch

        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not new:
            return
        start = time.perf_counter()
        ids = {t: self.encode_ids(t) for t in new}
        new.sort(key=lambda x: (-len(ids[x]), x))
        pad_id = self.tokenizer.pad_token_id
        with intra_op_threads(), torch.inference_mode():
            i = 0
            while i < len(new):
                longest = len(ids[new[i]])
                take = max(1, min(batch_size, tokens_per_batch // max(longest, 1)))
                batch = new[i:i + take]
                i += take
                padded, lens, mask = bsu.padding([ids[t] for t in batch], pad_id, dtype=torch.long)
                emb = bsu.bert_encode(self.model, padded.to(self.device), attention_mask=mask.to(self.device))
                emb = emb.float().cpu()
                for j, text in enumerate(batch):
                    n = int(lens[j])
                    full = self._full_length(text, ids[text])
                    self._cache[text] = Embedded(ids[text], emb[j, :n], full)
                    self.stats.tokens += n
                    self.stats.padded_tokens += int(padded.shape[1])
                    if full > n:
                        self.stats.truncated[text] = full
                self.stats.batches += 1
        self.stats.texts += len(new)
        self.stats.seconds += time.perf_counter() - start

    def clear(self) -> None:
        """Forget every embedding and the counters; keep the loaded model."""
        self._cache.clear()
        self.stats = EncoderStats()

    def get(self, text: str) -> Embedded:
        if text not in self._cache:
            self.embed([text])
        return self._cache[text]

    def truncation_report(self, texts: Sequence[str], who: str) -> Optional[str]:
        """A line for the run summary when some of ``texts`` exceeded the model's limit."""
        over = {t: self.stats.truncated[t] for t in texts if t in self.stats.truncated}
        if not over:
            return None
        return truncation_text(who, over, len(set(texts)), self.ref.label, self.max_length)


def truncation_text(who: str, over: dict[str, int], distinct: int, label: str, limit: Optional[int]) -> str:
    """The run summary's line about texts over the model's limit (``over``: text -> full length)."""
    return (f"{who}: {len(over)} of {distinct} distinct texts exceed {label}'s limit of {limit} tokens "
            f"(longest: {max(over.values())}); the model sees only their first {limit} tokens, as bert-score does")


def shared_encoder(shared: dict[str, Any], ref: ModelRef, num_layers: int, device: str,
                   dtype: str = "float32") -> TextEncoder:
    """The run's encoder for (model, layer, device, dtype), created on first use."""
    key = f"evalkit.embeddings:{ref.label}:{ref.location}:L{num_layers}:{device}:{dtype}"
    encoder = shared.get(key)
    if encoder is None:
        encoder = TextEncoder(ref, num_layers, device, dtype)
        shared[key] = encoder
    return encoder
