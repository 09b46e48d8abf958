"""``transformers``: a local (or hub) seq2seq or causal language model, batched.

    evalkit run -s transformers:model=./my-bart,batch_size=8
    evalkit run -s "qwen=transformers:model=Qwen/Qwen2.5-0.5B-Instruct,max_new_tokens=200"

The model loads on first use (a fully cached re-run never loads it). Seq2seq models
(BART, T5, Pegasus) get the article itself by default (``prompt="summarize: {article}"``
for T5); causal models get the default summarization prompt, through the tokenizer's chat
template when it has one. Articles longer than the model's input limit are cut at the end
so that the whole prompt fits. Generation is greedy by default and seeded when sampling;
any other ``generate()`` argument goes in ``generation`` (a table in evalkit.toml).

Identity (the cache key and the run's identity): every option but runtime ones, the prompt
text actually used (the kind's default included), the ``transformers``/``torch`` versions,
and what pins the weights: a fingerprint of every file of a local model directory, or for
a hub id the commit it resolves to (from the local Hugging Face cache, else asked of the
hub; the model is then loaded at that commit). A hub id that can be resolved neither way is
refused. Each output records its token usage, and ``finish_reason="length"`` when
generation stopped at ``max_new_tokens`` without an end-of-sequence token (kept, flagged,
never cached).

``torch`` and ``transformers`` are imported inside the methods that use them, so listing
backends or a ROUGE-only run never pays for them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import Field

from evalkit.backends.base import Backend, BackendOptions, Completion
from evalkit.backends.prompt import DEFAULT_PROMPT, render, resolve_template
from evalkit.errors import BackendError, UsageError
from evalkit.records import GoldItem, Usage

_HASH_LIMIT = 64 * 1024 * 1024
_GEN_FIELDS = ("max_new_tokens", "min_new_tokens", "num_beams", "do_sample", "temperature", "top_p", "top_k",
               "repetition_penalty", "no_repeat_ngram_size", "length_penalty")


class Transformers(Backend):
    """Batched ``generate()`` with a Hugging Face model on CPU or GPU."""

    name = "transformers"
    requires_extra = "transformers"
    reads = ("article", "title")  # through the prompt template
    holds_model = True
    runtime_options: ClassVar[frozenset[str]] = frozenset({"batch_size"})

    class Options(BackendOptions):
        model: str = Field(min_length=1, description="local directory or hub id")
        revision: Optional[str] = Field(None, description="hub revision (branch, tag or commit)")
        kind: Literal["auto", "seq2seq", "causal"] = Field("auto", description="model type; auto reads the config")
        prompt: Optional[str] = Field(None, description="template with {article} and {title}, or a file")
        chat: Optional[bool] = Field(None, description="use the tokenizer's chat template (default: if it has one)")
        batch_size: int = Field(8, ge=1, description="articles per generate() call")
        device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps")
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
            "auto", description="auto: float32 on CPU, the checkpoint's dtype on GPU")
        max_input_tokens: Optional[int] = Field(None, ge=8, description="cut longer inputs (default: model limit)")
        max_new_tokens: int = Field(256, ge=1, description="longest summary in tokens")
        min_new_tokens: Optional[int] = Field(None, ge=0)
        num_beams: int = Field(1, ge=1)
        do_sample: bool = False
        temperature: Optional[float] = Field(None, gt=0)
        top_p: Optional[float] = Field(None, gt=0, le=1)
        top_k: Optional[int] = Field(None, ge=0)
        repetition_penalty: Optional[float] = Field(None, gt=0)
        no_repeat_ngram_size: Optional[int] = Field(None, ge=0)
        length_penalty: Optional[float] = None
        generation: dict[str, Any] = Field(default_factory=dict, description="more generate() arguments")
        seed: int = Field(0, description="torch seed set before each batch (matters when sampling)")
        trust_remote_code: bool = Field(False, description="run model code shipped with the checkpoint")

    options: Options

    def __init__(self, options: Options | None = None):
        super().__init__(options)
        self.batch_size = self.options.batch_size
        self.template: Optional[str] = resolve_template(self.options.prompt) if self.options.prompt else None
        model = self.options.model
        if model.startswith((".", "/", "~")) and not Path(model).expanduser().is_dir():
            raise UsageError(f"transformers backend: model directory {model!r} does not exist")
        self._model: Any = None
        self._tok: Any = None
        self._causal = False
        self._device: Any = None
        self._limit = 0
        self._source: Optional[tuple[Path, Optional[str]]] = None

    # --- identity -------------------------------------------------------------------------------
    def model_source(self) -> tuple[Path, Optional[str]]:
        """(folder holding the model's files, the hub commit they come from; None: a local folder)."""
        if self._source is None:
            path = Path(self.options.model).expanduser()
            self._source = (path, None) if path.is_dir() else _hub_snapshot(self.options.model, self.options.revision)
        return self._source

    def is_causal(self) -> bool:
        """The model kind, read from its config.json when ``kind=auto`` (no model load)."""
        if self.options.kind != "auto":
            return self.options.kind == "causal"
        if self._model is not None:
            return self._causal
        folder, _ = self.model_source()
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(f"transformers backend: cannot read {folder / 'config.json'} to tell a seq2seq from a "
                             f"causal model ({e}); set kind=seq2seq or kind=causal") from None
        return not bool(config.get("is_encoder_decoder")) if isinstance(config, dict) else True

    def prompt_text(self) -> str:
        """The template used: the ``prompt`` option, else the kind's default."""
        return self.template or (DEFAULT_PROMPT if self.is_causal() else "{article}")

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["libraries"] = {d: _version(d) for d in ("transformers", "torch")}
        folder, commit = self.model_source()
        if commit is None:
            ident["model_files"] = _fingerprint(folder)
        else:
            ident["resolved_revision"] = commit
        return ident

    def cache_inputs(self, item: GoldItem) -> dict[str, Any]:
        return {"prompt": render(self.prompt_text(), item)}

    # --- loading --------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        o = self.options
        transformers.utils.logging.disable_progress_bar()
        _, commit = self.model_source()
        common = {"revision": commit or o.revision, "trust_remote_code": o.trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(o.model, **common)
            self._causal = o.kind == "causal" or (o.kind == "auto" and not config.is_encoder_decoder)
            self._device = _check_device(torch.device(_pick_device(o.device, torch)), torch)
            dtype = _torch_dtype(o.dtype, self._device, torch)
            auto = AutoModelForCausalLM if self._causal else AutoModelForSeq2SeqLM
            model = auto.from_pretrained(o.model, config=config, **common, **_dtype_kwarg(dtype))
            tok = AutoTokenizer.from_pretrained(o.model, **common)
            model.to(self._device).eval()
        except (OSError, ValueError, ImportError, RuntimeError, AssertionError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"transformers backend: cannot load model {o.model!r}: {first}") from None
        if not tok("The summary of an article.", add_special_tokens=False)["input_ids"]:
            # (transformers builds an empty tokenizer for a directory holding none)
            raise UsageError(f"transformers backend: the tokenizer of {o.model!r} turns text into no tokens: "
                             "is there no tokenizer (tokenizer.json, vocab files) in the model directory?")
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left" if self._causal else "right"
        self._model, self._tok = model, tok
        self._limit = self._input_limit(config)

    def _input_limit(self, config: Any) -> int:
        limits = [self.options.max_input_tokens or 10**9]
        if 0 < getattr(self._tok, "model_max_length", 0) < 10**7:
            limits.append(self._tok.model_max_length)
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if positions:
            limits.append(positions - (self.options.max_new_tokens if self._causal else 0))
        limit = min(limits)
        if limit < 8:
            raise UsageError(f"transformers backend: model {self.options.model!r} leaves {limit} input tokens "
                             f"after max_new_tokens={self.options.max_new_tokens}; lower max_new_tokens")
        return limit

    # --- inputs ---------------------------------------------------------------------------------
    def _render(self, item: GoldItem) -> str:
        text = render(self.prompt_text(), item)
        if self._chat_rendered():
            text = self._tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                 add_generation_prompt=True)
        return text

    def _fit(self, item: GoldItem) -> str:
        """The model input for ``item``, with the article cut so that the whole input fits."""
        text = self._render(item)
        n = len(self._tok(text, add_special_tokens=not self._chat_rendered())["input_ids"])
        if n <= self._limit:
            return text
        ids = self._tok(item.article, add_special_tokens=False)["input_ids"]
        keep = max(0, len(ids) - (n - self._limit) - 8)
        short = self._tok.decode(ids[:keep], skip_special_tokens=True)
        return self._render(item.model_copy(update={"article": short}))

    def _chat_rendered(self) -> bool:
        use_chat = self.options.chat if self.options.chat is not None else bool(getattr(self._tok, "chat_template", None))
        return self._causal and use_chat

    def generation_kwargs(self) -> dict[str, Any]:
        o = self.options
        kw = {f: getattr(o, f) for f in _GEN_FIELDS if getattr(o, f) is not None}
        kw.update(o.generation)
        kw.setdefault("pad_token_id", self._tok.pad_token_id)
        return kw

    # --- generation -----------------------------------------------------------------------------
    def summarize_batch(self, items: Sequence[GoldItem]) -> list[Union[Completion, BackendError]]:
        import torch

        self._load()
        texts = [self._fit(it) for it in items]
        enc = self._tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self._limit,
                        add_special_tokens=not self._chat_rendered())
        enc = {k: v.to(self._device) for k, v in enc.items()}
        torch.manual_seed(self.options.seed)
        kwargs = self.generation_kwargs()
        try:
            with torch.inference_mode():
                out = self._model.generate(**enc, **kwargs)
        except (TypeError, ValueError) as e:  # a bad generation option: every batch would fail
            raise UsageError(f"transformers backend: generate() rejected the options: {e}") from None
        out = out[:, enc["input_ids"].shape[1]:] if self._causal else out
        new = out if self._causal else out[:, 1:]  # seq2seq: after the decoder start token
        decoded = self._tok.batch_decode(out, skip_special_tokens=True)
        results: list[Union[Completion, BackendError]] = []
        for i, text in enumerate(decoded):
            if not text.strip():
                results.append(BackendError("the model generated no text"))
                continue
            generated, reason = self._finish(new[i].tolist(), kwargs)
            usage = Usage(prompt_tokens=int(enc["attention_mask"][i].sum()), completion_tokens=generated)
            results.append(Completion(text.strip(), model=self.options.model, usage=usage, finish_reason=reason))
        return results

    def _finish(self, ids: list[int], kwargs: dict[str, Any]) -> tuple[int, str]:
        """(tokens generated, finish reason) of one output: "stop" at an end-of-sequence token,
        "length" when ``max_new_tokens`` ran out first."""
        eos = kwargs.get("eos_token_id", getattr(self._model.generation_config, "eos_token_id", None))
        eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        for n, t in enumerate(ids, 1):
            if t in eos_ids:
                return n, "stop"
        pad = kwargs.get("pad_token_id")
        while ids and ids[-1] == pad:
            ids = ids[:-1]
        limit = kwargs.get("max_new_tokens")
        return len(ids), "length" if limit is not None and len(ids) >= limit else "stop"

    def summarize(self, item: GoldItem) -> Completion:
        result = self.summarize_batch([item])[0]
        if isinstance(result, BackendError):
            raise result
        return result

    def close(self) -> None:
        self._model = self._tok = None


