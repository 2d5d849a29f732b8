"""One level of a sweep: a warm-up, a measured window, then the writes in flight drain.

Two arrival models decide when writes start:

* **closed** (``--sweep``): up to ``concurrency`` writers, each starting its next write
  as soon as its last one ends, so ``concurrency`` writes are always in flight. Writers
  are started on demand: another one whenever a write starts while (nearly) every
  writer is inside one, so a target that keeps writes waiting gets them all within a
  few round trips, while one that answers without suspending (``null://``) is served by
  the two it can use (100,000 writers taking turns took two minutes for a 0.3 s
  window);
* **open** (``--sweep-rate``): write *i* is due at ``t0 + i / rate`` whatever happened
  before (wrk2, k6's constant-arrival-rate), with at most ``concurrency`` in flight. A
  send that finds every slot busy waits for one and is counted as delayed; latency is
  measured from its due time, so a stalled target cannot hide behind a queue
  (coordinated omission); the service time is kept beside it. Sends due in the window
  that never started are counted as missed.

A write belongs to the window in which it *started* (closed model) or was *due* (open
model), however late it completes. In the open model with a ``--duration``, the window
is the schedule's: the sends due in ``[warmup, warmup + duration)`` after ``t0``,
decided from their index, never raced against the clock, so a level asks exactly
``duration x rate`` sends of its window; one that is still waiting for a slot when the
window's time is up is missed, and the window's length is its duration. In any model,
the warm-up's, the window's and the drain's writes are counted in three separate
:class:`RunStats`, and once the window closes the level waits for its writes in flight,
so a write the target held for a long time still counts with its latency (a stall cannot
slip out of the window). Throughput is the window's writes over the window's length: its
duration, or, bounded by ``--rows``/``--batches``, until its last write completed.
Latency is measured from when the write started (closed) or was due (open), retries and
back-off included; each attempt's service time is kept beside it. Every task is owned by
this level's task group; any error a write raises ends the level (reported with it), a
stop request (Ctrl-C) interrupts it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from bulkload.backends.base import CancelledAfterCommit
from bulkload.bench.pool import BatchPool, PooledBatch
from bulkload.bench.weighted import spread
from bulkload.engine.batch_writer import BatchWriter, one_line
from bulkload.errors import AbortedError
from bulkload.stats.level import LevelResult
from bulkload.stats.operation import OperationResult
from bulkload.stats.run import RunStats
from bulkload.stats.sampler import IntervalSampler
from bulkload.stats.schedule import ConcurrencyRamp, RateSchedule
from bulkload.stats.timeline import Timeline

_YIELD_EVERY = 64
_LATE_S = 0.005  # a send starting later than this after its due time was delayed


class QueryRunner(Protocol):
    """The queries a query level runs (:class:`bulkload.bench.queries.QuerySet`): the
    next one to run, as (its name, what ``run`` takes), and running it."""

    def next(self) -> tuple[str, Any]: ...

    def run(self, item: Any) -> Awaitable[int]:
        """Rows returned; raises what the target raised. (The backend's own awaitable,
        not a coroutine wrapping it: one frame less a query.)"""

    def fatal(self, error: Exception) -> bool:
        """Whether the target is unusable (the level fails) rather than one query."""


def _no_pool() -> PooledBatch:
    raise AssertionError("a query level writes no batches")


@dataclass(frozen=True, slots=True)
class LevelPlan:
    concurrency: int  # closed: writes in flight; open: the most in flight
    batch_size: int
    rate: float | None = None  # open model: batch writes per second
    warmup_s: float = 2.0
    duration_s: float | None = 10.0  # the window's length, unless bounded by a count
    rows: int | None = None
    batches: int | None = None
    #: open model: the rate follows this schedule (``rate`` is its peak), no warm-up
    schedule: RateSchedule | None = None
    #: closed model: the writers allowed follow this ramp (``concurrency``: its peak)
    ramp: ConcurrencyRamp | None = None

    @property
    def label(self) -> str:
        if self.schedule is not None:
            return (
                f"ramp {self.schedule.start:g}-{self.schedule.peak:g}/s batch {self.batch_size:,}"
            )
        if self.ramp is not None:
            return f"ramp c={self.ramp.start}-{self.ramp.end} batch {self.batch_size:,}"
        what = f"{self.rate:g}/s (cap {self.concurrency})" if self.rate else f"c={self.concurrency}"
        return f"{what} batch {self.batch_size:,}"


class _Gauge:
    """Writes in flight, with the window's time-weighted mean and its maximum."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.current = 0
        self.max = 0
        self.interval_max = 0  # the most since the timeline last asked
        self._area = 0.0
        self._since = clock()
        self._window_start = self._since

    def change(self, delta: int, now: float | None = None) -> None:
        """``now``: the clock's reading, when the caller has just taken it. (Twice a
        query: each attribute read once.)"""
        since = self._since
        if now is None:
            now = self._clock()
        elif now < since:  # taken before a change in between (the window's close)
            now = since
        current = self.current
        self._area += current * (now - since)
        self._since = now
        self.current = current = current + delta
        if delta > 0:  # only a rise can set a new most
            if current > self.max:
                self.max = current
            if current > self.interval_max:
                self.interval_max = current

    def take_interval(self) -> tuple[int, int]:
        """In flight now, and the most since the last call (for the timeline)."""
        most, self.interval_max = self.interval_max, self.current
        return self.current, most

    def start_window(self) -> None:
        self.change(0)
        self._area, self.max, self._window_start = 0.0, self.current, self._since

    def mean(self) -> float:
        self.change(0)
        span = self._since - self._window_start
        return self._area / span if span > 0 else float(self.current)


