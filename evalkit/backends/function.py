"""A Python function as a backend: ``fn(item) -> str`` (or a ``Completion``), sync or async.

``evalkit.evaluate(gold, {"mine": my_function})`` wraps the function in a ``FunctionBackend``;
on the command line the same backend is ``-s mine=function:function=mypkg.mod:summarize``
(the module found as ``package.module:Class`` backends are). An async function runs with
``concurrency`` items in flight.

A function's identity (the run's manifest, ``--resume`` checks) is its ``module:name`` and a
hash of its source code; what it captures (closures, globals, a model it calls) is not, so its
outputs are never cached. A run made with a function defined in a module can be resumed from
the command line; one made with a lambda or a nested function needs the function given again
(``evalkit.resume_run(path, systems={"mine": fn})``).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Optional, cast

from pydantic import Field

from evalkit.backends.base import Backend, BackendOptions, Output
from evalkit.errors import UsageError
from evalkit.records import GoldItem

#: what a function backend calls: ``(GoldItem) -> str | Completion``, or a coroutine function returning that
SummarizeFn = Callable[[GoldItem], Any]


class FunctionOptions(BackendOptions):
    function: str = Field(description="the function, as package.module:name")
    concurrency: int = Field(4, ge=1, description="items in flight at once when the function is async")


class FunctionBackend(Backend):
    """A Python function as a summarizer: fn(item) -> str, sync or async (never cached)."""

    name = "function"
    Options = FunctionOptions
    cacheable = False
    runtime_options: ClassVar[tuple[str, ...]] = ("concurrency",)

    def __init__(self, fn: SummarizeFn | FunctionOptions | None = None, *, concurrency: int = 4) -> None:
        if isinstance(fn, FunctionOptions) or fn is None:
            if fn is None:
                raise UsageError("backend 'function' needs function=package.module:name")
            options, func = fn, _load(fn.function)
        elif callable(fn):
            options, func = FunctionOptions(function=callable_ref(fn), concurrency=concurrency), fn
        else:
            raise TypeError(f"FunctionBackend takes a callable, not {type(fn).__name__}")
        super().__init__(options)
        self.fn: SummarizeFn = func
        self.concurrency = options.concurrency
        self._async = is_async_callable(func)

    @property
    def is_async(self) -> bool:
        return self._async

    def summarize(self, item: GoldItem) -> Output:
        if self._async:
            from evalkit.aio import run_coroutine

            return cast(Output, run_coroutine(self.fn(item)))
        return cast(Output, self.fn(item))

    async def asummarize(self, item: GoldItem) -> Output:
        if self._async:
            return cast(Output, await self.fn(item))
        return cast(Output, await asyncio.to_thread(self.fn, item))

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["source_sha256"] = source_digest(self.fn)
        return ident


def callable_ref(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function (of its class, for a callable object)."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn) else type(fn)
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or type(fn).__name__
    return f"{module}:{name}"


def is_async_callable(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def source_digest(fn: Callable[..., Any]) -> Optional[str]:
    """sha256 of the function's source code (None when Python cannot show it)."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn)
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _load(ref: str) -> SummarizeFn:
    from evalkit.plugins import is_object_ref, load_object

    if not is_object_ref(ref):
        raise UsageError(f"backend 'function': {ref!r} is not package.module:name (a lambda or a nested function "
                         "cannot be found again: pass the function itself, e.g. evalkit.resume_run(path, "
                         "systems={'NAME': fn})")
    fn = load_object(ref)
    if not callable(fn):
        raise UsageError(f"backend 'function': {ref!r} is not callable")
    return cast(SummarizeFn, fn)
