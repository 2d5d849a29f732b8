"""The drain, the fan-out core under the import, AsyncLoader and execute_concurrent: writers
on demand (a stuck write holds one writer, not the run), failures and cancellation
structured (every task ended when run() returns, the cancellation never swallowed).
Real event loop, real threads; every wait is bounded, so a hang fails instead."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.engine.drain import Drain
from bulkload.stats import RunStats

WAIT_S = 10.0  # far longer than anything here takes on a loaded machine


def _run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(WAIT_S * 2):
            return await main()

    return event_loop.run(bounded())


def _others() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


def test_a_feeder_on_the_loop_gets_a_writer_for_each_batch_while_one_is_stuck():
    """Items put from the loop (execute_concurrent's feeder) while every writer is busy
    start another writer: the stuck one holds its writer, the rest are written."""

    async def main() -> tuple[list[int], int]:
        stuck = asyncio.Event()
        written: list[int] = []

        async def write(item: int) -> None:
            if item == 0:
                await stuck.wait()  # never answers until the others are done
            written.append(item)
            if len(written) == 9:
                stuck.set()

        stats = RunStats()
        drain: Drain[int] = Drain(write, writers=4, depth=1, stats=stats)

        async def feed() -> None:
            for item in range(10):
                assert await drain.put_async(item)
            drain.close()

        await drain.run(feed())
        return written, stats.in_flight_max

    written, in_flight_max = _run(main)
    assert written[-1] == 0 and sorted(written) == list(range(10))
    assert in_flight_max == 2  # the stuck write and one more: no writer needed beyond


def test_writers_never_exceed_the_ceiling():
    async def main() -> RunStats:
        async def write(item: int) -> None:
            await asyncio.sleep(0.01)

        stats = RunStats()
        drain: Drain[int] = Drain(write, writers=5, depth=8, stats=stats)

        def feed() -> None:  # a feeder thread, as the import's readers are
            for item in range(100):
                assert drain.put(item)
            drain.close()

        await drain.run(asyncio.to_thread(feed))
        return stats

    stats = _run(main)
    assert stats.in_flight_max == 5 and stats.in_flight == 0


def test_an_exception_escaping_a_write_stops_the_drain_and_is_raised():
    """A front's bug: feeders stop (a thread waiting for room is let go), the other
    writers end, run() raises it, and no task is left."""

    async def main() -> tuple[set[asyncio.Task[Any]], int]:
        async def write(item: int) -> None:
            if item == 3:
                raise RuntimeError("a bug in a front")
            await asyncio.sleep(0.001)

        put = 0
        drain: Drain[int] = Drain(write, writers=2, depth=2, stats=RunStats())

        def feed() -> None:
            nonlocal put
            for item in range(10_000):
                if not drain.put(item):
                    return  # abandoned: the drain stopped
                put += 1
            drain.close()

        with pytest.raises(RuntimeError, match="a bug in a front"):
            await drain.run(asyncio.to_thread(feed))
        return _others(), put

    left, put = _run(main)
    assert left == set()
    assert put < 10_000


def test_an_exception_escaping_a_feeder_is_raised_after_the_writes_in_flight():
    """The write in flight when the feeder fails ends (it is not cancelled) before run()
    raises the feeder's error."""

    async def main() -> list[int]:
        written: list[int] = []
        stats = RunStats()

        async def write(item: int) -> None:
            await asyncio.sleep(0.05)
            written.append(item)

        drain: Drain[int] = Drain(write, writers=2, depth=4, stats=stats)

        async def feed() -> None:
            await drain.put_async(0)
            while stats.in_flight < 1:
                await asyncio.sleep(0.001)
            raise ValueError("the source broke")

        with pytest.raises(ValueError, match="the source broke"):
            await drain.run(feed())
        assert stats.in_flight == 0
        return written

    assert _run(main) == [0]


def test_cancelling_run_cancels_every_writer_and_goes_on():
    async def main() -> tuple[int, set[asyncio.Task[Any]]]:
        cancelled = 0
        started = asyncio.Event()

        async def write(item: int) -> None:
            nonlocal cancelled
            started.set()
            try:
                await asyncio.sleep(WAIT_S * 10)
            except asyncio.CancelledError:
                cancelled += 1
                raise

        drain: Drain[int] = Drain(write, writers=3, depth=4, stats=RunStats())

        async def feed() -> None:
            for item in range(3):
                await drain.put_async(item)
            await asyncio.sleep(WAIT_S * 10)  # a feeder that never ends on its own

        task = asyncio.create_task(drain.run(feed()))
        await started.wait()
        while drain._stats.in_flight < 3:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return cancelled, _others()

    cancelled, left = _run(main)
    assert cancelled == 3 and left == set()


def test_the_periodic_hook_runs_while_draining_and_ends_with_it():
    async def main() -> tuple[int, set[asyncio.Task[Any]]]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            ticks += 1

        async def write(item: int) -> None:
            await asyncio.sleep(0.02)

        drain: Drain[int] = Drain(
            write, writers=1, depth=4, stats=RunStats(), periodic=(0.005, tick)
        )

        async def feed() -> None:
            for item in range(10):
                await drain.put_async(item)
            drain.close()

        await drain.run(feed())
        return ticks, _others()

    ticks, left = _run(main)
    assert ticks >= 2 and left == set()


def test_a_feeder_thread_waiting_for_room_is_let_go_when_the_drain_is_cancelled():
    async def main() -> bool:
        async def write(item: int) -> None:
            await asyncio.sleep(WAIT_S * 10)

        drain: Drain[int] = Drain(write, writers=1, depth=1, stats=RunStats())
        refused = threading.Event()

        def feed() -> None:
            for item in range(10):
                if not drain.put(item):
                    refused.set()
                    return

        task = asyncio.create_task(drain.run(asyncio.to_thread(feed)))
        while drain._stats.in_flight < 1:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await asyncio.to_thread(refused.wait, WAIT_S)

    assert _run(main)