def _hub_snapshot(model: str, revision: Optional[str]) -> tuple[Path, str]:
    """(folder holding the model's config, commit) of a hub id: from the local Hugging Face cache,
    else asked of the hub (unless offline); a revision that resolves neither way is refused."""
    from huggingface_hub import constants, snapshot_download

    try:
        folder = Path(snapshot_download(model, revision=revision, local_files_only=True))
        return folder, folder.name
    except Exception:  # not in the local cache (huggingface_hub raises several types)
        pass
    at = f" at revision {revision!r}" if revision else ""
    refuse = (f"transformers backend: model {model!r}{at} is neither a local directory nor in the local Hugging Face "
              f"cache, so the weights it would load cannot be pinned")
    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"{refuse} (the hub is offline); download it first (huggingface-cli download {model}) "
                         f"or give a local directory")
    try:
        from huggingface_hub import HfApi, hf_hub_download

        commit = HfApi().model_info(model, revision=revision).sha
        config = Path(hf_hub_download(model, "config.json", revision=commit))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"{refuse}: {first}") from None
    if not commit:
        raise UsageError(f"{refuse}: the hub reported no commit")
    return config.parent, commit


def _version(dist: str) -> Optional[str]:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file of a local model: full sha256 up to 64 MiB, else size and mtime."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        st = p.stat()
        rel = p.relative_to(folder).as_posix()
        if st.st_size <= _HASH_LIMIT:
            out[rel] = "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = f"size:{st.st_size},mtime:{st.st_mtime_ns}"
    return out


def _pick_device(device: str, torch: Any) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _check_device(device: Any, torch: Any) -> Any:
    """The device, if this machine has it (else ``RuntimeError``: every batch would fail)."""
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RuntimeError(f"device {str(device)!r} is not available (no CUDA GPU visible to torch "
                               f"{torch.__version__}); use device=cpu or auto")
        if device.index is not None and device.index >= count:
            raise RuntimeError(f"device {str(device)!r} is not available ({count} CUDA GPU(s): cuda:0..cuda:{count - 1})")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError("device 'mps' is not available on this machine; use device=cpu or auto")
    return device


def _torch_dtype(name: str, device: Any, torch: Any) -> Any:
    if name == "auto":
        return torch.float32 if device.type == "cpu" else "auto"
    return getattr(torch, name)


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``dtype=`` on transformers >= 4.56, ``torch_dtype=`` before."""
    m = re.match(r"(\d+)\.(\d+)", _version("transformers") or "")
    new = m is not None and (int(m.group(1)), int(m.group(2))) >= (4, 56)
    return {"dtype": dtype} if new else {"torch_dtype": dtype}
