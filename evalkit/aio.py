"""Running a coroutine to completion from synchronous code, wherever that code runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, also from a thread whose event loop is running (a Jupyter cell):
    then the coroutine runs on its own loop in a helper thread while this one waits."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name="evalkit-async-backend")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
