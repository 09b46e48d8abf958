"""What a backend is: a name, typed options, and ``summarize(item) -> str``.

A backend is one small class::

    class Lead(Backend):
        name = "lead"

        class Options(BackendOptions):
            k: int = 3

        def summarize(self, item: GoldItem) -> str:
            return " ".join(split_sentences(item.article)[: self.options.k])

Built-ins and third-party plug-ins register the same way: an entry point in the
``evalkit.backends`` group (see ``registry.py``). Backends that can batch override
``summarize_batch``; backends that are naturally async override ``asummarize`` and
set ``concurrency`` (the runner then runs that many items at once).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict

from evalkit.errors import BackendError
from evalkit.records import GoldItem

#: option names whose values are never written anywhere (manifest, cache key, reports)
SECRET_OPTION_WORDS = ("api_key", "apikey", "token", "password", "secret", "authorization")
REDACTED = "***"


class BackendOptions(BaseModel):
    """Base for a backend's options: unknown keys are rejected, values are validated."""

    model_config = ConfigDict(extra="forbid")


def is_secret_option(key: str) -> bool:
    k = key.lower()
    # api_key_env names an environment variable: the name is not secret, its value is.
    if k.endswith("_env"):
        return False
    # [issue 3 fix] whole words of the name, not substrings: "hf_token", "api_key", "apiKey",
    # "password" are secrets; "max_tokens", "max_new_tokens", "tokenizer" are ordinary options
    # that must stay in the manifest and in the cache key.
    words = "_".join(w for w in re.split(r"[^a-z0-9]+", k) if w)
    return any(re.search(rf"(^|_){w}($|_)", words) for w in SECRET_OPTION_WORDS)


def redact(options: dict[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if is_secret_option(k) and v is not None else v) for k, v in options.items()}


class Backend:
    """Base class for summarizer backends. Subclasses set ``name`` and ``Options``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: the pip extra this backend needs (evalkit.extras), checked before it is built
    requires_extra: ClassVar[str | None] = None
    #: items handed to ``summarize_batch`` at once (1: the runner calls it item by item)
    batch_size: int = 1
    #: items in flight at once through ``asummarize``
    concurrency: int = 1

    def __init__(self, options: BackendOptions | None = None):
        self.options = options if options is not None else self.Options()

    # --- the one method most backends write -------------------------------------------
    def summarize(self, item: GoldItem) -> str:
        raise NotImplementedError(f"backend {self.name!r} implements neither summarize nor asummarize")

    # --- optional variants --------------------------------------------------------------
    def summarize_batch(self, items: Sequence[GoldItem]) -> list[Union[str, BackendError]]:
        """Summaries for several items; a failed item is returned as its ``BackendError``."""
        out: list[Union[str, BackendError]] = []
        for item in items:
            try:
                out.append(self.summarize(item))
            except BackendError as e:
                out.append(e)
        return out

    async def asummarize(self, item: GoldItem) -> str:
        return await asyncio.to_thread(self.summarize, item)

    @property
    def is_async(self) -> bool:
        return type(self).asummarize is not Backend.asummarize

    def prompt_text(self) -> str | None:
        """The prompt this backend sends, if any (part of the cache key)."""
        return None

    def identity(self) -> dict[str, Any]:
        """What determines this backend's output: the cache key is a hash of it plus the article."""
        opts = self.options.model_dump(mode="json")
        return {
            "backend": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "options": {k: v for k, v in sorted(opts.items()) if not is_secret_option(k)},
            "prompt": self.prompt_text(),
        }

    def close(self) -> None:
        """Release resources (processes, HTTP clients, models)."""
