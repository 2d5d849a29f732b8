"""A bounded channel from feeders to writer tasks on one event loop.

Feeders are plain threads (the import's readers, AsyncLoader's callers), which block in
:meth:`Channel.put` when ``depth`` items wait, or a task on the loop itself
(execute_concurrent's), which awaits :meth:`Channel.put_async`: that is the
back-pressure that keeps memory bounded. Writers (tasks) await the next item. What
makes it cheaper than an asyncio.Queue fed with ``call_soon_threadsafe`` per item, the
pattern that capped the engine at ~5k batches/s:

* the loop is woken only when a writer is idle, once per burst, not once per item;
* a blocked reader is let go at half depth, so it refills in bursts instead of trading
  the GIL with the loop at every item;
* a writer that finds an item waiting takes it without suspending.

An item put while no writer is free to take it (every one is busy, perhaps stuck on a
write that never answers) is reported to ``on_unserved`` on the loop, once per burst,
so the drain can start another writer: a stalled write must not stall the run.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    def __init__(
        self,
        depth: int,
        loop: asyncio.AbstractEventLoop,
        on_unserved: Callable[[], None] | None = None,
    ):
        self.depth = max(depth, 1)
        self._loop = loop
        self._on_unserved = on_unserved  # called on the loop; None: no more writers to add
        self._unserved_pending = False
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._readers_waiting = 0
        self._idle: deque[asyncio.Future[None]] = deque()  # writers waiting for an item
        self._room_waiters: deque[asyncio.Future[None]] = deque()  # put_async() callers
        self._parked = 0  # writers waiting for an item or woken and not yet back
        self._wake_pending = False
        self._closed = False  # no more items will come
        self._abandoned = False  # the writers are gone: readers must stop

    # ------------------------------------------------------------------ reader threads

    def put(self, item: T) -> bool:
        """Wait for room, then add ``item``. False if the channel was abandoned."""
        with self._lock:
            while len(self._items) >= self.depth and not self._abandoned:
                self._readers_waiting += 1
                self._room.wait()
                self._readers_waiting -= 1
            if self._abandoned:
                return False
            self._items.append(item)
            wake = self._needs_wake()
            unserved = not wake and self._needs_writer()
        if wake:
            self._loop.call_soon_threadsafe(self._wake_idle)
        elif unserved:
            self._loop.call_soon_threadsafe(self._report_unserved)
        return True

    async def put_async(self, item: T) -> bool:
        """:meth:`put` for a feeder on the loop: waits for room without blocking the loop."""
        while True:
            with self._lock:
                if self._abandoned:
                    return False
                if len(self._items) < self.depth:
                    self._items.append(item)
                    wake = self._needs_wake()
                    unserved = not wake and self._needs_writer()
                    break
                room = self._loop.create_future()
                self._room_waiters.append(room)
            await room
        if wake:
            self._wake_idle()
        elif unserved:
            self._report_unserved()
        return True

    def close(self) -> None:
        """No more items: writers get None once the channel is empty."""
        with self._lock:
            self._closed = True
            wake = self._needs_wake()
        if wake:
            self._loop.call_soon_threadsafe(self._wake_idle)

    def _needs_wake(self) -> bool:
        """Under the lock: whether to wake the loop for idle writers (once per burst)."""
        if self._idle and not self._wake_pending:
            self._wake_pending = True
            return True
        return False

    def _needs_writer(self) -> bool:
        """Under the lock: whether to tell the loop that no writer is free (once per burst)."""
        if self._on_unserved is not None and not self._parked and not self._unserved_pending:
            self._unserved_pending = True
            return True
        return False

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    # ------------------------------------------------------------------ the loop

    async def get(self) -> T | None:
        """The next item, or None once the channel is closed and empty."""
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    if self._readers_waiting and len(self._items) <= self.depth // 2:
                        self._room.notify_all()
                    if self._room_waiters:
                        _release(self._room_waiters, 1)
                    return item
                if self._closed:
                    return None
                waiter = self._loop.create_future()
                self._idle.append(waiter)
                self._parked += 1
            try:
                await waiter
            finally:
                self._parked -= 1

    @property
    def unserved(self) -> bool:
        """Items wait and no writer is free to take them: another writer would help."""
        return bool(self._items) and not self._parked

    def stop_reporting_unserved(self) -> None:
        """Every writer there may be is running: puts need not tell the loop any more."""
        self._on_unserved = None

    def _report_unserved(self) -> None:
        with self._lock:
            self._unserved_pending = False
        report = self._on_unserved
        if report is not None and self.unserved:  # a writer may have come free since
            report()

    def abandon(self) -> None:
        """The writers stop: feeders waiting for room, or putting later, give up. (Called
        on the loop.)"""
        with self._lock:
            self._abandoned = True
            self._on_unserved = None  # a report still on its way starts no writer
            self._room.notify_all()
            _release(self._room_waiters, len(self._room_waiters))

    def _wake_idle(self) -> None:
        with self._lock:
            self._wake_pending = False
            ready = len(self._items) if not self._closed else len(self._idle)
            while ready and self._idle:
                waiter = self._idle.popleft()
                if not waiter.done():  # a cancelled writer's future is skipped
                    waiter.set_result(None)
                    ready -= 1


def _release(waiters: deque[asyncio.Future[None]], count: int) -> None:
    """Let ``count`` of the waiting put_async() callers go (a cancelled one is skipped)."""
    while count and waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            count -= 1
