"""The local-process runner: share i of P in each of P spawned processes.

The standard library does the plumbing (``multiprocessing`` with the spawn context):

- a ``Barrier`` of P parties keeps the shares' levels in step; ``abort()`` breaks it
  (a stop, or a share that ended early), and every share waiting is told to stop;
- an ``Event`` is the graceful stop (the first Ctrl-C): no share starts another level;
- a ``Queue`` per share carries its messages to the parent (progress, a level started,
  the result or the error of a share: data, never a line of text to parse); one each,
  because a share killed while it puts a message dies holding its queue's lock, which
  would leave every other share writing to a shared queue blocked for good;
- the end: ``join(timeout)``, then ``kill()``: no child outlives the command.

The barrier's lock is shared by every process: a share killed while it holds it (inside
``wait``) leaves it taken for good. The parent therefore never waits on it for long
(:meth:`LocalShares.break_barrier`): if it cannot break the barrier, no level can start
again anywhere, and the shares still running are stopped and then killed.

With ``--metrics-addr`` each share also sends its timeline's intervals as they close
(:func:`send_intervals`; an "interval" message), and the parent hands them to its
listeners (:func:`take_interval`): the live metrics of the whole run, served by the parent.

A child leaves the terminal's process group at once (``os.setsid``), so a Ctrl-C at the
terminal reaches the parent only, which passes it on; until then it ignores SIGINT
(inherited from the parent for the instant of its start). It stops cleanly, as after a
Ctrl-C, if the parent disappears.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_handles
from multiprocessing.process import BaseProcess
from typing import Any

from bulkload.parallel.partition import Share
from bulkload.parallel.runner import ShareEnd
from bulkload.stats.timeline import Interval, Timeline

CONTEXT = multiprocessing.get_context("spawn")
#: how long shares get to stop after the second Ctrl-C before they are killed
KILL_AFTER_S = 10.0
#: how long the parent waits for a message before it looks at its children again
POLL_S = 0.2
#: how long the parent waits for the barrier's lock (held for microseconds, unless a
#: share died holding it)
BARRIER_LOCK_S = 2.0
#: a share's timeline interval, as it closed (``Interval.to_dict``)
INTERVAL = "interval"
#: told of each interval a share sends: (the interval, the share's index)
IntervalListener = Callable[[Interval, int], None]


@dataclass(frozen=True)
class Message:
    """What a share tells the parent: ``kind`` is "level", "progress" or "result"."""

    index: int
    kind: str
    body: Any = None
    sent: float = 0.0  # time.monotonic() in the child: the shares' messages in one order


class ShareLink:
    """A share's end of the runner (picklable: it crosses into the child)."""

    def __init__(self, share: Share, barrier: Any, stop: Any, queue: Any):
        self.share = share
        self.resets = share[0] == 1  # the first share empties the table for --reset
        self._barrier = barrier
        self._stop = stop
        self._queue = queue

    @property
    def stopping(self) -> bool:
        return bool(self._stop.is_set())

    def send(self, kind: str, body: Any = None) -> None:
        self._queue.put(Message(self.share[0], kind, body, time.monotonic()))

    async def wait_for_start(self) -> bool:
        """Wait for every share to be ready for the next level; False: stop instead."""
        return await self._wait("level")

    async def wait_for_writes_done(self) -> bool:
        """Wait for every share's writes to have ended (a --reset comes next)."""
        return await self._wait(None)

    async def _wait(self, tell: str | None) -> bool:
        if self.stopping:
            return False
        try:
            # the thread is freed by abort() when the parent stops or is gone
            arrival = await asyncio.to_thread(self._barrier.wait)
        except threading.BrokenBarrierError:
            return False
        if self.stopping:
            return False
        if tell is not None and arrival == 0:  # one share says it, for all of them
            self.send(tell)
        return True

    def abort(self) -> None:
        self._stop.set()
        self._barrier.abort()

    def close(self) -> None:
        """Compatibility with the level barrier protocol: nothing to close."""


def send_intervals(link: ShareLink, timeline: Timeline) -> None:
    """In a share: each interval of ``timeline`` goes to the parent as it closes."""
    timeline.listeners.append(lambda interval: link.send(INTERVAL, interval.to_dict()))


