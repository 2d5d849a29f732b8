"""The engine: reader threads feeding a bounded queue, N writer tasks draining it.

The readers run ahead of the writers by at most ``queue_depth`` batches (back-pressure),
so memory stays bounded by (queue_depth + writers) x batch size whatever the input size.
Each writer keeps one batch in flight and takes the next as soon as it is done: the
"keep N operations in flight" pattern of database drivers' concurrent executors. How one
batch is written (throttle, breaker, retries, bisection) is :class:`BatchWriter`'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bulkload.backends.base import Backend, TableSpec
from bulkload.config import EngineOptions
from bulkload.engine.checkpoint import CheckpointFile, Committed, fingerprint
from bulkload.engine.retry import RetryPolicy
from bulkload.engine.writer import BatchWriter, RejectionSink
from bulkload.errors import BulkloadError
from bulkload.sources import BatchSource, SourceFile
from bulkload.sources.batch import SourceBatch
from bulkload.stats.run import RunStats

_CHECKPOINT_SAVE_INTERVAL_S = 1.0


class RunControl:
    """Lets the caller (the CLI's signal handler) ask a running import to stop cleanly:
    reading stops, batches in flight finish, the checkpoint is written."""

    def __init__(self) -> None:
        self.stop_requested = False

    def request_stop(self) -> None:
        self.stop_requested = True


@dataclass(slots=True)
class _Work:
    """A batch read (and, when it goes whole, encoded), waiting for a writer."""

    batch: SourceBatch
    stretches: list[tuple[int, int]]  # (offset, count) of rows still to load
    payload: Any = None
    source_key: str | None = None  # file fingerprint, when checkpointing
    skipped_rows: int = 0


@dataclass(slots=True)
class _Readers:
    files: deque[SourceFile]
    running: int
    first: tuple[SourceBatch, Iterator[SourceBatch]] | None = None


class Engine:
    def __init__(
        self,
        backend: Backend,
        options: EngineOptions,
        stats: RunStats,
        *,
        retry: RetryPolicy | None = None,
        on_reject: RejectionSink | None = None,
        checkpoint: CheckpointFile | None = None,
        control: RunControl | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ):
        self.backend = backend
        self.options = options
        self.stats = stats
        self.control = control or RunControl()
        self._checkpoint = checkpoint
        self._committed = Committed()
        self._clock = clock
        self.writer = BatchWriter(
            backend,
            options,
            stats,
            on_reject=on_reject,
            checkpoint=checkpoint,
            retry=retry,
            clock=clock,
            sleep=sleep,
            seed=seed,
        )

    @property
    def writers(self) -> int:
        """Writer tasks: --concurrency, capped by what the backend can carry at once."""
        limit = self.backend.max_concurrency
        return min(self.options.concurrency, limit) if limit else self.options.concurrency

    # ------------------------------------------------------------------ run

    async def run(self, source: BatchSource, table_name: str, if_exists: str) -> RunStats:
        stats = self.stats
        stats.concurrency = self.options.concurrency
        stats.effective_concurrency = self.writers
        stats.bytes_total = source.total_bytes
        stats.started_at = self._clock()
        try:
            if self._checkpoint is not None and self.options.resume:
                self._committed = self._checkpoint.load(source.files)
            files = deque(source.files)
            first_file = files.popleft()
            batches = source.batches_of(first_file)
            first = await asyncio.to_thread(next, batches, None)
            if first is None:  # --limit 0
                stats.outcome = "completed"
                return stats
            self.writer.throttle_for(first.num_rows)
            await self.backend.open(TableSpec(table_name, source.schema, if_exists))
            try:
                if self.options.resume:
                    for key in await self.backend.committed_keys():
                        self._committed.add(key)
                self._source = source
                readers = _Readers(files, running=min(self.options.readers, len(files) + 1))
                readers.first = (first, batches)
                await self._fan_out(readers)
            finally:
                await self.backend.close()
            stats.outcome = "interrupted" if self.control.stop_requested else "completed"
            self.writer.check_error_share(final=True)
        except BaseException:
            if stats.outcome == "running":
                stats.outcome = "aborted"
            raise
        finally:
            stats.finished_at = self._clock()
            if self._checkpoint is not None:
                self._checkpoint.save()
        return stats

    async def _fan_out(self, readers: _Readers) -> None:
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(
            maxsize=self.options.queue_depth_for(self.writers)
        )
        saver = asyncio.create_task(self._save_checkpoints()) if self._checkpoint else None
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(readers.running):
                    group.create_task(self._read(readers, queue))
                for _ in range(self.writers):
                    group.create_task(self._drain(queue))
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
        finally:
            if saver is not None:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver

    # ------------------------------------------------------------------ reading

    async def _read(self, readers: _Readers, queue: asyncio.Queue[_Work | None]) -> None:
        while not self.control.stop_requested:
            if readers.first is not None:
                first, batches = readers.first
                readers.first = None
                work = await asyncio.to_thread(self._prepare, first)
                if work is not None:
                    await queue.put(work)
                else:
                    self.stats.rows_skipped += first.num_rows
            elif readers.files:
                batches = self._source.batches_of(readers.files.popleft())
            else:
                break
            while not self.control.stop_requested:
                work, skipped = await asyncio.to_thread(self._next_work, batches)
                self.stats.rows_skipped += skipped
                if work is None:
                    break
                await queue.put(work)
        # Only on a normal finish: on failure or cancellation the task group ends the
        # writers, and a put into a full queue nobody drains would never return.
        readers.running -= 1
        if readers.running == 0:
            for _ in range(self.writers):
                await queue.put(None)

    def _next_work(self, batches: Iterator[SourceBatch]) -> tuple[_Work | None, int]:
        """On a reader thread: the next batch with rows left to load, encoded, and how
        many rows were passed over because a previous run committed them."""
        skipped = 0
        for batch in batches:
            work = self._prepare(batch)
            if work is not None:
                return work, skipped
            skipped += batch.num_rows
        return None, skipped

    def _prepare(self, batch: SourceBatch) -> _Work | None:
        """Leave out what a previous run committed; encode a batch that goes whole."""
        key = fingerprint(batch.file) if self._checkpoint is not None else None
        stretches = [(0, batch.num_rows)] if batch.num_rows else []
        if key is not None and self._committed:
            stretches = self._committed.uncovered(key, batch.index, batch.num_rows)
            if not stretches and batch.num_rows:
                return None  # committed in full by a previous run (rejections included)
        work = _Work(batch, stretches, source_key=key)
        work.skipped_rows = batch.num_rows - sum(count for _, count in stretches)
        if stretches == [(0, batch.num_rows)]:
            work.payload = self.backend.encode(batch.data)
        return work

    # ------------------------------------------------------------------ writing

    async def _drain(self, queue: asyncio.Queue[_Work | None]) -> None:
        while True:
            work = await queue.get()
            try:
                if work is None:
                    return
                if self.control.stop_requested:
                    continue  # not started: neither read nor loaded; resume picks it up
                self.stats.rows_skipped += work.skipped_rows
                self._account_read(work.batch, work.skipped_rows)
                self.stats.in_flight += 1
                try:
                    batch = work.batch
                    for offset, count in work.stretches:
                        whole = (offset, count) == (0, batch.num_rows)
                        await self.writer.deliver(
                            batch.data if whole else batch.data.slice(offset, count),
                            batch,
                            offset=offset,
                            payload=work.payload if whole else None,
                            key_source=work.source_key,
                        )
                    self.stats.batches += 1
                finally:
                    self.stats.in_flight -= 1
            finally:
                queue.task_done()

    def _account_read(self, batch: SourceBatch, skipped: int) -> None:
        self.stats.rows_read += batch.rows_read - skipped
        self.stats.bytes_read += batch.bytes_read
        for rejection in batch.rejected:
            self.writer.reject(rejection)

    async def _save_checkpoints(self) -> None:
        assert self._checkpoint is not None
        while True:
            await asyncio.sleep(_CHECKPOINT_SAVE_INTERVAL_S)
            await asyncio.to_thread(self._checkpoint.save)


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
