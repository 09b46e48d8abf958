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
    assert [p.summary for p in preds] == [single.summarize(it).text for it in gold.items]
    assert all(len(p.summary.split()) >= 3 for p in preds)
    assert single._model.device.type == "cpu" and not single._causal


def test_causal_model_left_padded_batches(tiny_models):
    b = build_backend(spec(tiny_models / "gpt", batch_size=3, prompt="{title} . {article} Summary :"))
    items = [make_item(i) for i in range(3)]
    items[1] = items[1].model_copy(update={"article": "Short."})  # very different lengths in one batch
    batched = [c.text for c in b.summarize_batch(items)]
    assert b._causal and b._tok.padding_side == "left"
    assert all(isinstance(s, str) and s for s in batched)
    assert batched == [b.summarize(it).text for it in items]
    # only new tokens are returned, not the prompt
    assert not any(s.startswith("Story") for s in batched)


def test_long_articles_are_cut_to_fit(tiny_models):
    b = build_backend(spec(tiny_models / "gpt", batch_size=2))  # default prompt + 200-word article > 96 positions
    long = make_item(1).model_copy(update={"article": " ".join([make_item(1).article] * 12)})
    out = b.summarize_batch([long, make_item(2)])
    assert all(c.text for c in out)
    assert b._limit - 10 <= out[0].usage.prompt_tokens <= b._limit  # the whole (cut) input, counted
    assert b._limit == 96 - GEN["max_new_tokens"]


def test_generation_options_pass_through(tiny_models):
    beams = build_backend(spec(tiny_models / "bart", generation={"num_beams": 2, "early_stopping": True}))
    assert beams.summarize(make_item(3))
    kw = beams.generation_kwargs()
    assert kw["num_beams"] == 2 and kw["early_stopping"] is True and kw["max_new_tokens"] == 6
    sampled = [build_backend(spec(tiny_models / "bart", do_sample=True, temperature=1.5, seed=s)).summarize(make_item(3)).text
               for s in (1, 1)]
    assert sampled[0] == sampled[1]  # seeded sampling is reproducible
    bad = build_backend(spec(tiny_models / "bart", generation={"no_such_option": 1}))
    with pytest.raises(UsageError, match="generate"):
        bad.summarize(make_item(0))


#: the last new token is forced to be </s>: outputs end on their own, within max_new_tokens
ENDS = {"min_new_tokens": None, "generation": {"forced_eos_token_id": 2}}


