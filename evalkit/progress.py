"""Progress for the steps that can take a while: scoring metric by metric, writing reports,
meta-evaluation, diff reports. One small helper shared by all of them.

A :class:`Steps` shows one line on stderr — a spinner, what is being done ("scoring:
bertscore"), how many of the steps are done and the time elapsed — while the steps run, and
clears it when they end. It draws only on a terminal (or in a notebook) and only when
enabled, so pipes, CI logs, ``--quiet`` and ``--json`` stay clean; disabled, every call is a
no-op. (The runner's per-system bars, with cache hits and errors, are in runner.py.)

    with Steps("scoring", enabled=progress) as steps:
        score_predictions(gold, predictions, scorers, on_metric=steps.on_metric)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from rich.console import Console


class Steps:
    """A progress line for a stage made of ``total`` steps (see the module doc)."""

    def __init__(self, label: str, *, enabled: bool = True, total: Optional[int] = None,
                 console: Optional[Console] = None) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self._console = console
        self._progress: Any = None
        self._task: Any = None

    @property
    def active(self) -> bool:
        """Whether anything is drawn (enabled, and stderr is a terminal or a notebook)."""
        return self._progress is not None

    def __enter__(self) -> Steps:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = self._console or Console(stderr=True)
        if not (console.is_terminal or console.is_jupyter):
            return self
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def update(self, what: Optional[str] = None, *, completed: Optional[int] = None,
               total: Optional[int] = None) -> None:
        """Say what is being done now (``label: what``) and how many steps are done."""
        if self._progress is None:
            return
        fields: dict[str, Any] = {"description": f"{self.label}: {what}" if what else self.label}
        if completed is not None:
            fields["completed"] = completed
        if total is not None:
            fields["total"] = total
        self._progress.update(self._task, **fields)

    def on_metric(self, name: str, i: int, n: int) -> None:
        """The scoring hook (``on_metric(name, i, n)``): metric family ``name``, the i-th of n (0-based), starts."""
        self.update(name, completed=i, total=n)

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """One step: shown while it runs, counted when it ends."""
        self.update(what)
        yield
        if self._progress is not None:
            self._progress.advance(self._task)
