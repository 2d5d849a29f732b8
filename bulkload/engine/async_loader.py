"""``AsyncLoader``: add rows as they come, committed every N rows, in parallel.

The familiar async-executor controls of database drivers: a concurrency level, a batch
size ("commit every N rows"), a back-pressure threshold (``add`` waits while too many rows
are pending), a flush interval (buffered rows go out at the latest after it),
success/error callbacks, ``wait_completion(timeout)``, ``is_pending()`` and ``close()``.
It runs on a private event-loop thread, so the same object works from sync code
(``with AsyncLoader(...)``) and async code (``async with AsyncLoader(...)``).

It is the engine's :class:`~bulkload.engine.drain.Drain` fed by ``add()``: every
``batch_size`` rows are cut into a batch and queued; the drain's writers (started on
demand, up to ``concurrency``) write them. The names are the command line's
(``parallelism``, ``commit_every`` and ``target`` still work, with a
DeprecationWarning). Rows are buffered as Python values and turned into Arrow once per
batch (see :mod:`bulkload.engine.row_batches`). Rows the target refuses are isolated by
bisection and handed to ``on_reject`` (or kept in ``rejected``); a batch that cannot be
written at all (target down, retries spent) goes to ``on_error`` (or ``errors``, and
``close()`` raises the first one). Callbacks run on the loader's thread; an exception a
callback raises is kept in ``callback_errors`` and never hides the failure it was told
about. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pyarrow as pa

from bulkload.backends import create_backend
from bulkload.backends.base import Backend, TableSpec
from bulkload.config import DEFAULT_BATCH_SIZE, EngineOptions, TargetOptions
from bulkload.engine.batch_writer import BatchWriter, one_line
from bulkload.engine.drain import Drain
from bulkload.engine.in_flight import in_flight_ceiling
from bulkload.engine.loop_thread import LoopThread
from bulkload.engine.row_batches import Item, Row, RowFitter
from bulkload.errors import AbortedError, UsageError
from bulkload.renamed import renamed_keywords
from bulkload.sources.batch import Rejection
from bulkload.stats.run import RunStats

log = logging.getLogger("bulkload")

# What add() takes: a RecordBatch, a Table, a frame with to_arrow() (polars), a list of
# row dicts, or one row dict. (pyarrow ships no type hints, so this cannot be spelled.)
Rows = Any

_UNBOUNDED = 2**62  # batches the drain may queue: add()'s bound is in rows


@dataclass(slots=True)
class _LoaderOrigin:
    """Names rows of the n-th submitted batch in rejections (no file, no lines), and
    remembers which of them the target refused."""

    index: int
    data: pa.RecordBatch
    first_row: int  # position among all rows added of the chunk the batch was cut from
    positions: list[int]  # position in that chunk of each row of ``data``
    refused: set[int] = field(default_factory=set)

    def rejection(self, row: int, reason: str) -> Rejection:
        self.refused.add(row)
        values = {
            name: self.data.column(i)[row].as_py() for i, name in enumerate(self.data.schema.names)
        }
        return _rejection(self.index, self.first_row + self.positions[row], reason, values)

    def committed(self) -> pa.RecordBatch:
        """The rows of ``data`` the target took."""
        if not self.refused:
            return self.data
        keep = [i not in self.refused for i in range(self.data.num_rows)]
        return self.data.filter(pa.array(keep))


def _rejection(index: int, position: int, reason: str, values: Row) -> Rejection:
    record = json.dumps(values, default=str, ensure_ascii=False)
    return Rejection(f"batch {index}", position + 1, reason, record)


class AsyncLoader:
    """Loads rows as they come: ``add()`` buffers them, every ``batch_size`` rows go
    to ``table`` of ``to`` (a URL or a :class:`~bulkload.Backend`) as one batch, with
    up to ``concurrency`` batches in flight, each written under the engine's policy
    (``options``: retries, breaker, timeout; refused rows isolated by bisection).

    Use it as a context manager, from sync or async code (it runs its own event-loop
    thread)::

        with AsyncLoader("sqlite:///out.db", "events") as loader:
            loader.add({"id": 1, "name": "a"})   # a dict, a list of dicts, an Arrow batch
        async with AsyncLoader(url, "events") as loader:
            await loader.add_async(rows)

    ``add()`` blocks while ``backpressure`` rows are pending; rows buffered for
    ``flush_interval`` seconds go out anyway. ``wait_completion()`` flushes and waits;
    ``close()`` (or leaving the ``with``) writes the rest, closes the backend and the
    thread, then raises the first write error (see ``errors``) or callback error.
    ``stats`` (a :class:`~bulkload.RunStats`) counts rows loaded and rejected, latencies,
    retries; its ``outcome`` is ``running`` until ``close()``, then ``completed``, or
    ``failed`` / ``aborted`` when a batch could not be written. Rows the target refuses
    go to ``on_reject`` (else ``rejected``); committed batches to ``on_success``; failed
    ones to ``on_error`` (else ``errors``).
    """

    @renamed_keywords(
        {"target": "to", "parallelism": "concurrency", "commit_every": "batch_size"},
        where="AsyncLoader",
    )
    def __init__(
        self,
        to: str | Backend,
        table: str,
        *,
        concurrency: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backpressure: int | None = None,
        flush_interval: float | None = 1.0,
        on_success: Callable[[int, pa.RecordBatch], None] | None = None,
        on_error: Callable[[BaseException, pa.RecordBatch], None] | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        if_exists: str = "append",
        options: EngineOptions | None = None,
    ):
        asked = concurrency is not None
        options = options or EngineOptions()
        concurrency = options.concurrency if concurrency is None else concurrency
        if concurrency < 1 or batch_size < 1:
            raise UsageError("concurrency and batch_size must be at least 1")
        if backpressure is not None and backpressure < batch_size:
            raise UsageError(
                f"backpressure ({backpressure}) must be at least batch_size ({batch_size}): "
                f"add() would wait for rows that are never sent"
            )
        if flush_interval is not None and flush_interval <= 0:
            raise UsageError("flush_interval must be positive (or None for no timed flush)")
        self.backend = create_backend(TargetOptions(url=to)) if isinstance(to, str) else to
        self.table = table
        self.if_exists = if_exists
        self.batch_size = batch_size
        #: add() waits while this many rows or more are buffered, queued or in flight
        self.backpressure = backpressure or 4 * concurrency * batch_size
        self.flush_interval = flush_interval
        self.on_success = on_success
        self.on_error = on_error
        self.stats = RunStats(target=self.backend.describe(), table=table, batch_size=batch_size)
        #: writes in flight: ``concurrency``, capped by what the backend carries
        self.concurrency = in_flight_ceiling(
            self.backend, concurrency, self.stats, asked=asked, stacklevel=4
        )
        self.errors: list[BaseException] = []
        self._write_failure: BaseException | None = None  # the first, even if on_error took it
        #: exceptions raised by on_success / on_error / on_reject, each with a note
        self.callback_errors: list[BaseException] = []
        self.rejected: list[Rejection] = []
        self._on_reject = on_reject or self.rejected.append
        self._options = options
        self._fitter = RowFitter(table)
        self._buffer: list[Item] = []
        self._buffered_rows = 0
        self._buffered_since = 0.0  # when the oldest buffered row was added
        self._pending_rows = 0  # cut from the buffer, not finished
        self._submitted = 0
        self._rows_cut = 0
        self._changed = threading.Condition()
        self._cutting = threading.Lock()  # one cut at a time: chunks keep their order
        self._loop = LoopThread("bulkload-loader")
        self._opened: asyncio.Future[None] | None = None
        self._writer: BatchWriter | None = None
        self._closed = False
        # the engine's drain, fed by add(): it runs from here to close()
        self._drain: Drain[tuple[_LoaderOrigin, list[Rejection]]]
        self._draining: asyncio.Task[None]
        self._drain, self._draining = self._loop.run(self._start_drain())
        self._flusher: asyncio.Task[None] | None = None
        if flush_interval is not None:
            self._flusher = self._loop.run(self._start_flusher(flush_interval))

    @property
    def parallelism(self) -> int:
        """Deprecated: ``concurrency``."""
        _deprecated("AsyncLoader.parallelism", "concurrency")
        return self.concurrency

    @property
    def commit_every(self) -> int:
        """Deprecated: ``batch_size``."""
        _deprecated("AsyncLoader.commit_every", "batch_size")
        return self.batch_size

    # ------------------------------------------------------------------ adding rows

    def add(self, rows: Rows) -> None:
        """Buffer rows; every ``batch_size`` rows go out as one batch. Blocks while
        ``backpressure`` rows or more are pending."""
        items, count = _as_items(rows)
        with self._changed:
            if self._closed:
                raise UsageError("this AsyncLoader is closed")
            if self._pending_rows + self._buffered_rows >= self.backpressure:
                self._changed.wait_for(self._has_room)
            if not self._buffered_rows:
                self._buffered_since = time.monotonic()
            self._buffer.extend(items)
            self._buffered_rows += count
            ready = self._buffered_rows >= self.batch_size
        if ready:
            self._cut(whole_batches_only=True)

    def _has_room(self) -> bool:
        return self._pending_rows + self._buffered_rows < self.backpressure

    async def add_async(self, rows: Rows) -> None:
        """``add`` for async code: waits for back-pressure without blocking the loop."""
        await asyncio.to_thread(self.add, rows)

    def flush(self) -> None:
        """Send what is buffered now, even if fewer than ``batch_size`` rows."""
        self._cut(whole_batches_only=False)

    def _cut(self, *, whole_batches_only: bool) -> None:
        """Turn buffered rows into batches of ``batch_size`` and start writing them."""
        with self._cutting:
            with self._changed:
                size = self.batch_size
                rows = self._buffered_rows
                count = (rows // size) * size if whole_batches_only else rows
                if count == 0:
                    return
                items = self._take(count)
                self._buffered_rows -= count
                self._pending_rows += count
                first_row = self._rows_cut
                self._rows_cut += count
            try:
                fitted = self._fitter.fit(items)
            except BaseException:
                with self._changed:
                    self._pending_rows -= count
                    self._changed.notify_all()
                raise
            index = self._submitted
            refused = [
                _rejection(index, first_row + at, why, row) for at, why, row in fitted.refused
            ]
            batch = fitted.batch
            starts = range(0, batch.num_rows, size) if batch.num_rows else [0]
            for start in starts:
                piece = batch.slice(start, size)
                origin = _LoaderOrigin(
                    self._submitted, piece, first_row, fitted.positions[start : start + size]
                )
                self._submitted += 1
                # the chunk's refused rows travel with its first piece
                self._drain.put((origin, refused))
                refused = []

    def _take(self, count: int) -> list[Item]:
        """Remove the first ``count`` rows from the buffer (splitting a batch if needed)."""
        if count == self._buffered_rows:
            taken, self._buffer = self._buffer, []
            return taken
        taken = []
        index = 0
        while count > 0:
            item = self._buffer[index]
            rows = item.num_rows if isinstance(item, pa.RecordBatch) else 1
            if rows > count:
                assert isinstance(item, pa.RecordBatch)
                taken.append(item.slice(0, count))
                self._buffer[index] = item.slice(count)
                break
            taken.append(item)
            count -= rows
            index += 1
        del self._buffer[:index]
        return taken

    # ------------------------------------------------------------------ writing

    async def _start_drain(
        self,
    ) -> tuple[Drain[tuple[_LoaderOrigin, list[Rejection]]], asyncio.Task[None]]:
        # add()'s back-pressure is in rows (``backpressure``): the drain's queue, which
        # add() fills from the caller's thread, or a callback's on the loop, never blocks
        drain = Drain(self._write, writers=self.concurrency, depth=_UNBOUNDED, stats=self.stats)
        return drain, asyncio.create_task(drain.run())

    async def _write(self, item: tuple[_LoaderOrigin, list[Rejection]]) -> None:
        origin, refused = item
        batch = origin.data
        rows = batch.num_rows + len(refused)
        try:
            self.stats.rows_read += rows
            for rejection in refused:
                self._reject(rejection)
            if batch.num_rows:
                await self._deliver(origin)
        finally:
            with self._changed:
                self._pending_rows -= rows
                self._changed.notify_all()

    async def _deliver(self, origin: _LoaderOrigin) -> None:
        batch = origin.data
        try:
            writer = await self._ready(batch.schema)
            await writer.deliver(batch, origin)
            self.stats.batches += 1
        except Exception as exc:  # reported, never lost: on_error or .errors
            self._failed(exc, batch)
            return
        committed = origin.committed()
        if self.on_success is not None and committed.num_rows:
            try:
                self.on_success(committed.num_rows, committed)
            except Exception as exc:  # the rows are committed: not a failed write
                self._callback_failed("on_success", exc)

    def _failed(self, error: Exception, batch: pa.RecordBatch) -> None:
        if self._write_failure is None:
            self._write_failure = error
        if self.on_error is None:
            self.errors.append(error)
            return
        try:
            self.on_error(error, batch)
        except Exception as exc:  # the callback failed: keep the write error for close()
            self.errors.append(error)
            self._callback_failed("on_error", exc)

    def _reject(self, rejection: Rejection) -> None:
        self.stats.reject(rejection)
        self._hand_over(rejection)

    def _hand_over(self, rejection: Rejection) -> None:
        """Give a rejected row to on_reject; its exception must not fail the write."""
        try:
            self._on_reject(rejection)
        except Exception as exc:
            self._callback_failed("on_reject", exc)

    def _callback_failed(self, callback: str, error: Exception) -> None:
        error.add_note(f"raised by the AsyncLoader's {callback} callback")
        self.callback_errors.append(error)
        log.warning("%s callback raised %s: %s", callback, type(error).__name__, one_line(error))

    async def _ready(self, schema: pa.Schema) -> BatchWriter:
        """Open the backend once, with the first batch's schema."""
        if self._opened is None:
            self._opened = asyncio.get_running_loop().create_future()
            try:
                self.stats.started_at = time.perf_counter()  # the engine's clock
                await self.backend.open(
                    TableSpec(
                        self.table,
                        schema,
                        self.if_exists,
                        writers=self.concurrency,
                        connect_timeout=self._options.timeout,
                    )
                )
                self._writer = BatchWriter(
                    self.backend, self._options, self.stats, on_reject=self._hand_over
                )
                self._opened.set_result(None)
            except BaseException as exc:
                self._opened.set_exception(exc)
                self._opened.exception()  # raised below; later batches re-raise it
                raise
        await asyncio.shield(self._opened)
        assert self._writer is not None
        return self._writer

    # ------------------------------------------------------------------ timed flush

    async def _start_flusher(self, interval: float) -> asyncio.Task[None]:
        return asyncio.create_task(self._flush_periodically(interval))

    async def _flush_periodically(self, interval: float) -> None:
        """Send rows that waited ``interval`` in the buffer (checked twice per interval)."""
        while True:
            await asyncio.sleep(interval / 2)
            with self._changed:
                stale = self._buffered_rows and time.monotonic() - self._buffered_since >= interval
            if stale:
                await asyncio.to_thread(self.flush)

    async def _stop_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.wait({self._flusher})

    async def _end_drain(self) -> None:
        await self._draining  # its writers end once the queue is empty

    # ------------------------------------------------------------------ completion

    def is_pending(self) -> bool:
        """Whether rows are buffered, queued or being written."""
        with self._changed:
            return bool(self._buffered_rows or self._pending_rows)

    def wait_completion(self, timeout: float | None = None) -> bool:
        """Send the buffer and wait until everything is written. False on timeout."""
        self.flush()
        with self._changed:
            return self._changed.wait_for(
                lambda: self._pending_rows == 0 and self._buffered_rows == 0, timeout=timeout
            )

    async def wait_completion_async(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.wait_completion, timeout)

    def close(self) -> None:
        """Write everything, close the backend and the loop. Then raise the first write
        error no ``on_error`` callback took, else the first exception a callback raised."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
        try:
            self._loop.run(self._stop_flusher())
            self.wait_completion()
            self._drain.close()
            self._loop.run(self._end_drain())
            if self._writer is not None:
                self._loop.run(self._writer.aclose())
            if self._opened is not None:
                try:
                    self._loop.run(self.backend.close())
                except Exception as exc:
                    self.errors.append(exc)
                    self._write_failure = self._write_failure or exc
        except BaseException:
            self.stats.outcome = "interrupted"  # Ctrl-C while waiting: rows may be unwritten
            raise
        finally:
            self._finish_stats()
            self._loop.stop()
        if self.errors:
            raise self.errors[0]
        if self.callback_errors:
            raise self.callback_errors[0]

    def _finish_stats(self) -> None:
        """The run is over: its outcome (as the CLI names them) and its end time."""
        if self.stats.started_at is not None:
            self.stats.finished_at = time.perf_counter()
        if self.stats.outcome != "running":
            return
        failure = self._write_failure
        if failure is None:
            self.stats.outcome = "completed"  # a callback's exception loses no row
        else:
            self.stats.outcome = "aborted" if isinstance(failure, AbortedError) else "failed"

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> AsyncLoader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_after(exc, self.close)

    async def __aenter__(self) -> AsyncLoader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self._close_after, exc, self.close)

    @staticmethod
    def _close_after(body_error: BaseException | None, close: Callable[[], None]) -> None:
        """Close; if the ``with`` body raised, its exception wins and ours becomes a note."""
        if body_error is None:
            close()
            return
        try:
            close()
        except Exception as exc:
            body_error.add_note(f"also, closing the AsyncLoader failed: {one_line(exc)}")


def _as_items(rows: Rows) -> tuple[list[Item], int]:
    """What add() buffers: copies of row dicts (the caller may reuse its dict), or one
    Arrow batch."""
    if isinstance(rows, dict):
        return [dict(rows)], 1
    if isinstance(rows, pa.RecordBatch):
        return [rows], rows.num_rows
    if isinstance(rows, pa.Table):
        batch = rows.combine_chunks().to_batches()
        return batch[:1], rows.num_rows
    if isinstance(rows, Mapping):
        return [dict(rows)], 1
    to_arrow = getattr(rows, "to_arrow", None)  # polars and pandas-like frames
    if callable(to_arrow):
        return _as_items(to_arrow())
    copies: list[Item] = [dict(row) for row in rows]
    return copies, len(copies)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=3)
