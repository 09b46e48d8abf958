"""The ``transformers`` backend with tiny models built here from a config (random weights), on CPU.

No hub: the tokenizer is trained on the test articles with ``tokenizers`` and saved with
the model to a temp dir, which the backend loads like any local checkpoint.
"""

from __future__ import annotations

import pytest
from runner_fixtures import make_gold, make_item

from evalkit.backends.registry import build_backend
from evalkit.cache import PredictionCache, identity_digest, output_identity
from evalkit.errors import UsageError
from evalkit.records import SystemSpec
from evalkit.rundir import RunDir
from evalkit.runner import run_systems

GEN = {"max_new_tokens": 6, "min_new_tokens": 6}


def _tokenizer(texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<pad>", "<s>", "</s>", "<unk>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, GPT2Config, GPT2LMHeadModel

    texts = [make_item(i).article for i in range(12)] + ["Summarize the news article below Key Points Title"]
    tok = _tokenizer(texts)
    special = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    bart = BartForConditionalGeneration(BartConfig(
        vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        decoder_start_token_id=2, forced_eos_token_id=None, **special))
    bart.save_pretrained(root / "bart")
    tok.save_pretrained(root / "bart")
    gpt = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=96, n_embd=16, n_layer=1, n_head=2,
                                     **special))
    gpt.save_pretrained(root / "gpt")
    tok.save_pretrained(root / "gpt")
    return root


def spec(path, name="tiny", **opts) -> SystemSpec:
    return SystemSpec(name=name, backend="transformers", options={"model": str(path), "device": "cpu", **GEN, **opts})


def test_seq2seq_batched_through_the_runner_equals_one_by_one(tiny_models, tmp_path):
    gold = make_gold(5)
    preds = run_systems(gold, [spec(tiny_models / "bart", batch_size=2)], RunDir.create(tmp_path / "run"),
                        cache=None, progress=False)
    assert all(p.ok for p in preds), [p.error for p in preds]
    single = build_backend(spec(tiny_models / "bart", batch_size=1))
    assert [p.summary for p in preds] == [single.summarize(it) for it in gold.items]
    assert all(len(p.summary.split()) >= 3 for p in preds)
    assert single._model.device.type == "cpu" and not single._causal


def test_causal_model_left_padded_batches(tiny_models):
    b = build_backend(spec(tiny_models / "gpt", batch_size=3, prompt="{title} . {article} Summary :"))
    items = [make_item(i) for i in range(3)]
    items[1] = items[1].model_copy(update={"article": "Short."})  # very different lengths in one batch
    batched = b.summarize_batch(items)
    assert b._causal and b._tok.padding_side == "left"
    assert all(isinstance(s, str) and s for s in batched)
    assert batched == [b.summarize(it) for it in items]
    # only new tokens are returned, not the prompt
    assert not any(s.startswith("Story") for s in batched)


def test_long_articles_are_cut_to_fit(tiny_models):
    b = build_backend(spec(tiny_models / "gpt", batch_size=2))  # default prompt + 200-word article > 96 positions
    long = make_item(1).model_copy(update={"article": " ".join([make_item(1).article] * 12)})
    out = b.summarize_batch([long, make_item(2)])
    assert all(isinstance(s, str) and s for s in out)
    assert b._limit == 96 - GEN["max_new_tokens"]


def test_generation_options_pass_through(tiny_models):
    beams = build_backend(spec(tiny_models / "bart", generation={"num_beams": 2, "early_stopping": True}))
    assert beams.summarize(make_item(3))
    kw = beams.generation_kwargs()
    assert kw["num_beams"] == 2 and kw["early_stopping"] is True and kw["max_new_tokens"] == 6
    sampled = [build_backend(spec(tiny_models / "bart", do_sample=True, temperature=1.5, seed=s)).summarize(make_item(3))
               for s in (1, 1)]
    assert sampled[0] == sampled[1]  # seeded sampling is reproducible
    bad = build_backend(spec(tiny_models / "bart", generation={"no_such_option": 1}))
    with pytest.raises(UsageError, match="generate"):
        bad.summarize(make_item(0))


def test_cached_rerun_needs_no_model_and_weights_are_in_the_key(tiny_models, tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")
    gold = make_gold(3)
    first = run_systems(gold, [spec(tiny_models / "bart")], RunDir.create(tmp_path / "r1"), cache=cache, progress=False)
    again = run_systems(gold, [spec(tiny_models / "bart")], RunDir.create(tmp_path / "r2"), cache=cache, progress=False)
    assert [p.cached for p in again] == [True] * 3 and [p.summary for p in again] == [p.summary for p in first]
    b = build_backend(spec(tiny_models / "bart"))
    before = identity_digest(output_identity(b))
    assert identity_digest(output_identity(build_backend(spec(tiny_models / "bart", batch_size=32)))) == before
    assert identity_digest(output_identity(build_backend(spec(tiny_models / "bart", num_beams=2)))) != before
    cfg = tiny_models / "bart" / "generation_config.json"
    original = cfg.read_text()
    try:
        cfg.write_text(original.replace("{", '{\n  "_touched": 1,', 1))
        assert identity_digest(output_identity(b)) != before
    finally:
        cfg.write_text(original)


def test_missing_or_broken_model_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="model directory .* does not exist"):
        build_backend(spec(tmp_path / "no-such-model"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    b = build_backend(spec(tmp_path / "broken"))
    with pytest.raises(UsageError, match="cannot load model"):
        b.summarize(make_item(0))