def test_cached_rerun_needs_no_model_and_weights_are_in_the_key(tiny_models, tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")
    gold = make_gold(3)
    first = run_systems(gold, [spec(tiny_models / "bart", **ENDS)], RunDir.create(tmp_path / "r1"), cache=cache,
                        progress=False)
    assert [p.finish_reason for p in first] == ["stop"] * 3
    again = run_systems(gold, [spec(tiny_models / "bart", **ENDS)], RunDir.create(tmp_path / "r2"), cache=cache,
                        progress=False)
    assert [p.cached for p in again] == [True] * 3 and [p.summary for p in again] == [p.summary for p in first]
    assert [p.usage for p in again] == [p.usage for p in first] and first[0].usage.completion_tokens <= 6
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


def test_outputs_cut_at_max_new_tokens_are_flagged_and_not_cached(tiny_models, tmp_path):
    """[issue 9.2] generation that runs out of max_new_tokens without </s> is finish_reason=length:
    kept, not cached (fails on main before this commit: cached as if complete)."""
    cache = PredictionCache(tmp_path / "c.sqlite")
    gold = make_gold(2)
    first = run_systems(gold, [spec(tiny_models / "bart")], RunDir.create(tmp_path / "r1"), cache=cache, progress=False)
    assert [(p.ok, p.finish_reason, p.usage.completion_tokens) for p in first] == [(True, "length", 6)] * 2
    again = run_systems(gold, [spec(tiny_models / "bart")], RunDir.create(tmp_path / "r2"), cache=cache, progress=False)
    assert [p.cached for p in again] == [False, False] and len(cache) == 0


def test_default_prompt_of_a_causal_model_is_in_its_key(tiny_models):
    """[issue 9.2] the kind's default prompt is part of the identity (fails on main before this commit:
    the identity had prompt None, so editing DEFAULT_PROMPT served stale cached outputs)."""
    from evalkit.backends import prompt

    gpt, bart = build_backend(spec(tiny_models / "gpt")), build_backend(spec(tiny_models / "bart"))
    assert gpt.identity()["prompt"] == prompt.DEFAULT_PROMPT and bart.identity()["prompt"] == "{article}"
    assert gpt._model is None  # told from config.json, without loading the model
    item = make_item(1)
    assert item.title in gpt.cache_inputs(item)["prompt"] and item.title not in bart.cache_inputs(item)["prompt"]


def test_hub_ids_are_pinned_to_the_commit_of_the_local_cache(tiny_models, tmp_path, monkeypatch):
    """[issue 9.2] a hub id without revision is resolved to the commit the local HF cache holds (and
    loaded at it); moving the cache's main to a new commit changes the identity; an id that is not
    in the cache is refused offline (fails on main before this commit: the identity held no revision)."""
    import shutil

    import huggingface_hub.constants as hub_constants

    hub = tmp_path / "hub"
    repo = hub / "models--acme--tiny-bart"
    commits = ["a" * 40, "b" * 40]
    for c in commits:
        shutil.copytree(tiny_models / "bart", repo / "snapshots" / c)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commits[0])
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))

    hub_spec = SystemSpec(name="h", backend="transformers", options={"model": "acme/tiny-bart", "device": "cpu", **GEN})
    b = build_backend(hub_spec)
    assert b.identity()["resolved_revision"] == commits[0]
    local = build_backend(spec(tiny_models / "bart")).summarize(make_item(0)).text
    assert b.summarize(make_item(0)).text == local  # loaded from the pinned snapshot
    before = identity_digest(output_identity(b))
    (repo / "refs" / "main").write_text(commits[1])
    assert identity_digest(output_identity(build_backend(hub_spec))) != before
    missing = hub_spec.model_copy(update={"options": {**hub_spec.options, "model": "acme/not-downloaded"}})
    with pytest.raises(UsageError, match="'acme/not-downloaded' is neither a local directory nor in the local "
                                         "Hugging Face cache.*download it first"):
        build_backend(missing).identity()


def test_missing_or_broken_model_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="model directory .* does not exist"):
        build_backend(spec(tmp_path / "no-such-model"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    b = build_backend(spec(tmp_path / "broken", kind="seq2seq"))
    with pytest.raises(UsageError, match="cannot load model"):
        b.summarize(make_item(0))
    with pytest.raises(UsageError, match="cannot read .*config.json.* set kind=seq2seq or kind=causal"):
        build_backend(spec(tmp_path / "broken")).identity()


def test_an_unavailable_device_or_a_missing_tokenizer_stops_the_run(tiny_models, tmp_path):
    """device=cuda on a machine without one, and a model directory without tokenizer files
    (transformers builds an empty tokenizer), failed every row ('AssertionError: Torch not
    compiled with CUDA enabled', 'IndexError: index -1 is out of bounds'), reloading the model
    for each batch. Now a usage error at load. Fails before this commit."""
    import shutil

    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    b = build_backend(spec(tiny_models / "gpt", device=f"cuda:{count}"))  # one past the last GPU, if any
    with pytest.raises(UsageError, match=r"cannot load model .*: device 'cuda:\d+' is not available"):
        b.summarize(make_item(0))
    bare = tmp_path / "no-tokenizer"
    bare.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(tiny_models / "gpt" / name, bare / name)
    with pytest.raises(UsageError, match="the tokenizer of .* turns text into no tokens"):
        build_backend(spec(bare)).summarize(make_item(0))
