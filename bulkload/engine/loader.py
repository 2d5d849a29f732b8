"""``AsyncLoader``: add rows as they come, committed every N rows, in parallel.

The familiar async-executor controls of database drivers: a parallelism level, a batch
("commit every N rows"), a back-pressure threshold (``add`` waits while too many rows
are pending), success/error callbacks, ``wait_completion(timeout)``, ``is_pending()`` and
``close()``. It runs on a private event-loop thread, so the same object works from sync
code (``with AsyncLoader(...)``) and async code (``async with AsyncLoader(...)``).

Rows the target refuses are isolated by bisection and handed to ``on_reject`` (or kept
in ``rejected``); a batch that cannot be written at all (target down, retries spent)
goes to ``on_error`` (or ``errors``, and ``close()`` raises the first one). Nothing is
dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bulkload.backends import create_backend
from bulkload.backends.base import Backend, TableSpec
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.loop_thread import LoopThread
from bulkload.engine.writer import BatchWriter, in_flight_limit
from bulkload.errors import UsageError
from bulkload.sources.batch import Rejection
from bulkload.stats.run import RunStats

# What add() takes: a RecordBatch, a Table, a frame with to_arrow() (polars), a list of
# row dicts, or one row dict. (pyarrow ships no type hints, so this cannot be spelled.)
Rows = Any


@dataclass(frozen=True, slots=True)
class _LoaderOrigin:
    """Names rows of the n-th submitted batch in rejections (no file, no lines)."""

    index: int
    data: pa.RecordBatch
    first_row: int  # position of the batch's first row among all rows added

    def rejection(self, row: int, reason: str) -> Rejection:
        values = {
            name: self.data.column(i)[row].as_py() for i, name in enumerate(self.data.schema.names)
        }
        record = json.dumps(values, default=str, ensure_ascii=False)
        return Rejection(f"batch {self.index}", self.first_row + row + 1, reason, record)


class AsyncLoader:
    def __init__(
        self,
        target: str | Backend,
        table: str,
        *,
        parallelism: int = 8,
        commit_every: int = 10_000,
        backpressure: int | None = None,
        on_success: Callable[[int, pa.RecordBatch], None] | None = None,
        on_error: Callable[[BaseException, pa.RecordBatch], None] | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        if_exists: str = "append",
        options: EngineOptions | None = None,
    ):
        if parallelism < 1 or commit_every < 1:
            raise UsageError("parallelism and commit_every must be at least 1")
        self.backend = (
            create_backend(TargetOptions(url=target)) if isinstance(target, str) else target
        )
        self.table = table
        self.if_exists = if_exists
        self.parallelism = parallelism
        self.commit_every = commit_every
        #: add() waits while more rows than this are buffered, queued or in flight
        self.backpressure = backpressure or 4 * parallelism * commit_every
        self.on_success = on_success
        self.on_error = on_error
        self.stats = RunStats(target=self.backend.describe(), table=table, batch_size=commit_every)
        self.errors: list[BaseException] = []
        self.rejected: list[Rejection] = []
        self._on_reject = on_reject or self.rejected.append
        self._options = options or EngineOptions()
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._pending_rows = 0  # submitted, not finished
        self._submitted = 0
        self._rows_added = 0
        self._changed = threading.Condition()
        self._loop = LoopThread("bulkload-loader")
        self._opened: asyncio.Future[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._writer: BatchWriter | None = None
        self._closed = False
        self._schema: pa.Schema | None = None

    # ------------------------------------------------------------------ adding rows

    def add(self, rows: Rows) -> None:
        """Buffer rows; every ``commit_every`` rows go out as one batch. Blocks while the
        pending rows exceed the back-pressure threshold."""
        if self._closed:
            raise UsageError("this AsyncLoader is closed")
        batch = self._conform(_as_batch(rows))
        with self._changed:
            self._changed.wait_for(
                lambda: self._pending_rows + self._buffered_rows < self.backpressure
            )
            self._buffer.append(batch)
            self._buffered_rows += batch.num_rows
            ready = self._buffered_rows >= self.commit_every
        if ready:
            self._cut(whole_batches_only=True)

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Every batch takes the first one's schema (row dicts infer types per call)."""
        if self._schema is None:
            self._schema = batch.schema
            return batch
        if batch.schema.equals(self._schema):
            return batch
        try:
            return batch.select(self._schema.names).cast(self._schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UsageError(
                f"rows do not match the loader's columns {self._schema.names}: {exc}"
            ) from None

    async def add_async(self, rows: Rows) -> None:
        """``add`` for async code: waits for back-pressure without blocking the loop."""
        await asyncio.to_thread(self.add, rows)

    def flush(self) -> None:
        """Send what is buffered now, even if fewer than ``commit_every`` rows."""
        self._cut(whole_batches_only=False)

    def _cut(self, *, whole_batches_only: bool) -> None:
        with self._changed:
            if not self._buffer:
                return
            table = pa.Table.from_batches(self._buffer).combine_chunks()
            size = self.commit_every
            cut = (table.num_rows // size) * size if whole_batches_only else table.num_rows
            batches = [table.slice(i, min(size, cut - i)) for i in range(0, cut, size)]
            rest = table.slice(cut)
            self._buffer = rest.to_batches() if rest.num_rows else []
            self._buffered_rows = rest.num_rows
            for piece in batches:
                batch = piece.combine_chunks().to_batches()[0]
                origin = _LoaderOrigin(self._submitted, batch, self._rows_added)
                self._submitted += 1
                self._rows_added += batch.num_rows
                self._pending_rows += batch.num_rows
                self._loop.submit(self._write(batch, origin))

    # ------------------------------------------------------------------ writing

    async def _write(self, batch: pa.RecordBatch, origin: _LoaderOrigin) -> None:
        try:
            writer = await self._ready(batch.schema)
            assert self._slots is not None
            async with self._slots:
                self.stats.in_flight += 1
                try:
                    self.stats.rows_read += batch.num_rows
                    await writer.deliver(batch, origin)
                    self.stats.batches += 1
                finally:
                    self.stats.in_flight -= 1
            if self.on_success is not None:
                self.on_success(batch.num_rows, batch)
        except BaseException as exc:  # reported, never lost: on_error or .errors
            if self.on_error is not None:
                self.on_error(exc, batch)
            else:
                self.errors.append(exc)
        finally:
            with self._changed:
                self._pending_rows -= batch.num_rows
                self._changed.notify_all()

    async def _ready(self, schema: pa.Schema) -> BatchWriter:
        """Open the backend once, with the first batch's schema."""
        if self._opened is None:
            self._opened = asyncio.get_running_loop().create_future()
            writers = in_flight_limit(self.backend, self.parallelism)
            self._slots = asyncio.Semaphore(writers)
            try:
                self.stats.started_at = asyncio.get_running_loop().time()
                await self.backend.open(
                    TableSpec(self.table, schema, self.if_exists, writers=writers)
                )
                self._writer = BatchWriter(
                    self.backend, self._options, self.stats, on_reject=self._on_reject
                )
                self._opened.set_result(None)
            except BaseException as exc:
                self._opened.set_exception(exc)
                self._opened.exception()  # raised below; later batches re-raise it
                raise
        await asyncio.shield(self._opened)
        assert self._writer is not None
        return self._writer

    # ------------------------------------------------------------------ completion

    def is_pending(self) -> bool:
        """Whether rows are buffered, queued or being written."""
        with self._changed:
            return bool(self._buffered_rows or self._pending_rows)

    def wait_completion(self, timeout: float | None = None) -> bool:
        """Send the buffer and wait until everything is written. False on timeout."""
        self.flush()
        with self._changed:
            return self._changed.wait_for(lambda: self._pending_rows == 0, timeout=timeout)

    async def wait_completion_async(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.wait_completion, timeout)

    def close(self) -> None:
        """Write everything, close the backend and the loop. Raises the first write error
        when there was no ``on_error`` callback to receive it."""
        if self._closed:
            return
        self.wait_completion()
        self._closed = True
        try:
            if self._opened is not None:
                self._loop.run(self.backend.close())
        finally:
            self._loop.stop()
        if self.errors:
            raise self.errors[0]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> AsyncLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> AsyncLoader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _as_batch(rows: Rows) -> pa.RecordBatch:
    if isinstance(rows, pa.RecordBatch):
        return rows
    if isinstance(rows, pa.Table):
        if rows.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=rows.schema)
        return rows.combine_chunks().to_batches()[0]
    if isinstance(rows, Mapping):
        return pa.RecordBatch.from_pylist([dict(rows)])
    to_arrow = getattr(rows, "to_arrow", None)  # polars and pandas-like frames
    if callable(to_arrow):
        return _as_batch(to_arrow())
    return pa.RecordBatch.from_pylist([dict(row) for row in rows])
