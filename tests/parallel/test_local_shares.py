"""The local-process runner's plumbing, with real spawned processes."""

from __future__ import annotations

import asyncio
import os
import signal
import time

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
