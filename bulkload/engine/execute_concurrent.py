"""``execute_concurrent``: write many batches with bounded concurrency, results in order.

Modelled on database drivers' ``execute_concurrent``: ``concurrency`` batches in flight
whatever order they finish in, a new one started as soon as any completes, and one
``(success, result_or_exception)`` per batch in input order. Writes go through the run's
policy (throttle, breaker, timeout, retries of transient errors); a batch the target
refuses fails as a whole (no bisection: the caller owns its batches).

It is the engine's :class:`~bulkload.engine.drain.Drain` plus a reorder buffer: the
drain keeps the writes in flight; results that finish ahead of a slower, earlier batch
wait for it. Memory: at most ``concurrency`` batches in flight plus the next one queued
(a batch is released once written), and at most ``reorder_limit`` small results held
for a slow batch. When that many wait, new writes wait for the slow one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, NamedTuple, overload

import pyarrow as pa

from bulkload.backends import create_backend
from bulkload.backends.base import Backend, TableSpec
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.batch_writer import BatchWriter, one_line
from bulkload.engine.drain import Drain
from bulkload.engine.in_flight import in_flight_ceiling
from bulkload.engine.loop_thread import LoopThread
from bulkload.errors import BulkloadError, PermanentWriteError, UsageError
from bulkload.event_loop import cancel_and_wait
from bulkload.renamed import renamed_keywords
from bulkload.stats.run import RunStats

DEFAULT_CONCURRENCY = 100
#: results held for a slow earlier batch, per write in flight, by default
REORDER_PER_SLOT = 100


_Item = tuple[int, pa.RecordBatch]  # a batch and its place in the input


class ExecutionResult(NamedTuple):
    success: bool
    result_or_exc: Any  # rows written, or the exception


@overload
def execute_concurrent(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None = None,
    raise_on_first_error: bool = True,
    results_generator: Literal[False] = False,
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> list[ExecutionResult]: ...


@overload
def execute_concurrent(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None,
    raise_on_first_error: bool,
    results_generator: Literal[True],
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> ResultsGenerator: ...


@overload
def execute_concurrent(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None = None,
    raise_on_first_error: bool = True,
    *,
    results_generator: Literal[True],
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> ResultsGenerator: ...


@overload
def execute_concurrent(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None = None,
    raise_on_first_error: bool = True,
    results_generator: bool = False,
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> list[ExecutionResult] | ResultsGenerator: ...


@renamed_keywords({"backend": "to"}, where="execute_concurrent")
def execute_concurrent(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None = None,
    raise_on_first_error: bool = True,
    results_generator: bool = False,
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> list[ExecutionResult] | ResultsGenerator:
    """Write ``batches`` into ``table`` of ``to`` (a target URL or a Backend), with
    ``concurrency`` writes in flight (the database drivers' names: ``concurrency``,
    ``raise_on_first_error``, ``results_generator``; ``backend=`` still works, with a
    DeprecationWarning).

    Each call opens the target for ``table`` (creating it from the first batch's
    schema) and closes it at the end, on a private event-loop thread, so this works from
    sync code and inside a running event loop alike; a Backend object can be passed to
    later calls again. With ``results_generator=True`` results stream as they are ready
    (a :class:`ResultsGenerator`: close it, or use it in a ``with``, to stop early);
    otherwise a list is returned. With ``raise_on_first_error`` the first failure is
    raised (pending writes are cancelled) instead of being returned.
    """
    run = _Execution.create(to, table, if_exists, options, concurrency, reorder_limit, stacklevel=6)
    results = ResultsGenerator(run.stream(batches, raise_on_first_error), run.stats)
    if results_generator:
        return results
    with results:
        return list(results)


@renamed_keywords({"backend": "to"}, where="execute_concurrent_async")
async def execute_concurrent_async(
    to: Backend | str,
    batches: Iterable[pa.RecordBatch],
    concurrency: int | None = None,
    raise_on_first_error: bool = True,
    *,
    table: str,
    if_exists: str = "append",
    options: EngineOptions | None = None,
    reorder_limit: int | None = None,
) -> AsyncIterator[ExecutionResult]:
    """The same on the caller's running loop: an async iterator of ordered results."""
    run = _Execution.create(to, table, if_exists, options, concurrency, reorder_limit)
    stream = run.stream(batches, raise_on_first_error)
    try:
        async for result in stream:
            yield result
    finally:
        await stream.aclose()


class ResultsGenerator(Iterator[ExecutionResult]):
    """Ordered results, computed on a private event-loop thread. ``close()`` (or leaving
    a ``with`` block) cancels the writes still in flight, closes the backend and ends
    the thread; an unclosed generator does the same when it is garbage-collected."""

    def __init__(self, stream: AsyncIterator[ExecutionResult], stats: RunStats):
        self._stream = stream
        #: counters of this run: rows loaded, writes in flight asked and effective
        self.stats = stats
        self._loop: LoopThread | None = LoopThread("bulkload-execute")

    def __iter__(self) -> ResultsGenerator:
        return self

    def __next__(self) -> ExecutionResult:
        loop = self._loop
        if loop is None:
            raise StopIteration
        try:
            return loop.run(_anext(self._stream))
        except StopAsyncIteration:
            self._end(loop)
            raise StopIteration from None
        except BaseException:
            # the stream ended with this error, or (Ctrl-C) is still running: stopping
            # the loop cancels it, and its own cleanup closes the backend
            self._end(loop)
            raise

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.run(_aclose(self._stream))
        finally:
            self._end(loop)

    def _end(self, loop: LoopThread) -> None:
        self._loop = None
        loop.stop()

    def __enter__(self) -> ResultsGenerator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:  # the with body's exception wins; a failure to close is added to it
            self.close()
        except Exception as error:
            exc.add_note(f"also, closing the results generator failed: {one_line(error)}")

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


