"""The local-process runner's plumbing, with real spawned processes."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

from bulkload.parallel import local
from bulkload.parallel.local import LocalShares, Message, ShareLink


def _dies_holding_its_queue_lock_or_reports(link: ShareLink) -> None:
    """Share 1 dies as a SIGKILL in the middle of a put would leave it: its queue's
    write lock taken. Share 2 waits a moment, then sends its result."""
    if link.share[0] == 1:
        link._queue._wlock.acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.5)
    link.send("progress", "still here")
    link.send("result", {"rows": 2})


def test_a_share_killed_mid_message_does_not_block_the_others():
    shares = LocalShares(2, _dies_holding_its_queue_lock_or_reports)
    seen: list[Message] = []

    async def run() -> None:
        shares.start()
        try:
            await asyncio.wait_for(shares.watch(seen.append), timeout=30)
        finally:
            await shares.shutdown()

    asyncio.run(run())
    assert shares.results == {2: {"rows": 2}}
    assert [message.body for message in seen] == ["still here"]
    killed = {end.index: end.killed_by for end in shares.ends()}
    assert killed == {1: signal.SIGKILL, 2: None}


def _dies_holding_the_barrier_lock_or_waits_at_it(link: ShareLink) -> None:
    """Share 1 dies as a SIGKILL inside ``Barrier.wait`` would leave it: the barrier's
    lock taken. Share 2 waits at the barrier for the next level, as a bench share does."""
    if link.share[0] == 1:
        link._barrier._cond.acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    started = asyncio.run(link.wait_for_start())
    link.send("result", {"started": started})


def test_a_share_killed_holding_the_barrier_lock_does_not_hang_the_run(monkeypatch):
    """The parent breaks the barrier without waiting on its lock for good: the run ends,
    the share stuck at the barrier killed (before: the parent's ``abort()`` blocked its
    event loop forever, and the stuck share with it)."""
    monkeypatch.setattr(local, "KILL_AFTER_S", 2.0)
    shares = LocalShares(2, _dies_holding_the_barrier_lock_or_waits_at_it)

    async def run() -> None:
        try:
            await shares.watch(lambda message: None)
        finally:
            await shares.shutdown()

    shares.start()  # on the main thread: it sets a signal handler
    runner = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    runner.start()
    runner.join(60)
    hung = runner.is_alive()
    for process in shares.processes:  # a hung run leaves them: not past the test
        process.kill()
    assert not hung, "the run hung on the barrier's lock"
    assert shares.barrier_lost
    assert shares.results == {}
    assert {end.index: end.killed_by for end in shares.ends()} == {
        1: signal.SIGKILL,
        2: signal.SIGKILL,
    }
