"""The seam every share runner offers its caller (the CLI, or a library user).

A runner is library code: it never touches the terminal or the process's signals. Its
caller wires stop requests to :meth:`ShareRunner.stop` (the first Ctrl-C: each share
ends what it runs, keeps what it finished) and cancels :meth:`ShareRunner.run` for the
second (every share stops at once; none outlives it), then reads the runner's outcome
(a merged result, the failed shares as data) and decides how to show it.

Code that must run under the caller's stop requests without being a runner (the
``--processes auto`` probe) takes an :data:`Interrupts` factory instead.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol


class ShareRunner(Protocol):
    """Prepare the target once, run share i of N of the job, wait for every share."""

    def stop(self) -> None:
        """A graceful stop: every share ends what it runs and starts nothing more."""

    async def run(self) -> None:
        """Prepare, run the shares until each has ended; cancelled: stop them at once."""


class Stoppable(Protocol):
    """A context manager that turns the caller's stop requests into calls: the first
    to the ``stop`` it was made with, the second cancels the task that called
    :meth:`attach`; ``received`` counts them."""

    received: int

    def attach(self) -> None: ...

    def __enter__(self) -> Stoppable: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


#: ``interrupts(stop)``: how a caller's stop requests reach a run (the CLI: its signals)
Interrupts = Callable[[Callable[[], None]], Stoppable]


class NoInterrupts:
    """For library callers: nothing but the run itself stops it."""

    received = 0

    def __init__(self, stop: Callable[[], None]):
        self.stop = stop

    def attach(self) -> None:
        pass

    def __enter__(self) -> NoInterrupts:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass
