"""A private event loop on its own thread, so sync and async callers share one engine
(like database drivers' I/O threads); the loop :mod:`bulkload.event_loop` chooses."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from bulkload import event_loop

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "bulkload-loop"):
        self.loop = event_loop.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run to completion, blocking the calling thread (never the loop's own)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.run() called from its own loop")
        return self.submit(coro).result()

    def stop(self) -> None:
        """Cancel what still runs on the loop (a timeout watchdog, say), then close it."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.submit(_cancel_others()).result(timeout=5)
        with contextlib.suppress(Exception):  # asyncio.to_thread's workers end with the loop
            self.submit(self.loop.shutdown_default_executor()).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def run_blocking(coro: Coroutine[Any, Any, T], name: str) -> T:
    """Run ``coro`` to completion from sync code: on a loop of its own, or, where a loop
    already runs in this thread (a Jupyter notebook, async code), on a private loop
    thread named ``name`` while this call blocks."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: no loop here, run one
        return event_loop.run(coro)
    thread = LoopThread(name)
    try:
        return thread.run(coro)
    finally:
        thread.stop()
