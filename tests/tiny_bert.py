"""Tiny BERT models for tests: random weights from a config (seeded), saved locally, with the
uncased WordPiece vocabulary of the packaged MiniLM (the bert-base-uncased vocabulary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from summeval_data import SUMMEVAL, summeval_rows  # noqa: F401 - re-exported for the tests


def build_tiny_bert(path: Path, *, max_length: Optional[int] = 512, layers: int = 2, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide BERT with random (seeded) weights and a tokenizer at ``path``.
    ``max_length=None`` writes a tokenizer with no ``model_max_length`` (transformers then
    reports 1e30, the case that makes bert-score raise OverflowError)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    from evalkit.metrics.encoder_model import packaged_model_dir

    hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=max_length or 512)
    BertModel(config).save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_dir()))
    tokenizer.model_max_length = max_length or 512
    tokenizer.save_pretrained(path)
    if max_length is None:
        cfg_file = path / "tokenizer_config.json"
        cfg = json.loads(cfg_file.read_text())
        cfg.pop("model_max_length", None)
        cfg.pop("max_length", None)
        cfg_file.write_text(json.dumps(cfg))
    return path
