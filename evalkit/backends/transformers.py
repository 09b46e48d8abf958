"""``transformers``: a local (or hub) seq2seq or causal language model, batched.

    evalkit run -s transformers:model=./my-bart,batch_size=8
    evalkit run -s "qwen=transformers:model=Qwen/Qwen2.5-0.5B-Instruct,max_new_tokens=200"

The model loads on first use (a fully cached re-run never loads it). Seq2seq models
(BART, T5, Pegasus) get the article itself by default (``prompt="summarize: {article}"``
for T5); causal models get the default summarization prompt, through the tokenizer's chat
template when it has one. Articles longer than the model's input limit are cut at the end
so that the whole prompt fits. Generation is greedy by default and seeded when sampling;
any other ``generate()`` argument goes in ``generation`` (a table in evalkit.toml).

``torch`` and ``transformers`` are imported inside the methods that use them, so listing
backends or a ROUGE-only run never pays for them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import Field

from evalkit.backends.base import Backend, BackendOptions
from evalkit.backends.prompt import DEFAULT_PROMPT, render, resolve_template
from evalkit.errors import BackendError, UsageError
from evalkit.records import GoldItem

_HASH_LIMIT = 64 * 1024 * 1024
_GEN_FIELDS = ("max_new_tokens", "min_new_tokens", "num_beams", "do_sample", "temperature", "top_p", "top_k",
               "repetition_penalty", "no_repeat_ngram_size", "length_penalty")


class Transformers(Backend):
    """Batched ``generate()`` with a Hugging Face model on CPU or GPU."""

    name = "transformers"
    requires_extra = "transformers"
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

    # --- identity -------------------------------------------------------------------------------
    def prompt_text(self) -> Optional[str]:
        return self.template  # None: the kind's default (known only after loading; in "kind"/"model")

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["libraries"] = {d: _version(d) for d in ("transformers", "torch")}
        path = Path(self.options.model).expanduser()
        if path.is_dir():
            ident["model_files"] = _fingerprint(path)
        return ident

    # --- loading --------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        o = self.options
        transformers.utils.logging.disable_progress_bar()
        common = {"revision": o.revision, "trust_remote_code": o.trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(o.model, **common)
            self._causal = o.kind == "causal" or (o.kind == "auto" and not config.is_encoder_decoder)
            self._device = torch.device(_pick_device(o.device, torch))
            dtype = _torch_dtype(o.dtype, self._device, torch)
            auto = AutoModelForCausalLM if self._causal else AutoModelForSeq2SeqLM
            model = auto.from_pretrained(o.model, config=config, **common, **_dtype_kwarg(dtype))
            tok = AutoTokenizer.from_pretrained(o.model, **common)
        except (OSError, ValueError, ImportError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"transformers backend: cannot load model {o.model!r}: {first}") from None
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left" if self._causal else "right"
        model.to(self._device).eval()
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
        template = self.template or (DEFAULT_PROMPT if self._causal else "{article}")
        text = render(template, item)
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
    def summarize_batch(self, items: Sequence[GoldItem]) -> list[Union[str, BackendError]]:
        import torch

        self._load()
        texts = [self._fit(it) for it in items]
        enc = self._tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self._limit,
                        add_special_tokens=not self._chat_rendered())
        enc = {k: v.to(self._device) for k, v in enc.items()}
        torch.manual_seed(self.options.seed)
        try:
            with torch.inference_mode():
                out = self._model.generate(**enc, **self.generation_kwargs())
        except (TypeError, ValueError) as e:  # a bad generation option: every batch would fail
            raise UsageError(f"transformers backend: generate() rejected the options: {e}") from None
        if self._causal:
            out = out[:, enc["input_ids"].shape[1]:]
        decoded = self._tok.batch_decode(out, skip_special_tokens=True)
        return [t.strip() if t.strip() else BackendError("the model generated no text") for t in decoded]

    def summarize(self, item: GoldItem) -> str:
        result = self.summarize_batch([item])[0]
        if isinstance(result, BackendError):
            raise result
        return result

    def close(self) -> None:
        self._model = self._tok = None


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


def _torch_dtype(name: str, device: Any, torch: Any) -> Any:
    if name == "auto":
        return torch.float32 if device.type == "cpu" else "auto"
    return getattr(torch, name)


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``dtype=`` on transformers >= 4.56, ``torch_dtype=`` before."""
    m = re.match(r"(\d+)\.(\d+)", _version("transformers") or "")
    new = m is not None and (int(m.group(1)), int(m.group(2))) >= (4, 56)
    return {"dtype": dtype} if new else {"torch_dtype": dtype}