def take_interval(message: Message, listeners: list[IntervalListener]) -> bool:
    """In the parent: hand an "interval" message to ``listeners``; False for another kind."""
    if message.kind != INTERVAL:
        return False
    interval = Interval.from_dict(message.body)
    for listener in listeners:
        listener(interval, message.index)
    return True


class ChildStop:
    """In a share: the parent's first SIGINT calls ``stop`` (on the loop's thread), its
    second cancels the task that called :meth:`attach`. (A share's own minimal signal
    set-up: it has left the terminal, only its parent signals it.)"""

    def __init__(self, stop: Callable[[], None]):
        self._stop = stop
        self.received = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def __enter__(self) -> ChildStop:
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # its result is next: a late stop is moot

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received += 1
        loop = self._loop
        if loop is None:
            self._stop()
        elif loop.is_closed():
            return
        elif self.received == 1:
            loop.call_soon_threadsafe(self._stop)
        elif self.received == 2 and self._task is not None:
            loop.call_soon_threadsafe(self._task.cancel)


def _child_main(
    work: Callable[..., None], link: ShareLink, args: tuple[Any, ...], stderr: str | None
) -> None:
    os.setsid()  # out of the terminal's process group: its Ctrl-C is the parent's
    signal.signal(signal.SIGINT, signal.default_int_handler)
    quiet = os.open(os.devnull, os.O_WRONLY)  # the parent keeps the terminal
    os.dup2(quiet, 1)
    if stderr is not None:
        os.dup2(os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    else:
        os.dup2(quiet, 2)
    _watch_parent(link)
    work(link, *args)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its result is sent: a late stop is moot


def _watch_parent(link: ShareLink) -> None:
    """Stop cleanly, as after a Ctrl-C, if the parent disappears."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for_handles([parent.sentinel])
        link.abort()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="bulkload-parent-watch", daemon=True).start()


class LocalShares:
    """Starts the P shares, hands their messages over, stops them together."""

    def __init__(
        self,
        count: int,
        work: Callable[..., None],
        *args: Any,
        stderr_to: Callable[[int], str] | None = None,
    ):
        self.count = count
        self.work = work
        self.args = args
        self.stderr_to = stderr_to  # where share i's stderr goes (default: nowhere)
        self.queues: list[Any] = [CONTEXT.Queue() for _ in range(count)]
        self.barrier: Any = CONTEXT.Barrier(count)
        self.stop_event: Any = CONTEXT.Event()
        self.processes: list[BaseProcess] = []
        self.results: dict[int, dict[str, Any]] = {}  # share index -> the result it sent
        self.ended: list[int] = []  # the shares in the order they ended
        self.stopping = False  # the user stopped the run
        self.halted = False  # a share ended badly: the others were stopped
        self.barrier_broken = False
        #: a share died holding the barrier's lock: the shares waiting there never return
        self.barrier_lost = False

    def link(self, index: int) -> ShareLink:
        queue = self.queues[index - 1]
        return ShareLink((index, self.count), self.barrier, self.stop_event, queue)

    def start(self) -> None:
        """Start the children (SIGINT ignored for the instant each needs to leave the
        terminal's process group)."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for index in range(1, self.count + 1):
                if self.stopping:
                    break
                stderr = None if self.stderr_to is None else self.stderr_to(index)
                process = CONTEXT.Process(
                    target=_child_main,
                    args=(self.work, self.link(index), self.args, stderr),
                    name=f"bulkload-share-{index}",
                    daemon=False,
                )
                process.start()
                self.processes.append(process)
        finally:
            signal.signal(signal.SIGINT, previous)

    def stop(self) -> None:
        """The first Ctrl-C: each share drops what it runs and starts nothing more."""
        self.stopping = True
        self._stop_all()

    def _stop_all(self) -> None:
        self.stop_event.set()
        self.break_barrier()
        self.signal(signal.SIGINT)

    def break_barrier(self) -> None:
        """``abort()`` the barrier (once), on a thread of its own, given
        ``BARRIER_LOCK_S`` to take the lock: one a killed share left taken would hold the
        parent for good (the abort thread, a daemon, stays blocked)."""
        if self.barrier_broken or self.barrier_lost:
            return
        aborting = threading.Thread(target=self.barrier.abort, name="bulkload-abort", daemon=True)
        aborting.start()
        aborting.join(BARRIER_LOCK_S)
        self.barrier_broken = not aborting.is_alive()
        self.barrier_lost = aborting.is_alive()

    def signal(self, signum: int) -> None:
        """To the shares still running (not those that sent their result)."""
        for index, process in enumerate(self.processes, start=1):
            if index in self.results:
                continue
            if process.exitcode is None and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    def halt(self) -> None:
        """A share ended badly: the others stop now, as after a Ctrl-C."""
        if not self.halted and not self.stopping:
            self.halted = True
            self._stop_all()

    async def watch(
        self,
        on_message: Callable[[Message], None],
        ended_badly: Callable[[ShareEnd], bool] | None = None,
    ) -> None:
        """Until every child has ended: their results kept, their other messages to
        ``on_message``; one that ``ended_badly`` halts the others. Once one has ended,
        the barrier is broken: a share that reaches it again (its run went on) stops
        there, as no level can start in all of them. If it cannot be broken (a share died
        holding its lock), the others are halted and the watch ends: ``shutdown`` then
        kills those stuck in it."""
        while True:
            exited = [i for i, p in enumerate(self.processes, start=1) if p.exitcode is not None]
            self._take(on_message)  # after: what the ended ones sent is taken too
            self.ended.extend(index for index in exited if index not in self.ended)
            running = [p for p in self.processes if p.exitcode is None]
            if len(running) < len(self.processes):
                self.break_barrier()
            if ended_badly is not None and any(ended_badly(end) for end in self._ended()):
                self.halt()
            if self.barrier_lost:
                self.halt()
            if not running or self.barrier_lost:
                break
            handles = [*(p.sentinel for p in running), *self._readers()]
            await asyncio.to_thread(wait_for_handles, handles, POLL_S)
        self._take(on_message)

    def _take(self, on_message: Callable[[Message], None]) -> None:
        for message in self._drain():
            if message.kind == "result":
                self.results[message.index] = message.body
                if message.index not in self.ended:
                    self.ended.append(message.index)
            else:
                on_message(message)

    def _ended(self) -> list[ShareEnd]:
        return [end for end in self.ends() if end.index in self.ended]

    def ends(self) -> list[ShareEnd]:
        return [self._end(index, p) for index, p in enumerate(self.processes, start=1)]

    def _end(self, index: int, process: BaseProcess) -> ShareEnd:
        exitcode = process.exitcode or 0
        return ShareEnd(
            index,
            self.count,
            f"process {index}/{self.count} (pid {process.pid})",
            self.results.get(index),
            pid=process.pid,
            killed_by=-exitcode if exitcode < 0 else None,
        )

    def _readers(self) -> list[Any]:
        return [queue._reader for queue in self.queues]

    def _drain(self) -> list[Message]:
        found = []
        for queue in self.queues:
            while True:
                try:
                    found.append(queue.get_nowait())
                except Exception:  # queue.Empty, or a message cut by a killed child
                    break
        return sorted(found, key=lambda message: message.sent)  # as they were sent

    async def shutdown(self) -> None:
        """Whatever happened: no child outlives the command. Those still running get
        SIGINT (their second, if they had a first: stop at once, send what is done),
        then ``KILL_AFTER_S``, then ``kill()``; their results are still taken."""
        self._stop_all()
        deadline = time.monotonic() + KILL_AFTER_S
        while running := [p for p in self.processes if p.exitcode is None]:
            left = deadline - time.monotonic()
            if left <= 0:  # the last resort
                for process in running:
                    process.kill()
                    process.join()
                break
            handles = [*(p.sentinel for p in running), *self._readers()]
            await asyncio.to_thread(wait_for_handles, handles, min(POLL_S, left))
            self._take(lambda message: None)
        self._take(lambda message: None)
        for process in self.processes:
            process.join()
        for queue in self.queues:
            queue.close()
            queue.join_thread()
