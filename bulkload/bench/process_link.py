"""The pipes between ``bench --processes P`` and its children: a barrier before each level.

Each child says ``ready`` on one pipe before each level and waits for ``go`` on another;
the parent answers once every child still running is ready, so the children's levels
start together and their measured windows overlap. End of file on the ``go`` pipe (the
parent is stopping, or gone) asks the child to stop: it runs no further level.

Under ``--reset`` a child first says ``done`` (its last level's writes have ended) and
waits for ``go`` too: only once every child is done does the first one empty the table,
so no process empties it under another still writing its level.

The child finds its two file descriptors in ``BULKLOAD_PROCESS_LINK`` (``ready,go``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from bulkload.errors import UsageError

LINK_ENV = "BULKLOAD_PROCESS_LINK"
READY = b"ready\n"  # this child is ready to start the next level
DONE = b"done\n"  # this child's writes of its last level have ended (a --reset may come)
GO = b"go\n"


class ParentLink:
    """A child's end of the link."""

    def __init__(self, ready_fd: int, go_fd: int, *, resets: bool = True):
        self.resets = resets  # this child empties the table for --reset (the first one)
        self._ready_fd = ready_fd
        self._go_fd = go_fd
        self._go: asyncio.StreamReader | None = None
        self._transport: asyncio.ReadTransport | None = None

    @classmethod
    def from_environment(cls, shard_index: int = 1) -> ParentLink | None:
        """The link this process was started with, if it is a child of --processes
        (``shard_index``: which of them, from 1; the first one empties the table)."""
        value = os.environ.pop(LINK_ENV, None)
        if not value:
            return None
        try:
            ready_fd, go_fd = (int(part) for part in value.split(","))
        except ValueError:
            raise UsageError(
                f"{LINK_ENV} must be two file descriptors 'ready,go', not {value!r}"
            ) from None
        return cls(ready_fd, go_fd, resets=shard_index == 1)

    async def wait_for_start(self) -> bool:
        """Say ready; True when the parent says go, False for stop (end of file, no
        parent)."""
        return await self._barrier(READY)

    async def wait_for_writes_done(self) -> bool:
        """Say done; True once every child's writes have ended, False for stop."""
        return await self._barrier(DONE)

    async def _barrier(self, message: bytes) -> bool:
        try:
            os.write(self._ready_fd, message)
            answer = await (await self._reader()).readline()
        except OSError:  # the parent is gone
            answer = b""
        return answer == GO

    async def _reader(self) -> asyncio.StreamReader:
        if self._go is None:
            reader = asyncio.StreamReader()
            loop = asyncio.get_running_loop()
            pipe = os.fdopen(self._go_fd, "rb", buffering=0)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
            self._go, self._transport = reader, transport
        return self._go

    def close(self) -> None:
        """From the loop's thread, before it closes."""
        if self._transport is not None:
            self._transport.close()
        else:
            _close_quietly(self._go_fd)
        _close_quietly(self._ready_fd)


class ChildLink:
    """The parent's end of one child's link."""

    def __init__(self, ready: asyncio.StreamReader, transport: asyncio.ReadTransport, go_fd: int):
        self._ready = ready
        self._transport = transport
        self._go_fd: int | None = go_fd

    @classmethod
    async def open(cls, ready_fd: int, go_fd: int) -> ChildLink:
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(ready_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        return cls(reader, transport, go_fd)

    async def next_message(self) -> bytes | None:
        """READY or DONE, as the child reached a barrier; None once it has ended."""
        line = await self._ready.readline()
        return line if line in (READY, DONE) else None

    def go(self) -> None:
        if self._go_fd is None:
            return
        with contextlib.suppress(OSError):  # it has just ended: its end of file says so
            os.write(self._go_fd, GO)

    def stop(self) -> None:
        """No further level: end of file on the child's ``go`` pipe."""
        if self._go_fd is not None:
            _close_quietly(self._go_fd)
            self._go_fd = None

    def close(self) -> None:
        self.stop()
        self._transport.close()


def child_environment(ready_fd: int, go_fd: int) -> dict[str, Any]:
    return {**os.environ, LINK_ENV: f"{ready_fd},{go_fd}"}


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
