"""The reader-to-writer channel: bounded back-pressure, burst wake-ups, close, abandon,
and a cancelled getter. Real threads and a real event loop; every wait has a timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.engine.channel import Channel

WAIT_S = 5.0  # far longer than anything here takes; a hang fails instead of stalling


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(WAIT_S * 2):
            await main()

    event_loop.run(bounded())


def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.005)


def _stays_at(value: Callable[[], int], expected: int, quiet_s: float = 0.1) -> bool:
    """Once ``value()`` reaches ``expected``, whether it stays there for ``quiet_s``
    (a thread blocked as it should be does not move on)."""
    _eventually(lambda: value() >= expected)
    time.sleep(quiet_s)
    return value() == expected


class _Reader(threading.Thread):
    """Puts 0, 1, 2, ... until ``count`` or the channel is abandoned, counting its puts."""

    def __init__(self, channel: Channel[int], count: int):
        super().__init__(daemon=True)
        self.channel = channel
        self.count = count
        self.put = 0
        self.refused = False

    def run(self) -> None:
        for item in range(self.count):
            if not self.channel.put(item):
                self.refused = True
                return
            self.put += 1
        self.channel.close()


def test_a_full_channel_blocks_the_reader_and_lets_it_go_at_half_depth():
    async def main() -> None:
        channel: Channel[int] = Channel(4, asyncio.get_running_loop())
        reader = _Reader(channel, 20)
        reader.start()
        # the reader fills the channel and waits: back-pressure
        assert await asyncio.to_thread(_stays_at, lambda: reader.put, 4)
        assert reader.is_alive()
        # taking one leaves 3 of 4: above half depth, the reader stays blocked
        assert await channel.get() == 0
        assert await asyncio.to_thread(_stays_at, lambda: reader.put, 4)
        # at half depth it is let go and refills the channel in one burst
        assert await channel.get() == 1
        assert await asyncio.to_thread(_stays_at, lambda: reader.put, 6)
        rest = []
        while (item := await channel.get()) is not None:
            rest.append(item)
        assert rest == list(range(2, 20))  # in order, none lost, none twice
        await asyncio.to_thread(reader.join, WAIT_S)
        assert not reader.is_alive() and reader.put == 20

    _run(main)


def test_items_put_while_a_writer_waits_wake_the_loop_once_per_burst():
    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = 0
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return call_soon_threadsafe(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        channel: Channel[int] = Channel(100, loop)
        getter = asyncio.create_task(channel.get())
        await asyncio.sleep(0)  # the writer parks: it waits for an item
        # a burst of 50 puts before the loop runs again: one wake-up, not 50
        for item in range(50):
            assert channel.put(item)
        assert await getter == 0
        assert wakeups == 1
        assert [await channel.get() for _ in range(49)] == list(range(1, 50))
        # a writer that finds items waiting takes them without a wake-up
        channel.put(50)
        assert await channel.get() == 50 and wakeups == 1

    _run(main)


def test_close_drains_what_is_left_then_every_writer_gets_none():
    async def main() -> None:
        channel: Channel[str] = Channel(8, asyncio.get_running_loop())
        channel.put("a")
        channel.put("b")
        channel.close()
        assert await channel.get() == "a"
        assert await channel.get() == "b"
        assert await channel.get() is None

        # writers already waiting when the channel closes are all woken, with None
        idle: Channel[str] = Channel(8, asyncio.get_running_loop())
        waiting = [asyncio.create_task(idle.get()) for _ in range(3)]
        await asyncio.sleep(0)
        await asyncio.to_thread(idle.close)  # from a reader thread, as the engine does
        assert await asyncio.gather(*waiting) == [None, None, None]

    _run(main)


def test_abandon_releases_a_blocked_reader_and_refuses_later_puts():
    async def main() -> None:
        channel: Channel[int] = Channel(2, asyncio.get_running_loop())
        reader = _Reader(channel, 10)
        reader.start()
        assert await asyncio.to_thread(_stays_at, lambda: reader.put, 2)
        channel.abandon()  # the writers are gone
        await asyncio.to_thread(reader.join, WAIT_S)
        assert not reader.is_alive(), "a reader blocked on a full channel was not released"
        assert reader.refused and reader.put == 2
        assert channel.abandoned and channel.put(99) is False

    _run(main)


def test_a_cancelled_getter_does_not_swallow_an_item_or_block_the_others():
    async def main() -> None:
        channel: Channel[int] = Channel(8, asyncio.get_running_loop())
        cancelled = asyncio.create_task(channel.get())
        served = asyncio.create_task(channel.get())
        await asyncio.sleep(0)  # both park, the one to be cancelled first in line
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await asyncio.to_thread(channel.put, 7)
        # the item goes to the writer still waiting, not to the cancelled one
        assert await asyncio.wait_for(served, WAIT_S) == 7
        assert not channel.unserved

    _run(main)


def test_an_item_put_while_no_writer_is_free_is_reported_on_the_loop():
    """What lets the engine start a writer when every one is busy (or stuck): a put that
    finds no writer waiting tells ``on_unserved``, on the loop's thread; a put that wakes
    a waiting writer does not; nor does any put once the engine has all its writers."""

    async def main() -> None:
        loop_thread = threading.current_thread()
        reports: list[threading.Thread] = []
        channel: Channel[int] = Channel(
            8,
            asyncio.get_running_loop(),
            on_unserved=lambda: reports.append(threading.current_thread()),
        )
        await asyncio.to_thread(channel.put, 1)  # no writer at all
        await asyncio.to_thread(_eventually, lambda: len(reports) == 1)
        assert reports == [loop_thread]
        assert await channel.get() == 1
        getter = asyncio.create_task(channel.get())
        await asyncio.sleep(0)  # the writer waits for an item
        await asyncio.to_thread(channel.put, 2)
        assert await asyncio.wait_for(getter, WAIT_S) == 2
        await asyncio.sleep(0.05)
        assert len(reports) == 1  # the waiting writer took it: nothing to report
        channel.stop_reporting_unserved()
        await asyncio.to_thread(channel.put, 3)
        await asyncio.sleep(0.05)
        assert len(reports) == 1

    _run(main)


def test_a_feeder_on_the_loop_waits_for_room_without_blocking_the_loop():
    """put_async (execute_concurrent's feeder): waits while the channel is full, goes on
    as soon as a writer takes an item, and gives up (False) when the channel is abandoned."""

    async def main() -> None:
        channel: Channel[int] = Channel(1, asyncio.get_running_loop())
        assert await channel.put_async(1)
        second = asyncio.create_task(channel.put_async(2))
        await asyncio.sleep(0.05)
        assert not second.done()  # full: it waits, and the loop runs meanwhile
        assert await channel.get() == 1
        assert await asyncio.wait_for(second, WAIT_S) is True
        third = asyncio.create_task(channel.put_async(3))
        await asyncio.sleep(0.05)
        channel.abandon()
        assert await asyncio.wait_for(third, WAIT_S) is False
        assert await channel.put_async(4) is False

    _run(main)