async def _anext(stream: AsyncIterator[ExecutionResult]) -> ExecutionResult:
    return await stream.__anext__()


async def _aclose(stream: AsyncIterator[ExecutionResult]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


class _Execution:
    def __init__(
        self,
        backend: Backend,
        table: str,
        if_exists: str,
        options: EngineOptions,
        concurrency: int | None,
        reorder_limit: int | None,
        *,
        stacklevel: int = 5,
    ):
        self.backend = backend
        self.table = table
        self.if_exists = if_exists
        self.stats = RunStats(target=backend.describe(), table=table)
        self.writer = BatchWriter(backend, options, self.stats)
        self.concurrency = in_flight_ceiling(
            backend,
            concurrency or DEFAULT_CONCURRENCY,
            self.stats,
            asked=concurrency is not None,
            stacklevel=stacklevel,
        )
        self.reorder_limit = (
            REORDER_PER_SLOT * self.concurrency if reorder_limit is None else reorder_limit
        )
        self._window = asyncio.Semaphore(self.concurrency + self.reorder_limit)
        self._done: dict[int, ExecutionResult] = {}  # finished, waiting for their turn
        self._next = 0  # the index of the next result to yield
        self._arrived = asyncio.Event()  # set when it is done (or the drain ended)
        self._feed_failure: BaseException | None = None

    @classmethod
    def create(
        cls,
        backend: Backend | str,
        table: str,
        if_exists: str,
        options: EngineOptions | None,
        concurrency: int | None,
        reorder_limit: int | None,
        *,
        stacklevel: int = 5,
    ) -> _Execution:
        if not table:
            raise UsageError("execute_concurrent needs table=NAME")
        if concurrency is not None and concurrency < 1:
            raise UsageError("concurrency must be at least 1")
        if reorder_limit is not None and reorder_limit < 0:
            raise UsageError("reorder_limit must not be negative")
        target = create_backend(TargetOptions(url=backend)) if isinstance(backend, str) else backend
        return cls(
            target,
            table,
            if_exists,
            options or EngineOptions(),
            concurrency,
            reorder_limit,
            stacklevel=stacklevel,
        )

    async def stream(
        self, batches: Iterable[pa.RecordBatch], raise_on_first_error: bool
    ) -> AsyncGenerator[ExecutionResult, None]:
        """Ordered results; ``concurrency`` writes in flight whatever order they end in:
        the drain writes, and each result waits in ``_done`` until those before it are
        yielded."""
        iterator = iter(batches)
        first = _as_batch(next(iterator, None))
        if first is None:
            return
        # one batch queued: at most concurrency + 1 batches are held
        drain: Drain[_Item] = Drain(
            self._write, writers=self.concurrency, depth=1, stats=self.stats
        )
        draining = None
        try:
            await self.backend.open(
                TableSpec(
                    self.table,
                    first.schema,
                    self.if_exists,
                    writers=self.concurrency,
                    connect_timeout=self.writer.options.timeout,
                )
            )
            draining = asyncio.create_task(drain.run(self._feed(_chain(first, iterator), drain)))
            draining.add_done_callback(lambda _: self._arrived.set())
            while True:
                while self._next not in self._done:
                    if draining.done():
                        draining.result()  # the drain's own failure, if any
                        if self._feed_failure is not None:  # the caller's iterator's, here
                            raise self._feed_failure
                        return
                    self._arrived.clear()
                    await self._arrived.wait()
                result = self._done.pop(self._next)
                self._next += 1
                self._window.release()
                _raise_if(result, raise_on_first_error)
                yield result
        finally:
            if draining is not None and not draining.done():
                await cancel_and_wait(draining)  # writes still in flight are cancelled
            await self.writer.aclose()
            await self.backend.close()

    async def _feed(self, batches: Iterator[Any], drain: Drain[_Item]) -> None:
        """Hand the caller's batches to the drain, in order, taking the next only while
        fewer than ``concurrency + reorder_limit`` are started and not yet yielded. The
        iterator runs on the loop, as given (a generator over a cursor may be bound to
        its thread). Its error is raised at its place: the results before it come first."""
        index = 0
        try:
            while True:
                await self._window.acquire()
                batch = _as_batch(next(batches, None))
                if batch is None or not await drain.put_async((index, batch)):
                    return
                index += 1
        except Exception as error:
            self._feed_failure = error
        finally:
            drain.close()

    async def _write(self, item: _Item) -> None:
        index, batch = item
        self._done[index] = await self._one(batch)
        if index == self._next:
            self._arrived.set()

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


def _chain(first: pa.RecordBatch, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _as_batch(item: Any) -> pa.RecordBatch | None:
    """A RecordBatch as given, a Table as one batch; anything else is a usage error."""
    if item is None or isinstance(item, pa.RecordBatch):
        return item
    if isinstance(item, pa.Table):
        if item.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=item.schema)
        return item.combine_chunks().to_batches()[0]
    raise UsageError(
        f"execute_concurrent writes pyarrow RecordBatches or Tables, one per write, not "
        f"{type(item).__name__}: make batches with pyarrow.RecordBatch.from_pylist(rows), "
        f"or add rows one by one to an AsyncLoader"
    )


def _raise_if(result: ExecutionResult, raise_on_first_error: bool) -> None:
    if raise_on_first_error and not result.success:
        raise result.result_or_exc
