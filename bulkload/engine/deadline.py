"""Per-write timeouts for many concurrent writes at the cost of a dict entry each.

``asyncio.timeout`` costs a timer and a context object per write, a measurable share of
the engine's per-batch overhead. Here one watchdog task wakes every twentieth of the
timeout and cancels the writes past their deadline; the writer, seeing ``expired``, turns
that cancellation into a TimeoutError. A deadline fires at most 5% late.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bulkload.event_loop import cancel_and_wait


class Deadlines:
    def __init__(self, timeout: float, clock: Callable[[], float]):
        self.timeout = timeout
        self._clock = clock
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    def enter(
        self, task: asyncio.Task[Any] | None = None, now: float | None = None
    ) -> asyncio.Task[Any]:
        """Start the clock for the current task's write (inline: no extra coroutine).
        ``task`` is the current task and ``now`` the clock's reading, when the caller
        has them at hand."""
        if task is None:
            task = asyncio.current_task()
            assert task is not None
        self._due[task] = (self._clock() if now is None else now) + self.timeout
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        return task

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """After a CancelledError: True if it was this watchdog's (a timeout)."""
        return task in self._expired

    def leave(self, task: asyncio.Task[Any]) -> None:
        """Stop the clock; always call it, in a finally."""
        self._due.pop(task, None)
        if task in self._expired:
            # our cancel was consumed (or the write finished first): undo its count
            self._expired.discard(task)
            task.uncancel()

    async def aclose(self) -> None:
        """Stop the watchdog and wait for it: its owner calls this when its writes are
        done, so no task outlives the run that started it."""
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and not watchdog.done():
            await cancel_and_wait(watchdog)

    async def _watch(self) -> None:
        tick = min(max(self.timeout / 20, 0.005), 1.0)
        try:
            while self._due:
                await asyncio.sleep(tick)
                now = self._clock()
                for task, due in list(self._due.items()):
                    if due <= now and task not in self._expired:
                        self._expired.add(task)
                        task.cancel()
        finally:
            self._watchdog = None
