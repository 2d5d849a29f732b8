"""``execute_concurrent``: write many batches with bounded concurrency, results in order.

Modelled on database drivers' ``execute_concurrent``: at most ``concurrency`` batches in
flight, a new one started as each completes, and one ``(success, result_or_exception)``
per batch in input order. Writes go through the run's policy (throttle, breaker,
timeout, retries of transient errors); a batch the target refuses fails as a whole
(no bisection: the caller owns its batches).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, NamedTuple

import pyarrow as pa

from bulkload.backends import create_backend
from bulkload.backends.base import Backend, TableSpec
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.loop_thread import LoopThread
from bulkload.engine.writer import BatchWriter, in_flight_limit, one_line
from bulkload.errors import BulkloadError, PermanentWriteError, UsageError
from bulkload.stats.run import RunStats


class ExecutionResult(NamedTuple):
    success: bool
    result_or_exc: Any  # rows written, or the exception


def execute_concurrent(
    backend: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int = 100,
    raise_on_first_error: bool = True,
    results_generator: bool = False,
    *,
    table: str | None = None,
    if_exists: str = "append",
    options: EngineOptions | None = None,
) -> list[ExecutionResult] | Iterator[ExecutionResult]:
    """Write ``batches`` into ``table`` of ``backend`` (a Backend or a target URL).

    The backend is opened (creating the table from the first batch's schema) and closed
    here, on a private event-loop thread, so this works from sync code and inside a
    running event loop alike. With ``results_generator=True`` results stream as they
    are ready with memory bounded by ``concurrency``; otherwise a list is returned.
    With ``raise_on_first_error`` the first failure is raised (pending writes are
    cancelled) instead of being returned.
    """
    if table is None:
        raise UsageError("execute_concurrent needs table=NAME")
    if concurrency < 1:
        raise UsageError("concurrency must be at least 1")
    target = create_backend(TargetOptions(url=backend)) if isinstance(backend, str) else backend
    run = _Execution(target, table, if_exists, options or EngineOptions(), concurrency)
    stream = run.stream(batches, raise_on_first_error)
    if results_generator:
        return _sync_iterate(stream)
    return list(_sync_iterate(stream))


async def execute_concurrent_async(
    backend: Backend,
    batches: Iterable[pa.RecordBatch],
    concurrency: int = 100,
    raise_on_first_error: bool = True,
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
) -> AsyncIterator[ExecutionResult]:
    """The same on the caller's running loop: an async iterator of ordered results."""
    run = _Execution(backend, table, if_exists, options or EngineOptions(), concurrency)
    async for result in run.stream(batches, raise_on_first_error):
        yield result


def _sync_iterate(stream: AsyncIterator[ExecutionResult]) -> Iterator[ExecutionResult]:
    loop = LoopThread("bulkload-execute")
    try:
        while True:
            try:
                yield loop.run(_anext(stream))
            except StopAsyncIteration:
                return
    finally:
        with contextlib.suppress(Exception):
            loop.run(_aclose(stream))
        loop.stop()


async def _anext(stream: AsyncIterator[ExecutionResult]) -> ExecutionResult:
    return await stream.__anext__()


async def _aclose(stream: AsyncIterator[ExecutionResult]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


class _Execution:
    def __init__(
        self, backend: Backend, table: str, if_exists: str, options: EngineOptions, concurrency: int
    ):
        self.backend = backend
        self.table = table
        self.if_exists = if_exists
        self.stats = RunStats(target=backend.describe(), table=table)
        self.writer = BatchWriter(backend, options, self.stats)
        self.concurrency = in_flight_limit(backend, concurrency)

    async def stream(
        self, batches: Iterable[pa.RecordBatch], raise_on_first_error: bool
    ) -> AsyncIterator[ExecutionResult]:
        """Ordered results from a sliding window of ``concurrency`` writes."""
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return
        await self.backend.open(
            TableSpec(self.table, first.schema, self.if_exists, writers=self.concurrency)
        )
        window: deque[asyncio.Task[ExecutionResult]] = deque()
        pending: Iterator[pa.RecordBatch] = _chain(first, iterator)
        try:
            for batch in pending:
                window.append(asyncio.create_task(self._one(batch)))
                if len(window) >= self.concurrency:
                    result = await window.popleft()
                    _raise_if(result, raise_on_first_error)
                    yield result
            while window:
                result = await window.popleft()
                _raise_if(result, raise_on_first_error)
                yield result
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)
            await self.backend.close()

    async def _one(self, batch: pa.RecordBatch) -> ExecutionResult:
        try:
            payload = await asyncio.to_thread(self.backend.encode, batch)
            error = await self.writer.write_with_retries(payload, batch, None)
        except BulkloadError as exc:
            return ExecutionResult(False, exc)
        except Exception as exc:
            return ExecutionResult(False, exc)
        if error is not None:
            refused = PermanentWriteError(one_line(error))
            refused.__cause__ = error
            return ExecutionResult(False, refused)
        self.stats.rows_loaded += batch.num_rows
        self.stats.batches += 1
        return ExecutionResult(True, batch.num_rows)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _raise_if(result: ExecutionResult, raise_on_first_error: bool) -> None:
    if raise_on_first_error and not result.success:
        raise result.result_or_exc
