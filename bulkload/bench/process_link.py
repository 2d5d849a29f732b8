"""The pipes between ``bench --processes P`` and its children: a barrier before each level.

Each child says ``ready`` on one pipe before each level and waits for ``go`` on another;
the parent answers once every child still running is ready, so the children's levels
start together and their measured windows overlap. End of file on the ``go`` pipe (the
parent is stopping, or gone) asks the child to stop: it runs no further level.

The child finds its two file descriptors in ``BULKLOAD_PROCESS_LINK`` (``ready,go``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import replace
from typing import Any

from bulkload.config import BenchConfig, GateOptions
from bulkload.engine.runner import RunControl
from bulkload.errors import UsageError

LINK_ENV = "BULKLOAD_PROCESS_LINK"
READY = b"ready\n"
GO = b"go\n"


class ParentLink:
    """A child's end of the link."""

    def __init__(self, ready_fd: int, go_fd: int):
        self._ready_fd = ready_fd
        self._go_fd = go_fd
        self._go: asyncio.StreamReader | None = None
        self._transport: asyncio.ReadTransport | None = None

    @classmethod
    def from_environment(cls) -> ParentLink | None:
        """The link this process was started with, if it is a child of --processes."""
        value = os.environ.pop(LINK_ENV, None)
        if not value:
            return None
        try:
            ready_fd, go_fd = (int(part) for part in value.split(","))
        except ValueError:
            raise UsageError(
                f"{LINK_ENV} must be two file descriptors 'ready,go', not {value!r}"
            ) from None
        return cls(ready_fd, go_fd)

    @staticmethod
    def child_config(config: BenchConfig) -> BenchConfig:
        """What a child runs: its share, without the outputs and gates of the whole run
        (the parent judges those on the merged result; a gate judged on one share, as
        --abort-on-fail would, judges the wrong figures)."""
        return replace(config, report=replace(config.report, html_path=None), gates=GateOptions())

    async def wait_for_start(self, control: RunControl) -> None:
        """Say ready; return when the parent says go, or stop (end of file, no parent)."""
        try:
            os.write(self._ready_fd, READY)
            answer = await (await self._reader()).readline()
        except OSError:  # the parent is gone
            answer = b""
        if answer != GO:
            control.request_stop()

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

    async def ready(self) -> bool:
        """True when the child is ready for its next level; False once it has ended."""
        return await self._ready.readline() == READY

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
