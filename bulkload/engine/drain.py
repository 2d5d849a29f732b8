"""The one fan-out core under the engine's fronts: the import run, ``AsyncLoader``,
``execute_concurrent`` and ``execute_concurrent_queries``. (bench's driver keeps its own
scheduler: its closed and open models and measurement windows decide when a write
starts.)

Feeders put items on a bounded :class:`~bulkload.engine.channel.Channel`; writer tasks
take them one at a time and hand each to the front's ``write``: each writer keeps one
item in flight and takes the next as soon as it is done (the "keep N in flight" pattern
of database drivers' concurrent executors, with no task per item). Writers are started
on demand, up to ``writers``: when a writer takes an item and more wait, and when an
item is queued while every writer is busy, so a write that never answers holds one
writer, not the run. A target that answers at once is served by one or two writers, a
slow or stuck one by all of them.

Structured: the feeders given to :meth:`Drain.run`, the writers and the periodic hook
(the checkpoint's saver) are owned by ``run()``, which returns once the channel is
closed and empty and every writer has ended. Cancelled, it cancels them all and the
cancellation goes on. On every way out the channel is abandoned, so a feeder thread
waiting for room gives up. A front's ``write`` and feeders handle their own errors; an
exception that escapes one stops the drain (feeders stop, writers take nothing more)
and ``run()`` raises it once every task has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from bulkload.engine.channel import Channel
from bulkload.event_loop import cancel_and_wait
from bulkload.stats.run import RunStats

T = TypeVar("T")


class Drain(Generic[T]):
    def __init__(
        self,
        write: Callable[[T], Awaitable[None]],
        *,
        writers: int,
        depth: int,
        stats: RunStats,
        loop: asyncio.AbstractEventLoop | None = None,
        may_grow: Callable[[], bool] | None = None,
        periodic: tuple[float, Callable[[], Awaitable[None]]] | None = None,
    ):
        self._write = write
        self.writers = writers
        self._stats = stats
        self._may_grow = may_grow  # False: the front is winding down, no new writer
        self._periodic = periodic
        self._started = 0
        self._starting = False
        self._group: asyncio.TaskGroup | None = None
        self._failure: BaseException | None = None
        self.channel: Channel[T] = Channel(
            depth, loop or asyncio.get_running_loop(), on_unserved=self._grow
        )

    # ------------------------------------------------------------------ feeding

    def put(self, item: T) -> bool:
        """From a feeder thread: wait for room, then queue ``item``. False once the
        drain has stopped."""
        return self.channel.put(item)

    async def put_async(self, item: T) -> bool:
        """From a feeder on the loop: the same, without blocking the loop."""
        return await self.channel.put_async(item)

    def close(self) -> None:
        """No more items: writers end once the queued ones are written."""
        self.channel.close()

    # ------------------------------------------------------------------ running

    async def run(self, *feeders: Coroutine[Any, Any, None]) -> None:
        """Drain until the channel is closed and empty (or the drain fails), with
        ``feeders`` running alongside."""
        saver = None
        if self._periodic is not None:
            saver = asyncio.create_task(self._every(*self._periodic))
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for feeder in feeders:
                    group.create_task(self._feed(feeder))
                self._start_writer()
        finally:
            self._group = None
            self.channel.abandon()  # feeder threads still waiting for room give up
            if saver is not None:
                await cancel_and_wait(saver)
        if self._failure is not None:
            raise self._failure

    async def _feed(self, feeder: Coroutine[Any, Any, None]) -> None:
        try:
            await feeder
        except Exception as error:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if self._failure is None:
            self._failure = error
        self.channel.abandon()
        self.channel.close()

    def _start_writer(self) -> None:
        assert self._group is not None
        self._started += 1
        self._starting = True
        if self._started >= self.writers:
            self.channel.stop_reporting_unserved()
        self._group.create_task(self._writer())

    def _grow(self) -> None:
        """An item waits and no writer is free: start one more, up to ``writers`` (one
        at a time: the one starting takes an item, then looks again)."""
        if (
            self._group is not None
            and not self._starting
            and self._started < self.writers
            and (self._may_grow is None or self._may_grow())
        ):
            self._start_writer()

    async def _writer(self) -> None:
        self._starting = False
        channel = self.channel
        stats = self._stats
        write = self._write
        while (item := await channel.get()) is not None and self._failure is None:
            if channel.unserved:
                self._grow()
            stats.in_flight += 1
            if stats.in_flight > stats.in_flight_max:
                stats.in_flight_max = stats.in_flight
            if stats.in_flight > stats.in_flight_peak:
                stats.in_flight_peak = stats.in_flight
            try:
                await write(item)
            except Exception as error:  # a front's bug: stop, raised by run()
                self._fail(error)
                return
            finally:
                stats.in_flight -= 1

    @staticmethod
    async def _every(interval: float, hook: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            await hook()
