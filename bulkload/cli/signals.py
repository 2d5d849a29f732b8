"""Ctrl-C and SIGTERM for a command-line run, from the first instant to the last.

The first signal asks the run to stop cleanly, the second to stop at once; any later one
is ignored, as are all of them once the run is over while its summary and JSON are
written. Python-level handlers are installed for the whole command (not the event
loop's own, which asyncio removes when the loop closes, restoring the default that kills
the process: a second SIGTERM 50 ms after the first used to exit 143, a Ctrl-C just
before the loop started exited 130).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Coroutine
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the CLI imports this module; asyncio only when a run starts
    import asyncio

    from bulkload.parallel.runner import ShareRunner

R = TypeVar("R")

_HANDLED = (signal.SIGINT, signal.SIGTERM)

#: Set by the console script: the process exits right after the run, so once the run is
#: over signals stay ignored (restoring the defaults would let a late one kill it before
#: it exits with its code). In-process callers (tests) get their handlers back.
ignore_after_run = False


class StopSignals:
    """``with StopSignals(stop) as signals:`` around ``asyncio.run(main())``, and
    ``signals.attach()`` from inside ``main``: the first signal calls ``stop`` (on the
    loop's thread, or at once before the loop runs), the second cancels ``main``."""

    def __init__(self, stop: Callable[[], None]):
        self._stop = stop
        self.received = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}

    def attach(self) -> None:
        """Call from the running main task: the second signal cancels it."""
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def __enter__(self) -> StopSignals:
        for sig in _HANDLED:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_IGN if ignore_after_run else handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        loop = self._loop
        running = loop is not None and not loop.is_closed()
        if self.received == 1:
            if running:
                assert loop is not None
                loop.call_soon_threadsafe(self._stop)
            elif loop is None:
                self._stop()  # before the loop started: the run will see it at once
        elif self.received == 2 and running and self._task is not None:
            assert loop is not None
            loop.call_soon_threadsafe(self._task.cancel)


def run_stoppable(
    runner: ShareRunner[R],
    told: Callable[[], None],
    watch: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> R:
    """Run a share runner (any of them) under the signals, ``watch()`` (the progress
    display) alongside: the first signal stops it gracefully and ``told()`` says so,
    the second cancels it (every share stops at once). Then its outcome."""
    import asyncio
    import contextlib

    from bulkload import event_loop

    def stop() -> None:
        runner.stop()
        told()

    signals = StopSignals(stop)

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        watching = None if watch is None else asyncio.create_task(watch())
        try:
            await runner.run()
        finally:
            if watching is not None:
                await event_loop.cancel_and_wait(watching)

    with signals:
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            event_loop.run_command(main())
        return runner.outcome(stopped=signals.received > 0)
