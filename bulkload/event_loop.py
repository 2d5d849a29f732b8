"""The event loop every command runs on: uvloop's where it is installed, asyncio's own
otherwise.

uvloop (libuv, in C) runs the same coroutines with less CPU per callback, which is what
a load generator spends its time on (issue 12: the HTTP client's requests/s). Every
place that starts a loop — the commands, the library's sync ``load()``, the sync
loaders' loop thread, the cluster's tasks — goes through :func:`run` or
:func:`new_event_loop` here, so they all run on the same kind of loop.

``BULKLOAD_EVENT_LOOP`` (the one place it is read) chooses: ``auto`` (default: uvloop
when importable, else asyncio), ``uvloop`` (an error when it is not installed), or
``asyncio`` (the standard library's loop: to tell a uvloop problem from a bulkload one).
The children of ``bench --processes`` and local Dask workers inherit it.

uvloop is imported only when a loop is about to run: ``bulkload --version`` and
``--help`` import neither it nor asyncio (see tests/test_startup.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from bulkload.errors import UsageError

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

ENV_VAR = "BULKLOAD_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")


def choice() -> str:
    """What ``BULKLOAD_EVENT_LOOP`` asks for (``auto`` when unset); UsageError if bad."""
    value = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if value not in CHOICES:
        raise UsageError(
            f"{ENV_VAR} must be one of {', '.join(CHOICES)}, not {os.environ[ENV_VAR]!r}"
        )
    return value


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop :func:`run` runs on (uvloop imported here, not before)."""
    return _chosen()[1]


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: which loop :func:`run` runs on (as saved in results)."""
    return _chosen()[0]


def _chosen() -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    wanted = choice()
    if wanted != "asyncio":
        try:
            import uvloop
        except ImportError:
            if wanted == "uvloop":
                raise UsageError(
                    f"{ENV_VAR}=uvloop, but uvloop is not installed (pip install uvloop; "
                    "there is none for Windows)"
                ) from None
        else:
            return "uvloop", uvloop.new_event_loop
    import asyncio

    # the standard library's own loop, whatever event loop policy the process has set
    if sys.platform == "win32":
        return "asyncio", asyncio.ProactorEventLoop
    return "asyncio", asyncio.SelectorEventLoop


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the chosen kind (for a loop run on a thread of its own)."""
    return loop_factory()()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` on the chosen loop: the same handling of Ctrl-C, of the tasks
    left over, of async generators and of the default executor at the end."""
    import asyncio

    try:
        factory = loop_factory()
    except BaseException:
        coro.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def run_command(coro: Coroutine[Any, Any, T]) -> T:
    """:func:`run` for a command of the command line. What start-up imported (pyarrow,
    numpy, the terminal's libraries: a few hundred thousand objects) lives until exit, so it
    is first moved out of the cyclic collector's way (``gc.freeze``): its full collections then
    stop walking all of it again and again — 5-6% of a 1M-row PostgreSQL import's CPU.
    Not for the library's ``load()``: a caller's objects must stay collectable; and
    unfrozen at the end, for the commands the test suite runs in its own process.

    The console script turns the collector off while it starts (bulkload.cli.main):
    it is turned on here, once start-up's objects are frozen, and left as found."""
    import gc

    paused = not gc.isenabled()
    gc.freeze()
    gc.enable()
    try:
        return run(coro)
    finally:
        if paused:
            gc.disable()
        gc.unfreeze()


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel a task the caller owns and wait until it has ended. Its CancelledError is
    the expected end and is absorbed; a cancellation of the caller itself (which may
    come while it waits) is not: it goes on (``Task.cancelling``)."""
    import asyncio

    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
