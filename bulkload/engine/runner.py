"""The engine: one reader thread feeding a bounded queue, N writer tasks draining it.

The reader runs ahead of the writers by at most ``queue_depth`` batches (back-pressure),
so memory stays bounded by (queue_depth + writers) x batch size whatever the input size.
Each writer keeps one batch in flight and takes the next as soon as it is done, the
"keep N operations in flight" pattern of database drivers' concurrent executors.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from bulkload.backends.base import Backend, ErrorKind, TableSpec
from bulkload.config import EngineOptions
from bulkload.engine.retry import RetryPolicy
from bulkload.errors import AbortedError, BulkloadError, TargetError
from bulkload.sources import BatchSource
from bulkload.sources.batch import Rejection, SourceBatch
from bulkload.stats.run import RunStats

_DONE = None  # queue sentinel: no more batches


@dataclass(frozen=True, slots=True)
class _Work:
    """A batch read and encoded, waiting for a writer."""

    batch: SourceBatch
    payload: Any


class RejectionSink(Protocol):
    def __call__(self, rejection: Rejection, /) -> None: ...


class Engine:
    def __init__(
        self,
        backend: Backend,
        options: EngineOptions,
        stats: RunStats,
        *,
        retry: RetryPolicy | None = None,
        on_reject: RejectionSink | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ):
        self.backend = backend
        self.options = options
        self.stats = stats
        self.retry = retry or RetryPolicy()
        self._on_reject = on_reject
        self._clock = clock
        self._sleep = sleep
        self._rng = random.Random(seed)

    @property
    def writers(self) -> int:
        """Writer tasks: --concurrency, capped by what the backend can use."""
        limit = self.backend.max_concurrency
        return min(self.options.concurrency, limit) if limit else self.options.concurrency

    async def run(self, source: BatchSource, table_name: str, if_exists: str) -> RunStats:
        stats = self.stats
        stats.concurrency = self.options.concurrency
        stats.effective_concurrency = self.writers
        stats.bytes_total = source.total_bytes
        stats.started_at = self._clock()
        batches = source.batches()
        try:
            first = await asyncio.to_thread(next, batches, _DONE)
            if first is None:  # every source was empty: nothing to create or load
                stats.outcome = "completed"
                return stats
            self._account_read(first)
            await self.backend.open(TableSpec(table_name, source.schema, if_exists))
            try:
                encoded = _Work(first, await asyncio.to_thread(self.backend.encode, first.data))
                await self._fan_out(encoded, batches)
            finally:
                await self.backend.close()
            stats.outcome = "completed"
        except BaseException:
            stats.outcome = "aborted"
            raise
        finally:
            stats.finished_at = self._clock()
        return stats

    async def _fan_out(self, first: _Work, batches: Iterator[SourceBatch]) -> None:
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(
            maxsize=self.options.queue_depth_for(self.writers)
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(first, batches, queue))
                for _ in range(self.writers):
                    group.create_task(self._drain(queue))
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None

    async def _read(
        self,
        first: _Work,
        batches: Iterator[SourceBatch],
        queue: asyncio.Queue[_Work | None],
    ) -> None:
        await queue.put(first)
        while (work := await asyncio.to_thread(self._next_encoded, batches)) is not None:
            self._account_read(work.batch)
            await queue.put(work)
        for _ in range(self.writers):
            await queue.put(_DONE)

    def _next_encoded(self, batches: Iterator[SourceBatch]) -> _Work | None:
        """On the reader thread: read the next batch and encode it for the backend."""
        batch = next(batches, _DONE)
        if batch is None:
            return None
        return _Work(batch, self.backend.encode(batch.data) if batch.num_rows else None)

    def _account_read(self, batch: SourceBatch) -> None:
        self.stats.rows_read += batch.rows_read
        self.stats.bytes_read += batch.bytes_read
        for rejection in batch.rejected:
            self._reject(rejection)

    async def _drain(self, queue: asyncio.Queue[_Work | None]) -> None:
        while (work := await queue.get()) is not None:
            self.stats.in_flight += 1
            try:
                await self._deliver(work.batch.data, work.batch, 0, work.payload)
                self.stats.batches += 1
            finally:
                self.stats.in_flight -= 1

    async def _deliver(
        self, data: pa.RecordBatch, origin: SourceBatch, offset: int, payload: Any = None
    ) -> None:
        """Write rows; on a permanent error, split the rows in two until the bad ones are
        isolated and rejected, and every good one is loaded."""
        if data.num_rows == 0:
            return
        if payload is None:
            payload = await asyncio.to_thread(self.backend.encode, data)
        error = await self._write_with_retries(payload)
        if error is None:
            self.stats.rows_loaded += data.num_rows
            return
        if data.num_rows == 1:
            self._reject(Rejection(origin.source, origin.line_of(offset), _one_line(error)))
            return
        self.stats.batches_failed += 1
        middle = data.num_rows // 2
        await self._deliver(data.slice(0, middle), origin, offset)
        await self._deliver(data.slice(middle), origin, offset + middle)

    async def _write_with_retries(self, payload: Any) -> BaseException | None:
        """None when written; the permanent error when the rows are bad. Raises when the
        target is unusable or transient errors outlast the retries."""
        attempt = 0
        while True:
            started = self._clock()
            try:
                await self.backend.write(payload)
                self.stats.latency.record(self._clock() - started)
                return None
            except BulkloadError:
                raise
            except Exception as exc:  # the backend's own driver errors, classified below
                self.stats.latency.record(self._clock() - started)
                kind = self.backend.classify(exc)
                if kind is ErrorKind.PERMANENT:
                    return exc
                if kind is ErrorKind.FATAL:
                    raise TargetError(f"{self.backend.describe()}: {_one_line(exc)}") from exc
                attempt += 1
                self.stats.retried(_one_line(exc))
                if attempt > self.retry.retries:
                    raise AbortedError(
                        f"{self.backend.describe()}: gave up after {self.retry.retries} "
                        f"retries: {_one_line(exc)}"
                    ) from exc
                await self._sleep(self.retry.wait(attempt, self._rng, _retry_after(exc)))

    def _reject(self, rejection: Rejection) -> None:
        self.stats.reject(rejection)
        if self._on_reject is not None:
            self._on_reject(rejection)


def _retry_after(error: BaseException) -> float | None:
    hint = getattr(error, "retry_after", None)
    return float(hint) if isinstance(hint, int | float) else None


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a failed task group: ours before anyone else's."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    for leaf in leaves:
        if isinstance(leaf, BulkloadError):
            return leaf
    return leaves[0]
