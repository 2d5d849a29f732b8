"""The import pipeline: sources -> the drain -> the run's statistics.

Reader threads parse the input files and feed the :class:`~bulkload.engine.drain.Drain`;
its writers write each batch through the :class:`BatchWriter`. The readers run ahead of
the writers by at most ``queue_depth`` batches (back-pressure), so memory stays bounded
by (queue_depth + writers) x batch size whatever the input size. What is the import's
own: the first batch read before the target is opened (its schema), --resume's
bookkeeping (rows committed before are passed over), the checkpoint, and how a run ends
(a read error lets the batches read be written; a write error leaves the queued ones to
--resume; read = loaded + rejected however it ends).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bulkload.backends.base import Backend, TableSpec
from bulkload.config import EngineOptions
from bulkload.engine.batch_writer import BatchWriter, RejectionSink, Tally, WriteAbandoned
from bulkload.engine.channel import Channel
from bulkload.engine.checkpoint import (
    CheckpointFile,
    Committed,
    check_recorded_keys,
    fingerprint,
    if_exists_for,
    reading_key,
    reading_of,
)
from bulkload.engine.drain import Drain
from bulkload.engine.in_flight import in_flight_limit
from bulkload.engine.retry import RetryPolicy
from bulkload.errors import UsageError
from bulkload.phase_times import phase
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

    batch: SourceBatch | None  # None: only reports rows passed over by --resume
    stretches: list[tuple[int, int]]  # (offset, count) of rows still to load
    payload: Any = None
    source_key: str | None = None  # file fingerprint, when checkpointing
    committed_before: int = 0  # rows of this batch a previous run committed (--resume)
    passed_over: int = 0  # rows of earlier batches committed in full, skipped unseen


@dataclass(slots=True)
class _Readers:
    files: deque[SourceFile]
    running: int
    first: tuple[SourceBatch, Iterator[SourceBatch]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: int = 0  # records read from the inputs so far (under ``lock``)
    done: bool = False  # every input read to its end


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
        self._reading = ""  # how CSV files are cut into rows, in batch keys (checkpoint)
        self._clock = clock
        # The first error of a reader or writer: the run stops reading, lets the writes in
        # flight finish (so the summary says exactly what the target holds), then raises it.
        self._failure: BaseException | None = None
        self._failure_lock = threading.Lock()
        self._write_failed = False
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
        return in_flight_limit(self.backend, self.options.concurrency)

    # ------------------------------------------------------------------ run

    async def run(self, source: BatchSource, table_name: str, if_exists: str) -> RunStats:
        stats = self.stats
        stats.concurrency = self.options.concurrency
        stats.effective_concurrency = self.writers
        stats.bytes_total = source.total_bytes
        stats.started_at = self._clock()
        refused = False
        try:
            self._reading = reading_key(reading_of(source.options.csv))
            if self._checkpoint is not None and self.options.resume:
                self._committed = self._checkpoint.load(source.files)
            elif self._checkpoint is not None and not self._child(source):
                self._checkpoint.check_fresh_start(if_exists)
            files = deque(source.files)
            first_file = files.popleft()
            batches = source.batches_of(first_file)
            first = await asyncio.to_thread(next, batches, None)
            while first is None and files:  # a header-only file: the next one comes first
                batches = source.batches_of(files.popleft())
                first = await asyncio.to_thread(next, batches, None)
            if first is None:  # --limit 0
                stats.outcome = "completed"
                return stats
            self.writer.throttle_for(first.num_rows)
            try:  # closed even when opening fails: it may hold a thread or a pool by then
                await self.backend.open(
                    TableSpec(
                        table_name,
                        source.schema,
                        if_exists_for(if_exists, self._committed),
                        checkpoints=self._checkpoint is not None,
                        writers=self.writers,
                        connect_timeout=self.options.timeout,
                        batch_size=source.options.batch_size,
                    )
                )
                if self._checkpoint is not None and (
                    self.options.resume or not self._child(source)
                ):
                    keys = await self.backend.committed_keys()
                    try:
                        check_recorded_keys(
                            keys,
                            batch_size=source.options.batch_size,
                            resume=self.options.resume,
                            table=table_name,
                            target=self.backend.describe(),
                            files=source.files,
                            reading=self._reading,
                        )
                    except UsageError:
                        refused = True  # no file of a run that did not start
                        raise
                    for key in keys:
                        self._committed.add(key)
                self._source = source
                readers = _Readers(files, running=min(self.options.readers, len(files) + 1))
                readers.first = (first, batches)
                with phase("event loop: engine, driver"):  # CPU of the loop's thread
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
            await self.writer.aclose()
            stats.finished_at = self._clock()
            if self._checkpoint is not None and not refused:
                self._checkpoint.save()
        return stats

    @staticmethod
    def _child(source: BatchSource) -> bool:
        """A worker of ``import --processes``: its parent checked the checkpoint and the
        bookkeeping before any worker started (the others' keys are no earlier load)."""
        return source.options.process_share is not None

    async def _fan_out(self, readers: _Readers) -> None:
        # Back-pressure: at most queue_depth batches wait between reading and writing.
        drain: Drain[_Work] = Drain(
            self._write,
            writers=self.writers,
            depth=self.options.queue_depth_for(self.writers),
            stats=self.stats,
            may_grow=lambda: not self._stop_writing,
            periodic=(_CHECKPOINT_SAVE_INTERVAL_S, self._checkpoint.save_async)
            if self._checkpoint is not None
            else None,
        )
        # Readers never raise (they record the failure and stop), nor do writes.
        await drain.run(
            *(asyncio.to_thread(self._read, readers, drain.channel) for _ in range(readers.running))
        )
        if self._failure is not None:
            raise self._failure

    @property
    def _stop_reading(self) -> bool:
        return self.control.stop_requested or self._failure is not None

    @property
    def _stop_writing(self) -> bool:
        """No new batch is started: the user asked to stop, or writing failed. (After a
        read error the batches already read are still written: the run loads exactly
        the rows before the bad spot.)"""
        return self.control.stop_requested or self._write_failed

    def _fail(self, error: BaseException, *, writing: bool) -> None:
        """Record the run's first error and wind down: readers stop; after a write error
        queued batches are left for --resume and batches waiting to retry give up;
        writes in flight finish."""
        with self._failure_lock:  # readers fail on their own threads
            if self._failure is None:
                self._failure = error
        if writing:
            self._write_failed = True
            self.writer.abandon_retries()

    # ------------------------------------------------------------------ reading

    def _read(self, readers: _Readers, channel: Channel[_Work]) -> None:
        """One reader thread: files in turn, each batch handed to the writers as it is
        ready (one thread for the whole run, not a thread hop per batch). A read error
        is recorded for the run (on the loop's thread), never raised into the group."""
        try:
            self._read_files(readers, channel)
        except BaseException as error:  # handed to the run, raised at its end
            self._fail(error, writing=False)
        finally:
            # The last reader to finish tells the writers there is no more.
            with readers.lock:
                readers.running -= 1
                last = readers.running == 0
                if last and readers.done and not (self._stop_reading or channel.abandoned):
                    self.stats.rows_total = readers.rows  # known now, not estimated
            if last:
                channel.close()

    def _read_files(self, readers: _Readers, channel: Channel[_Work]) -> None:
        while not self._stop_reading and not channel.abandoned:
            with readers.lock:
                if readers.first is not None:
                    first, batches = readers.first
                    readers.first = None
                    batches = itertools.chain([first], batches)
                elif readers.files:
                    batches = self._source.batches_of(readers.files.popleft())
                else:
                    readers.done = True
                    return
            skipped = 0
            for batch in batches:
                if self._stop_reading or channel.abandoned:
                    return
                with readers.lock:
                    readers.rows += batch.rows_read
                work = self._prepare(batch)
                if work is None:
                    skipped += batch.num_rows
                    continue
                work.passed_over += skipped
                skipped = 0
                with phase("queue full: wait"):
                    if not channel.put(work):
                        return
            if skipped and not channel.put(_Work(None, [], passed_over=skipped)):
                return

    def _prepare(self, batch: SourceBatch) -> _Work | None:
        """Leave out what a previous run committed; encode a batch that goes whole."""
        rows = batch.data.num_rows
        whole = [(0, rows)] if rows else []
        if self._checkpoint is None:
            return _Work(batch, whole, self.backend.encode(batch.data) if rows else None)
        key = fingerprint(batch.file, self._reading)
        stretches = self._committed.uncovered(key, batch.index, rows) if self._committed else whole
        if not stretches and rows:
            return None  # committed in full by a previous run (rejections included)
        work = _Work(batch, stretches, source_key=key)
        work.committed_before = rows - sum(count for _, count in stretches)
        if stretches == whole and rows:
            work.payload = self.backend.encode(batch.data)
        return work

    # ------------------------------------------------------------------ writing

    async def _write(self, work: _Work) -> None:
        """Write one batch, for a writer of the drain: its rows rejected while reading,
        then its stretches. Rows are counted as read when the write starts; if it is
        abandoned or cancelled half-way, the rows not settled are given back (neither
        read nor loaded: --resume takes them), so read = loaded + rejected holds however
        the run ends. A failure is the run's, raised at its end."""
        self.stats.rows_skipped += work.passed_over + work.committed_before
        batch = work.batch
        if batch is None or self._stop_writing:
            return  # stopping: not started, so neither read nor loaded; resume takes it
        unsettled = batch.rows_read - work.committed_before
        # their bytes: rows committed before (--resume) are neither read nor bytes
        nbytes = batch.bytes_read * unsettled // batch.rows_read if batch.rows_read else 0
        self.stats.rows_read += unsettled
        self.stats.bytes_read += nbytes
        tally = Tally()
        try:
            for rejection in batch.rejected:
                tally.rows += 1  # counted by reject() even when it then aborts the run
                self.writer.reject(rejection)
            for offset, count in work.stretches:
                whole = (offset, count) == (0, batch.num_rows)
                await self.writer.deliver(
                    batch.data if whole else batch.data.slice(offset, count),
                    batch,
                    offset=offset,
                    payload=work.payload if whole else None,
                    key_source=work.source_key,
                    tally=tally,
                )
            self.stats.batches += 1
        except BaseException as error:
            given_back = unsettled - tally.rows
            self.stats.rows_read -= given_back
            self.stats.bytes_read -= nbytes * given_back // unsettled if unsettled else 0
            if isinstance(error, WriteAbandoned):
                return
            if isinstance(error, Exception):
                self._fail(error, writing=True)
                return
            raise