class LevelDriver:
    def __init__(
        self,
        writer: BatchWriter,
        pool: BatchPool | None,
        plan: LevelPlan,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        queries: QueryRunner | None = None,
        mix: tuple[float, float] | None = None,
        timeline: Timeline | None = None,
    ):
        self.writer = writer
        #: a query level: each operation runs one of these instead of writing a batch
        self.queries = queries
        self._operations: dict[str, OperationResult] = {}
        #: a mixed level (--mix write=W,read=R): whether each operation writes, spread
        #: evenly in that ratio (any stretch of the level holds it, see .weighted)
        self._writes_next: Iterator[bool] | None = None
        if queries is not None and mix is not None:
            picks = spread((mix[1], mix[0]))  # 1: a write
            self._writes_next = itertools.cycle([pick == 1 for pick in picks])
        self.pool = pool
        self._next_batch = pool.next if pool is not None else _no_pool
        self.plan = plan
        self._should_stop = should_stop
        self._clock = clock
        self._sleep = sleep
        self.warmup = RunStats(batch_size=plan.batch_size)
        self.window = RunStats(batch_size=plan.batch_size)
        self.drain = RunStats(batch_size=plan.batch_size)
        self.phase = "warmup"  # warmup -> measure -> drain
        self.rows_written = 0
        self.failure: str | None = None
        self.interrupted = False
        self._gauge = _Gauge(clock)
        self._window_closed = asyncio.Event()
        self._window_clock: tuple[float, float] = (0.0, 0.0)  # perf_counter start, end
        self._wall: tuple[float, float] = (0.0, 0.0)
        self._cpu: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        # open model bookkeeping
        self._in_flight_mean = 0.0
        self._in_flight_max = 0
        self._t0 = 0.0
        self._due_started_in_window = 0
        self._sends_delayed = 0
        self._reserved = 0  # rows (or batches) of the writes the window has taken
        #: the window's count, in batches or rows (None: bounded by its duration)
        self._bound = plan.batches if plan.batches is not None else plan.rows
        self._window_writes = 0  # the window's writes still in flight
        self._last_window_end = 0.0  # when the window's last write completed
        #: open model with a duration: the indices of the window's sends, [first, last)
        self._window_sends = self._scheduled_window()
        self._free = plan.concurrency  # open model: slots free under the in-flight cap
        self._freed = asyncio.Event()
        # closed model: writers started, and those inside a write
        self._writers = 0
        self._busy = 0
        self._group: asyncio.TaskGroup | None = None
        #: every operation writes, and each write is counted only in its window's stats
        #: (no per-write figures of a mixed level): the closed model writes inline
        self._plain_writes = queries is None
        self._timeline_out = timeline
        self.timeline = timeline  # the run's, shared by its levels (for the live view)

    def _scheduled_window(self) -> tuple[int, int] | None:
        rate, duration = self.plan.rate, self.plan.duration_s
        if self.plan.schedule is not None:  # the whole schedule is the window
            return 0, self.plan.schedule.total_sends
        if rate is None or duration is None or self._bound is not None:
            return None
        # index i is due at t0 + i/rate: the first due at or after the window's start
        # (a tolerance for the float products: 0.5 s x 100/s is send 50, not 51)
        first = math.ceil(self.plan.warmup_s * rate - 1e-9)
        last = math.ceil((self.plan.warmup_s + duration) * rate - 1e-9)
        return first, last

    @property
    def in_flight(self) -> int:
        return self._gauge.current

    @property
    def window_started(self) -> float | None:
        """When the measured window opened (perf_counter), None during the warm-up."""
        return None if self.phase == "warmup" else self._window_clock[0]

    # ------------------------------------------------------------------ running

    async def run(self) -> LevelResult:
        self._t0 = self._clock()
        sampler = self._sampler()
        # the sampler ticks on the wall clock: a level's timeline is real time
        ticking = asyncio.create_task(sampler.run(asyncio.sleep)) if sampler else None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._timeline())
                if self.plan.rate is None:
                    self._group = group
                    self._start_closed_writer()
                else:
                    group.create_task(self._open_scheduler(group))
        finally:
            if ticking is not None and sampler is not None:
                ticking.cancel()
                await asyncio.gather(ticking, return_exceptions=True)
                sampler.tick()  # the level's last part interval
        return self._result()

    def _sampler(self) -> IntervalSampler | None:
        if self._timeline_out is None:
            return None
        rate = self.plan.rate
        return IntervalSampler(
            self._timeline_out,
            self.plan.label,
            (self.warmup, self.window, self.drain),
            in_flight=self._gauge.take_interval,
            offered=None if rate is None else lambda: self._sends_due(self._clock()),
            concurrency=None if rate is not None else self._allowed,
        )

    def _sends_due(self, now: float) -> int:
        """Open model: the sends due since the level started (the offered load)."""
        assert self.plan.rate is not None
        elapsed = max(now - self._t0, 0.0)
        if self.plan.schedule is not None:
            offered = self.plan.schedule.offered_by(elapsed)
            return min(math.ceil(offered - 1e-9), self.plan.schedule.total_sends)
        return math.ceil(elapsed * self.plan.rate - 1e-9)

    def _due(self, index: int) -> float:
        """When send ``index`` is due, on the clock (open model)."""
        if self.plan.schedule is not None:
            return self._t0 + self.plan.schedule.due(index)
        assert self.plan.rate is not None
        return self._t0 + index / self.plan.rate

    def _allowed(self) -> int:
        """Closed model: the writes allowed in flight now (a ramp's, or the level's)."""
        if self.plan.ramp is None:
            return self.plan.concurrency
        return self.plan.ramp.at(self._clock() - self._t0)

    def _may_send(self) -> bool:
        """Whether new writes may start: not past the window, not stopped, not failed."""
        if self._should_stop() and self.phase != "drain":
            self.interrupted = True
            self._close_window()
        return self.phase != "drain" and self.failure is None

    @property
    def _count_bound(self) -> bool:
        return self._bound is not None

    async def _timeline(self) -> None:
        """Warm-up, then the window: for its duration, or until its count is taken."""
        if self.plan.warmup_s > 0:
            await self._until(lambda: False, self.plan.warmup_s)
        if self.phase == "warmup":
            self._open_window()
        if not self._count_bound and self._window_sends is None:
            assert self.plan.duration_s is not None
            await self._until(self._window_closed.is_set, self.plan.duration_s)
            self._close_window()
        else:  # the scheduler (open model) or the count closes the window
            while not self._window_closed.is_set() and self._may_send():
                await self._until(self._window_closed.is_set, 0.1)  # notices a stop
            self._close_window()

    async def _until(self, done: Callable[[], bool], seconds: float) -> None:
        """Sleep ``seconds`` in short steps, returning early once ``done`` or stopped."""
        end = self._clock() + seconds
        while not done() and self._may_send() and (left := end - self._clock()) > 0:
            await self._sleep(min(left, 0.05))

    def _open_window(self) -> None:
        self.phase = "measure"
        self._gauge.start_window()
        now, wall = self._clock(), time.time()
        if self._window_sends is not None:  # the schedule's window, not the timer's wake-up
            scheduled = self._t0 + self.plan.warmup_s
            now, wall = scheduled, wall - (now - scheduled)
        self._window_clock = (now, 0.0)
        self._wall = (wall, 0.0)
        self._cpu = (time.thread_time(), time.process_time(), 0.0, 0.0)

    def _close_window(self) -> None:
        if self.phase == "drain":
            return
        if self.phase == "warmup":
            self._open_window()  # stopped during warm-up: an empty window
        self.phase = "drain"
        self._window_clock = (self._window_clock[0], self._clock())
        self._wall = (self._wall[0], time.time())
        self._cpu = (*self._cpu[:2], time.thread_time(), time.process_time())
        self._in_flight_mean = self._gauge.mean()
        self._in_flight_max = self._gauge.max
        self._window_closed.set()

    # ------------------------------------------------------------------ closed model

    def _start_closed_writer(self) -> None:
        assert self._group is not None
        self._writers += 1
        self._group.create_task(self._closed_writer())

    async def _closed_writer(self) -> None:
        written = 0
        task = asyncio.current_task()
        ramp = self.plan.ramp
        clock, queries, most = self._clock, self.queries, self.plan.concurrency
        # a read level (not mixed): every operation is a query (no draw per operation)
        reads_only = queries is not None and self._writes_next is None
        writer, gauge, window = self.writer, self._gauge, self.window
        attempts = self._stats_now
        unbounded = self._bound is None
        while self._may_send():
            if ramp is not None and self._busy >= self._allowed():
                await self._sleep(0.005)  # the ramp allows no more writers yet
                continue
            now = clock()
            busy = self._busy = self._busy + 1
            # (nearly) every writer is in a write, none free to start the next: one more.
            # "Nearly": with thousands of writers one is always between two writes.
            if 2 * busy >= self._writers and self._writers < most:
                self._start_closed_writer()
            try:
                if reads_only or (queries is not None and not self._writes()):
                    assert queries is not None
                    await self._query(queries.next(), due=now, now=now)
                elif self._plain_writes and not writer.throttle.active:
                    # _write's usual case, inline: a coroutine less per write
                    batch = self._next_batch()
                    if self.phase == "measure" and unbounded and now >= self._window_clock[0]:
                        self._window_writes += 1
                        stats = window
                    else:
                        stats = self._stats_for(now, batch.rows)
                    gauge.change(+1, now)
                    try:
                        error = await writer.write_with_retries(
                            batch.payload, batch.data, None, due=now, task=task, stats=stats,
                            attempts=attempts,
                        )  # fmt: skip
                    except Exception as exc:
                        self._write_failed(stats, exc)
                    except CancelledAfterCommit:
                        self._loaded(stats, batch)  # committed as the level was cancelled
                        raise
                    else:
                        self._count(stats, batch, error)
                    finally:
                        end = clock()
                        gauge.change(-1, end)
                        if stats is window:
                            self._window_writes -= 1
                            self._last_window_end = end
                else:
                    await self._write(self._next_batch(), due=now, task=task, now=now)
            finally:
                self._busy -= 1
            written += 1
            if written % _YIELD_EVERY == 0:
                # a target that answers without suspending (null, a no-op) would
                # otherwise never let the clock, the other writers or Ctrl-C run
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ open model

    async def _open_scheduler(self, group: asyncio.TaskGroup) -> None:
        assert self.plan.rate is not None
        interval = 1.0 / self.plan.rate
        window = self._window_sends
        sent = 0
        while self._may_send():
            if window is not None and sent >= window[1]:
                # every send of the window has started: it closes at its scheduled end
                await self._until(lambda: False, self._window_end() - self._clock())
                self._close_window()
                break
            due = self._due(sent)
            if self._backlog_of_the_warmup(sent, due):
                # A target past its capacity leaves sends due in the warm-up not started
                # when the window opens. Sent then, they would hold the slots through the
                # window and count nowhere (they belong to the warm-up): the window's
                # throughput came out at under half the target's. They are dropped.
                first = math.ceil((self._window_clock[0] - self._t0) * self.plan.rate)
                if window is not None:
                    first = window[0]
                sent = max(sent + 1, first)
                continue
            index = sent
            sent += 1
            if (wait := due - self._clock()) > 0:
                await self._until(lambda: False, wait)
                if not self._may_send():
                    break
            in_window = self._in_window(index, due)
            waited = self._free == 0  # every slot busy: this send waits for the cap
            # a send of the scheduled window waits for a slot until the window's end
            deadline = self._window_end() if window is not None and in_window else None
            if not await self._slot(deadline):
                if window is not None and self._may_send():
                    self._close_window()  # time is up: the window's other sends are missed
                break
            if not self._may_send():
                self._release()
                break
            if self._backlog_of_the_warmup(index, due):  # the window opened while it waited
                self._release()
                continue
            stats = None
            if window is not None:  # by its index, whatever the clock says now
                stats = self._take_window() if in_window else self.warmup
            if in_window:
                self._due_started_in_window += 1
                # it could not start on time: it waited for a slot, or queued behind one
                # that did (more than an interval late; timer jitter is not a delay)
                if waited or self._clock() - due > max(_LATE_S, interval):
                    self._sends_delayed += 1
            if self.queries is not None and not self._writes():
                group.create_task(self._open_query(self.queries.next(), due, stats))
            else:
                group.create_task(self._open_write(self._next_batch(), due, stats))

    def _window_end(self) -> float:
        """The scheduled window's end (open model with a duration), on the clock."""
        assert self.plan.duration_s is not None
        return self._t0 + self.plan.warmup_s + self.plan.duration_s

    def _in_window(self, index: int, due: float) -> bool:
        if self._window_sends is not None:
            first, last = self._window_sends
            return first <= index < last
        return self.phase == "measure" and due >= self._window_clock[0]

    def _backlog_of_the_warmup(self, index: int, due: float) -> bool:
        if self.phase != "measure":
            return False
        if self._window_sends is not None:
            return index < self._window_sends[0]
        return due < self._window_clock[0]

    async def _slot(self, deadline: float | None) -> bool:
        """Take a slot under the in-flight cap; False when ``deadline`` (on the clock)
        passed first, or the level stopped. Only the scheduler takes slots."""
        while self._free == 0:
            if not self._may_send():
                return False
            step = 0.05  # to notice a stop
            if deadline is not None:
                if (left := deadline - self._clock()) <= 0:
                    return False
                step = min(step, left)
            self._freed.clear()
            try:
                async with asyncio.timeout(step):
                    await self._freed.wait()
            except TimeoutError:
                pass
        self._free -= 1
        return True

    def _release(self) -> None:
        self._free += 1
        self._freed.set()

    async def _open_write(self, batch: PooledBatch, due: float, stats: RunStats | None) -> None:
        try:
            await self._write(batch, due=due, stats=stats)
        finally:
            self._release()

    def _writes(self) -> bool:
        """Whether the next operation of a query level writes (a mixed level's draw)."""
        return self._writes_next is not None and next(self._writes_next)

    async def _open_query(self, item: tuple[str, Any], due: float, stats: RunStats | None) -> None:
        try:
            await self._query(item, due=due, stats=stats)
        finally:
            self._release()

    def _sends_missed(self) -> int:
        """Sends due inside the window that had not started when it closed."""
        if self.plan.rate is None:
            return 0
        start, end = self._window_clock
        if self._window_sends is not None:
            first, last = self._window_sends
            # a window closed early (a failure) missed only the sends due before then
            last = min(last, self._sends_due(end))
        else:
            first = math.ceil((start - self._t0) * self.plan.rate)
            last = math.ceil((end - self._t0) * self.plan.rate)  # exclusive
        return max(0, last - first - self._due_started_in_window)

    # ------------------------------------------------------------------ one write

    async def _write(
        self,
        batch: PooledBatch,
        *,
        due: float,
        task: asyncio.Task[Any] | None = None,
        now: float | None = None,
        stats: RunStats | None = None,
    ) -> None:
        """``task``: the current task, ``now``: the clock's reading, when the caller has
        them at hand (each saves a lookup per write); ``stats``: the window it belongs to,
        when the caller decided it (the open model's scheduled window)."""
        if stats is not None:
            pass
        elif self.phase == "measure" and self._bound is None and due >= self._window_clock[0]:
            self._window_writes += 1  # _stats_for's usual answer, inline (a write in the window)
            stats = self.window
        else:
            stats = self._stats_for(due, batch.rows)
        in_window = stats is self.window
        on_start = None
        started = not self.writer.throttle.active
        if started:
            self._gauge.change(+1, now)
        else:  # in flight once the tool's own rate cap lets it go, not while it waits

            def on_start(at: float) -> None:
                nonlocal started
                started = True
                self._gauge.change(+1, at)

        error: object = None  # what ended the write, for a mixed level's write figures
        try:
            error = await self.writer.write_with_retries(
                batch.payload, batch.data, None, due=due, task=task, stats=stats,
                attempts=self._stats_now, on_start=on_start,
            )  # fmt: skip
        except Exception as exc:
            error = self._write_failed(stats, exc)
        except CancelledAfterCommit:
            self._loaded(stats, batch)  # committed as the level was cancelled: it counts
            raise
        else:
            self._count(stats, batch, error)
        finally:
            now = self._clock()
            if started:
                self._gauge.change(-1, now)
            if in_window:
                self._window_writes -= 1
                self._last_window_end = now
                if self._writes_next is not None:  # a mixed level: the writes' own figures
                    self._write_done(error, batch.rows, now - due)

    def _count(self, stats: RunStats, batch: PooledBatch, error: object) -> None:
        """A write that ended without raising: loaded, or refused (bench does not bisect:
        a refused batch is a failed write)."""
        if error is None:
            rows = batch.rows
            stats.rows_loaded += rows
            stats.batches += 1
            stats.bytes_read += batch.nbytes
            self.rows_written += rows
        else:
            stats.batches_failed += 1
            stats.rows_rejected += batch.rows

    def _write_failed(self, stats: RunStats, exc: Exception) -> object:
        """Count a write that raised; what ended it, for a mixed level's figures."""
        stats.batches_failed += 1
        if isinstance(exc, AbortedError):  # transient errors outlasted the retries
            return True
        # the target is unusable, or something broke: the level fails
        if self.failure is None:
            self.failure = one_line(exc)
            self._close_window()
        return exc

    def _write_done(self, error: object, rows: int, latency: float) -> None:
        operation = self._operations.get("write")
        if operation is None:
            operation = self._operations["write"] = OperationResult("write", "write")
        if error is None:
            operation.count += 1
            operation.rows += rows
            operation.latency.record(latency)
        else:
            operation.errors += 1

    async def _query(
        self,
        item: tuple[str, Any],
        *,
        due: float,
        now: float | None = None,
        stats: RunStats | None = None,
    ) -> None:
        """One query: counted in ``batches`` (answered) and ``rows_loaded`` (rows
        returned), per operation too while in the window. A failed query is an error
        of its operation; one that says the target is unusable fails the level.
        The hot path of a read sweep: kept to one frame, attributes read once."""
        queries = self.queries
        assert queries is not None
        if stats is None:
            stats = self._stats_for(due, 1)
        window = self.window
        in_window = stats is window
        clock = self._clock
        start = now if now is not None else clock()
        gauge = self._gauge
        gauge.change(+1, start)
        name = item[0]
        end = start
        try:
            rows = await queries.run(item[1])
        except Exception as exc:
            end = clock()
            stats.latency_errors.record(end - start)
            stats.write_errors += 1
            stats.batches_failed += 1
            if in_window:
                self._operation(name).errors += 1
            if queries.fatal(exc) and self.failure is None:
                self.failure = f"query {name}: {one_line(exc)}"
                self._close_window()
        else:
            end = clock()
            service = end - start
            stats.latency.record(service)
            latency = end - due if due < start else service
            stats.latency_from_due.record(latency)
            stats.batches += 1
            stats.rows_loaded += rows
            if in_window:
                operation = self._operations.get(name) or self._operation(name)
                operation.count += 1
                operation.rows += rows
                operation.latency.record(latency)
        finally:
            gauge.change(-1, end)
            if in_window:
                self._window_writes -= 1
                self._last_window_end = end

    def _operation(self, name: str) -> OperationResult:
        operation = self._operations.get(name)
        if operation is None:
            operation = self._operations[name] = OperationResult(name, "query")
        return operation

    def _loaded(self, stats: RunStats, batch: PooledBatch) -> None:
        stats.rows_loaded += batch.rows
        stats.batches += 1
        stats.bytes_read += batch.nbytes
        self.rows_written += batch.rows

    def _stats_now(self) -> RunStats:
        """The phase's counters: where a failed attempt or a retry is counted (a target
        refusing everything shows in the window even while writes begun before it are
        still retrying)."""
        return {"warmup": self.warmup, "measure": self.window}.get(self.phase, self.drain)

    def _stats_for(self, due: float, rows: int) -> RunStats:
        """The window a write belongs to, by when it started (closed) or was due (open);
        a count-bounded window closes once it has taken its count."""
        if self.phase == "warmup" or due < self._window_clock[0]:
            return self.warmup
        if self.phase == "drain":
            return self.drain
        return self._take_window(rows)

    def _take_window(self, rows: int | None = None) -> RunStats:
        """Count a write (of ``rows`` rows) into the window (and its count, when it has
        one)."""
        self._window_writes += 1
        if rows is not None and self._bound is not None:
            self._reserved += 1 if self.plan.batches is not None else rows
            if self._reserved >= self._bound:
                self._close_window()
        return self.window

    # ------------------------------------------------------------------ result

    def _result(self) -> LevelResult:
        start, end = self._window_clock
        if self._count_bound and self._last_window_end > start:
            end = self._last_window_end  # the window lasted until its last write ended
        if self._window_sends is not None:  # the schedule's window (shorter: it failed)
            end = min(end, self._window_end())
        elapsed = max(end - start, 0.0)
        result = LevelResult.from_window(
            self.window,
            concurrency=self.plan.concurrency,
            batch_size=self.plan.batch_size,
            rate=self.plan.rate,
            elapsed_s=elapsed,
            wall=(self._wall[0], self._wall[0] + elapsed),  # the same window, wall clock
        )
        result.sends_delayed = self._sends_delayed
        result.sends_missed = self._sends_missed()
        result.in_flight_mean = self._in_flight_mean
        result.in_flight_max = self._in_flight_max
        loop_cpu, process_cpu = self._cpu[2] - self._cpu[0], self._cpu[3] - self._cpu[1]
        result.cpu_loop = loop_cpu / elapsed if elapsed > 0 else 0.0
        result.cpu_process = process_cpu / elapsed if elapsed > 0 else 0.0
        result.rows_written = self.rows_written
        if self.queries is not None:
            result.kind = "query" if self._writes_next is None else "mixed"
            result.operations = self._operations
        if self.failure is not None:
            result.outcome, result.error = "failed", self.failure
        elif self.interrupted:
            result.outcome = "interrupted"
        return result
