"""Configuration: ``evalkit.toml`` (or ``[tool.evalkit]`` in ``pyproject.toml``).

    [run]                      # defaults for `evalkit run`
    gold = "gold/news-v1.jsonl"
    systems = ["lead", "textrank", "oracle"]
    metrics = "rouge,quotes,numbers"
    max_output_chars = 200000  # a longer backend output is that row's error
    executor = "local"         # or "ray": rows and metrics on a Ray cluster (docs/scale-out.md)

    [systems.llama]            # a named system: -s llama
    backend = "openai"
    model = "llama3.2"
    base_url = "http://127.0.0.1:11434/v1"

    [metrics.rouge]            # options for a metric family
    tokenizer = "unicode"

    [stats]                    # comparisons (see evalkit/comparisons.py)
    min_items = 10             # fewer shared items: "too few items to compare", not tested

    [gate]                     # CI gate rules (see evalkit/gate.py and docs/ci.md)

    [prices]                   # US dollars per million tokens, by model name (see evalkit/usage.py)
    "gpt-4o-mini" = {input = 0.15, output = 0.60}

Unknown tables or keys are errors naming the file and the key.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import InputError
from evalkit.records import Price, SystemSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAMES = ("evalkit.toml", "pyproject.toml")


class RunDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gold: Optional[str] = None
    systems: Optional[list[str]] = None
    metrics: Optional[str] = None
    out: Optional[str] = None
    seed: int = 0
    #: a backend output longer than this is recorded as the row's error (default 200,000)
    max_output_chars: Optional[int] = Field(default=None, ge=1)
    #: where backends and metrics run: "local" (default) or "ray" (the [ray] extra; see docs/scale-out.md)
    executor: Optional[str] = None
    #: the Ray cluster to join with executor = "ray" (RAY_ADDRESS and --ray-address win over it)
    ray_address: Optional[str] = None


class StatsDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: pairs of systems sharing fewer scored items are reported as "too few items to compare"
    min_items: int = Field(default=10, ge=1)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Optional[str] = None
    run: RunDefaults = Field(default_factory=RunDefaults)
    stats: StatsDefaults = Field(default_factory=StatsDefaults)
    systems: dict[str, SystemSpec] = Field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gate: dict[str, Any] = Field(default_factory=dict)
    #: model name -> US dollars per million prompt (input) and completion (output) tokens
    prices: dict[str, Price] = Field(default_factory=dict)

    def relative(self, path: str) -> Path:
        """A path from the config file, relative to that file's folder."""
        p = Path(path)
        if p.is_absolute() or self.path is None:
            return p
        return Path(self.path).parent / p


def find_config(start: Path | None = None) -> Optional[Path]:
    """``evalkit.toml`` in the current directory, else a ``pyproject.toml`` with [tool.evalkit]."""
    folder = start or Path.cwd()
    candidate = folder / "evalkit.toml"
    if candidate.is_file():
        return candidate
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None
        if "evalkit" in data.get("tool", {}):
            return pyproject
    return None


def load_config(path: Path | str | None = None) -> Config:
    """Load the given config file, or the one found in the current directory, or defaults."""
    if path is None:
        found = find_config()
        if found is None:
            return Config()
        path = found
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8: {e}", path=str(path)) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML: {e}", path=str(path)) from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("evalkit", {})
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], source: str) -> Config:
    systems: dict[str, Any] = {}
    for name, table in (data.get("systems") or {}).items():
        if not isinstance(table, dict):
            raise InputError("a system must be a table", path=source, field=f"systems.{name}")
        table = dict(table)
        backend = table.pop("backend", None)
        if not isinstance(backend, str) or not backend:
            raise InputError("missing 'backend'", path=source, field=f"systems.{name}.backend")
        systems[name] = SystemSpec(name=name, backend=backend, options=table)
    try:
        return Config.model_validate({**data, "systems": systems, "path": source})
    except ValidationError as e:
        errors = e.errors()
        err = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])  # a typo before its fallout
        loc = ".".join(str(x) for x in err["loc"])
        msg = unknown_key(err["loc"]) if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(msg, path=source, field=loc) from None


def unknown_key(loc: tuple[Any, ...] | list[Any]) -> str:
    """"unknown key (did you mean 'metrics'?)" for a key of the config that no table has."""
    model: Any = Config
    for part in list(loc)[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:  # a dict of records ([prices] entries): the record is the dict's value type
            args = getattr(model, "__args__", ())
            model = args[-1] if args else None
            continue
        model = field.annotation
    names = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    if not names:
        args = getattr(model, "__args__", ())
        value = args[-1] if args else None
        names = list(value.model_fields) if isinstance(value, type) and issubclass(value, BaseModel) else []
    close = difflib.get_close_matches(str(list(loc)[-1]), names, n=1)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return "unknown key" + (f" (known: {', '.join(names)})" if names else "")
