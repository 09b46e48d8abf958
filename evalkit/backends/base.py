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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Union

from pydantic import BaseModel, ConfigDict

from evalkit.errors import BackendError
from evalkit.records import GoldItem, Usage
from evalkit.redact import REDACTED, SECRET_OPTION_WORDS, is_secret_option, redact_options, redact_value

__all__ = ["REDACTED", "SECRET_OPTION_WORDS", "Backend", "BackendOptions", "Completion", "Output",
           "is_secret_option", "redact"]

#: every field of a gold item (the default of ``Backend.reads``)
ALL_ITEM_FIELDS: tuple[str, ...] = tuple(GoldItem.model_fields)


class BackendOptions(BaseModel):
    """Base for a backend's options: unknown keys are rejected, values are validated."""

    model_config = ConfigDict(extra="forbid")


def redact(options: dict[str, Any]) -> dict[str, Any]:
    """Options as they may be written: secrets masked (see ``evalkit.redact``)."""
    return redact_options(options)


@dataclass(frozen=True)
class Completion:
    """A summary plus what the backend knows about the call that produced it.

    ``finish_reason="length"`` means the output was cut at the token limit: the row keeps the
    text (scored as written, flagged) but it is never cached.
    """

    text: str
    model: Optional[str] = None
    usage: Optional[Usage] = None
    finish_reason: Optional[str] = None


#: what ``summarize`` may return: the text alone, or a ``Completion``
Output = Union[str, Completion]


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
    #: the GoldItem fields the backend reads; only these enter the cache key (default: all)
    reads: ClassVar[tuple[str, ...]] = ALL_ITEM_FIELDS
    #: False: the prediction cache is neither read nor written for this backend (its identity
    #: cannot capture everything its output depends on, e.g. a Python function's closure)
    cacheable: ClassVar[bool] = True
    #: loads a model it keeps between calls: on a Ray cluster (``--executor ray``) it runs in
    #: actors, one model load per worker (and a GPU each where the cluster has them),
    #: instead of one task per row
    holds_model: ClassVar[bool] = False

    def __init__(self, options: BackendOptions | None = None):
        self.options = options if options is not None else self.Options()

    # --- the one method most backends write -------------------------------------------
    def summarize(self, item: GoldItem) -> Output:
        raise NotImplementedError(f"backend {self.name!r} implements neither summarize nor asummarize")

    # --- optional variants --------------------------------------------------------------
    def summarize_batch(self, items: Sequence[GoldItem]) -> Sequence[Union[Output, BackendError]]:
        """Summaries for several items; a failed item is returned as its ``BackendError``."""
        out: list[Union[Output, BackendError]] = []
        for item in items:
            try:
                out.append(self.summarize(item))
            except BackendError as e:
                out.append(e)
        return out

    async def asummarize(self, item: GoldItem) -> Output:
        return await asyncio.to_thread(self.summarize, item)

    @property
    def is_async(self) -> bool:
        return type(self).asummarize is not Backend.asummarize

    def prepare(self, items: Sequence[GoldItem]) -> None:
        """Called once with the items about to be summarized (those the cache did not have),
        before the first ``summarize``: work shared by all of them may be done here at once
        (the extractive backends split every article over both cores). Default: nothing."""

    def prompt_text(self) -> str | None:
        """The prompt this backend sends, if any (part of the cache key)."""
        return None

    def identity(self) -> dict[str, Any]:
        """What determines this backend's output, whatever the item: the cache key is a hash
        of it plus ``cache_inputs(item)``. Secrets are left out (and URL userinfo blanked)."""
        opts = self.options.model_dump(mode="json")
        return {
            "backend": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "options": {k: redact_value(k, v) for k, v in sorted(opts.items()) if not is_secret_option(k)},
            "prompt": self.prompt_text(),
        }

    def cache_inputs(self, item: GoldItem) -> dict[str, Any]:
        """What of ``item`` reaches the backend: the fields it declares in ``reads``.

        Backends that build a request from the item (a prompt) may return the request itself.
        """
        return {f: getattr(item, f) for f in sorted(self.reads)}

    def close(self) -> None:
        """Release resources (processes, HTTP clients, models)."""
