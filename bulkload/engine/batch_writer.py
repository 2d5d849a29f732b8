"""Writing one batch under the run's policy, shared by the import engine and the library.

Every write goes through the same gates, in order: the throttle (rows/batches/bytes per
second), the circuit breaker, a timeout; a failure is classified by the backend and then
retried (transient), bisected down to the bad rows (permanent), or ends the run (fatal).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, cast, runtime_checkable

import pyarrow as pa

from bulkload.backends.base import (
    Backend,
    BatchKey,
    CancelledAfterCommit,
    ErrorKind,
    may_be_applied_again,
    may_have_been_applied,
)
from bulkload.config import EngineOptions
from bulkload.engine.breaker import BreakerState, CircuitBreaker
from bulkload.engine.checkpoint import CheckpointFile
from bulkload.engine.deadline import Deadlines
from bulkload.engine.rate import Throttle
from bulkload.engine.retry import RetryPolicy
from bulkload.errors import AbortedError, BulkloadError, TargetError
from bulkload.sources.batch import Rejection
from bulkload.stats.histogram import FLUSH_AT
from bulkload.stats.run import RunStats

_CLOSED = BreakerState.CLOSED  # an enum member looked up per write costs a descriptor call
_CLOSED_VALUE = _CLOSED.value
#: what a run stopped by --max-errors did with the rest of its input
_UNSENT = "; the rows not written by then were not sent"


class TooManyRejections(AbortedError):
    """``--max-errors`` passed. The line reads the run's counts when it is shown, after
    the writes in flight when the run stopped have ended: they may reject more rows (a
    row the target refused is counted, whatever happens around it), and the error line
    must say what the summary says."""

    def __init__(self, stats: RunStats, limit: str, *, share: bool, final: bool = False):
        super().__init__()
        self._stats = stats
        self._limit = limit
        self._share = share
        self._final = final
        self._at_stop = (stats.rows_rejected, stats.rows_read)

    def __str__(self) -> str:
        rejected, read = self._stats.rows_rejected, self._stats.rows_read
        unsent = "" if self._final else _UNSENT
        if not self._share:
            late = rejected - self._at_stop[0]
            after = f" ({late} of them by writes in flight when it stopped)" if late > 0 else ""
            limit = f"more than --max-errors {self._limit}"
            return f"stopped: {rejected} rows rejected, {limit}{after}{unsent}"
        # final figures: the share only grows after the stop (rows rejected are added,
        # rows given back leave the rows read), so it is still past the limit
        text = (
            f"stopped: {100 * rejected / read:.2f}% of {read} rows rejected, "
            f"more than --max-errors {self._limit}"
        )
        if (rejected, read) != self._at_stop:
            text += " (counted once the writes in flight when it stopped had ended)"
        return text + unsent


class Tally:
    """Rows of one batch settled so far (loaded or rejected): what an abort must not
    count again, and what it must give back as not read."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = 0


class WriteAbandoned(Exception):
    """The run is failing: a batch waiting to retry is given up, not loaded."""


class RejectionSink(Protocol):
    def __call__(self, rejection: Rejection, /) -> None: ...


class RowOrigin(Protocol):
    """Where a batch's rows came from: names a rejected row (a SourceBatch is one)."""

    @property
    def index(self) -> int: ...

    def rejection(self, row: int, reason: str) -> Rejection: ...


class BatchWriter:
    def __init__(
        self,
        backend: Backend,
        options: EngineOptions,
        stats: RunStats,
        *,
        on_reject: RejectionSink | None = None,
        checkpoint: CheckpointFile | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ):
        self.backend = backend
        self.options = options
        self.stats = stats
        self.retry = retry or RetryPolicy(retries=options.retries, max_wait=options.retry_max_wait)
        self.checkpoint = checkpoint
        self._on_reject = on_reject
        self._clock = clock
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._abandoning = False
        self.throttle = self.throttle_for(1)
        self._deadlines = Deadlines(options.timeout, clock) if options.timeout else None
        self.breaker = CircuitBreaker(
            threshold=options.breaker_threshold,
            cooldown=options.breaker_cooldown,
            clock=clock,
            sleep=sleep,
        )

    async def aclose(self) -> None:
        """Stop the timeout watchdog (owned here); call when no write is in flight."""
        if self._deadlines is not None:
            await self._deadlines.aclose()

    def throttle_for(self, batch_rows: int) -> Throttle:
        """The throttle, its burst sized to one batch of ``batch_rows`` rows."""
        self.throttle = Throttle(
            rows_per_s=self.options.rate,
            batches_per_s=self.options.max_batches_per_sec,
            bytes_per_s=self.options.max_bytes_per_sec,
            batch_rows=batch_rows,
            clock=self._clock,
            sleep=self._sleep,
        )
        return self.throttle

    async def deliver(
        self,
        data: pa.RecordBatch,
        origin: RowOrigin,
        *,
        offset: int = 0,
        payload: Any = None,
        key_source: str | None = None,
        tally: Tally | None = None,
        item_retries: int = 0,
    ) -> None:
        """Write ``data`` (rows ``offset``.. of ``origin``); on a permanent error, split
        the rows in two until the bad ones are isolated and rejected, and every good one
        loaded. ``payload`` is the already encoded ``data``, if any. ``tally`` counts the
        rows settled, so a caller interrupted half-way knows which rows are done.
        ``item_retries``: rounds of rows a partial failure asked to resend so far."""
        tally = tally if tally is not None else Tally()
        count = data.num_rows
        if count == 0:
            return
        if payload is None:
            payload = await asyncio.to_thread(self.backend.encode, data)
        key = BatchKey(key_source, origin.index, offset, count) if key_source else None
        try:
            error = await self.write_with_retries(payload, data, key)
        except CancelledAfterCommit:
            self._loaded(count, key, tally)  # committed, then the run was aborted
            raise
        if error is None:
            self._loaded(count, key, tally)
            return
        if isinstance(error, PartialFailure):
            await self._settle_partial(data, origin, offset, key_source, tally, error, item_retries)
            return
        if count == 1:
            tally.rows += 1  # settled even when this rejection then stops the run
            self.reject(origin.rejection(offset, one_line(error)))
            return
        self.stats.batches_failed += 1
        if self._abandoning:  # the run is stopping: its rows are given back, not bisected
            raise WriteAbandoned(one_line(error))
        half = count // 2
        for start, rows in ((0, half), (half, count - half)):
            await self.deliver(
                data.slice(start, rows),
                origin,
                offset=offset + start,
                key_source=key_source,
                tally=tally,
            )

    async def _settle_partial(
        self,
        data: pa.RecordBatch,
        origin: RowOrigin,
        offset: int,
        key_source: str | None,
        tally: Tally,
        error: BaseException,
        item_retries: int,
    ) -> None:
        """The target named the rows it refused and those to resend (a bulk API's
        per-item report): no bisection needed. Every other row was stored."""
        report = cast(PartialFailure, error)
        refused = report.rejected_rows
        resend = sorted(set(report.retry_rows) - set(refused))
        unsettled = set(refused) | set(resend)
        for start, rows in _runs(i for i in range(data.num_rows) if i not in unsettled):
            key = BatchKey(key_source, origin.index, offset + start, rows) if key_source else None
            self._loaded(rows, key, tally)
        for row in sorted(refused):
            tally.rows += 1
            self.reject(origin.rejection(offset + row, refused[row]))
        if not resend:
            return
        cause = f"{len(resend)} item(s) to resend: {one_line(error)}"
        if item_retries >= self.retry.retries:
            raise AbortedError(
                f"{self.backend.describe()}: gave up after {self.retry.retries} retries: {cause}"
            )
        self.stats.retried(cause)
        await self._sleep(self.retry.wait(item_retries + 1, self._rng, _retry_after(error)))
        for start, rows in _runs(resend):
            await self.deliver(
                data.slice(start, rows),
                origin,
                offset=offset + start,
                key_source=key_source,
                tally=tally,
                item_retries=item_retries + 1,
            )

    def _loaded(self, count: int, key: BatchKey | None, tally: Tally) -> None:
        self.stats.rows_loaded += count
        tally.rows += count
        if self.checkpoint is not None and key is not None:
            self.checkpoint.record(key)

    def abandon_retries(self) -> None:
        """The run is failing: batches waiting to retry give up (WriteAbandoned) instead
        of keeping the run alive for their back-off."""
        self._abandoning = True

    async def write_with_retries(
        self,
        payload: Any,
        data: pa.RecordBatch,
        key: BatchKey | None,
        *,
        due: float | None = None,
        task: asyncio.Task[Any] | None = None,
        stats: RunStats | None = None,
        attempts: Callable[[], RunStats] | None = None,
        on_start: Callable[[float], None] | None = None,
    ) -> BaseException | None:
        """None when written; the error when the rows are bad (permanent). Raises when the
        target is unusable or transient errors outlast the retries.

        ``due``: when the write was scheduled to start (bench's open model); latency is
        then also measured from it, and a retry does not move it. ``task``: the current
        task, when the caller knows it (saves looking it up per write). ``stats``: where
        this write's latencies are counted (bench: the window the write belongs to),
        instead of the writer's; ``attempts``: where its failed attempts and retries are
        counted, looked up as they happen (bench: the window they happen in).
        ``on_start``: called with the clock's reading once the throttle let the write go
        (bench counts it in flight from then: a write held back by the tool's own rate
        cap is not at the target); the latency then runs from the later of ``due`` and
        when the cap let it go."""
        stats = stats if stats is not None else self.stats
        failures = attempts if attempts is not None else lambda: stats
        attempt = 0
        # an attempt got no answer after it may have reached the target (its backend
        # says so): if the write then ends without success, its rows are in doubt
        doubt = False
        # ... and the target would not know a retry for one (no key it checks): however
        # the write ends, the rows may be there once more than counted
        again = False
        try:
            while True:
                if self.throttle.active:
                    admitted = await self.throttle.admit(data.num_rows, data.nbytes)
                    due = admitted if due is None else due
                if on_start is not None:  # the first attempt's start
                    let_go = self._clock()
                    on_start(let_go)
                    on_start = None
                    due = let_go if due is None else max(due, let_go)
                probe = False
                if self.breaker.state is not _CLOSED:
                    probe = await self.breaker.before_write()
                    stats.breaker_state = self.breaker.state.value
                started = self._clock()
                deadlines = self._deadlines
                current = deadlines.enter(task, started) if deadlines is not None else None
                try:
                    try:
                        await self.backend.write(payload, key)
                    except CancelledAfterCommit:
                        if not _only_our_timeout(deadlines, current):
                            raise
                        # our timeout fired, but the write committed: it succeeded
                    except asyncio.CancelledError as cut:
                        doubt = doubt or may_have_been_applied(cut)  # cut mid-request
                        again = again or may_be_applied_again(cut)
                        if _only_our_timeout(deadlines, current):
                            raise TimeoutError from None
                        raise  # someone else's cancellation (Ctrl-C, the task group): goes on
                    finally:
                        if current is not None and deadlines is not None:
                            deadlines.leave(current)
                except BulkloadError:
                    self.breaker.record(False, probe)
                    raise
                except Exception as exc:  # driver errors, classified by their backend
                    self._record_failure(started, exc, failures())
                    kind, cause = self._classify(exc)
                    if kind is ErrorKind.PERMANENT:
                        self.breaker.record(True, probe)  # the target answered: it is healthy
                        if self.options.fail_fast:
                            raise AbortedError(f"--fail-fast: {cause}") from exc
                        if again:  # rejected now, yet an earlier attempt may have stored them
                            stats.rows_in_doubt += data.num_rows
                        return exc
                    self.breaker.record(False, probe)
                    self._note_breaker(stats)
                    doubt = doubt or may_have_been_applied(exc)
                    again = again or may_be_applied_again(exc)
                    if kind is ErrorKind.FATAL:
                        raise TargetError(f"{self.backend.describe()}: {cause}") from exc
                    if self.options.fail_fast:
                        raise AbortedError(f"--fail-fast: {cause}") from exc
                    attempt += 1
                    if attempt > self.retry.retries:
                        raise AbortedError(
                            f"{self.backend.describe()}: gave up after {self.retry.retries} "
                            f"retries: {cause}"
                        ) from exc
                    if self._abandoning:
                        raise WriteAbandoned(cause) from exc
                    failures().retried(cause)  # counted once it is going to happen
                    await self._sleep(self.retry.wait(attempt, self._rng, _retry_after(exc)))
                    if self._abandoning:
                        raise WriteAbandoned(cause) from exc
                else:
                    now = self._clock()
                    # the latencies, recorded inline (record()'s body: two calls saved)
                    histogram = stats.latency
                    samples = histogram.pending_s
                    samples.append(now - started)
                    if len(samples) >= FLUSH_AT:
                        histogram.flush()
                    if due is not None:
                        # from when the write was due, so a stall shows up (wrk2-style)
                        histogram = stats.latency_from_due
                        samples = histogram.pending_s
                        samples.append(now - (due if due < started else started))
                        if len(samples) >= FLUSH_AT:
                            histogram.flush()
                    breaker = self.breaker
                    if probe or breaker.consecutive_failures:  # else record() changes nothing
                        breaker.record(True, probe)
                    state = breaker.state
                    # an Enum's .value is a descriptor call: skipped for the usual state
                    stats.breaker_state = _CLOSED_VALUE if state is _CLOSED else state.value
                    if again:  # stored by this attempt, and maybe by the unanswered one
                        stats.rows_in_doubt += data.num_rows
                    return None
        except BaseException:
            if doubt:
                stats.rows_in_doubt += data.num_rows
            raise

    def _classify(self, error: Exception) -> tuple[ErrorKind, str]:
        if isinstance(error, TimeoutError):
            return ErrorKind.TRANSIENT, f"timed out after {self.options.timeout:g} s"
        return self.backend.classify(error), one_line(error)

    def _record_failure(self, started: float, error: Exception, stats: RunStats) -> None:
        stats.latency_errors.record(self._clock() - started)
        stats.write_errors += 1
        if isinstance(error, TimeoutError):
            stats.timeouts += 1

    def _note_breaker(self, stats: RunStats) -> None:
        stats.breaker_state = self.breaker.state.value
        stats.breaker_opened = self.breaker.opened_count

    # ------------------------------------------------------------------ rejections

    def reject(self, rejection: Rejection) -> None:
        """Count a rejected row, hand it to the sink, and enforce the error limits."""
        self.stats.reject(rejection)
        if self._on_reject is not None:
            self._on_reject(rejection)
        if self.options.fail_fast:
            where = f"{rejection.source}:{rejection.line}" if rejection.line else rejection.source
            raise AbortedError(f"--fail-fast: {where}: {rejection.reason}")
        limit = self.options.max_errors
        if limit is not None and self.stats.rows_rejected > limit:
            raise TooManyRejections(self.stats, str(limit), share=False)
        self.check_error_share(final=False)

    def check_error_share(self, *, final: bool) -> None:
        """--max-errors P%: judged once a batch's worth of rows is read, and at the end."""
        percent = self.options.max_errors_percent
        read = self.stats.rows_read
        if percent is None or read == 0 or (not final and read < self.stats.batch_size):
            return
        share = 100 * self.stats.rows_rejected / read
        if share > percent:
            raise TooManyRejections(self.stats, f"{percent:g}%", share=True, final=final)


@runtime_checkable
class PartialFailure(Protocol):
    """A write the target took in part, naming the rows it did not store: a permanent
    error (``classify`` says so) whose exception carries ``rejected_rows`` (row of the
    written batch -> reason: refused for good) and ``retry_rows`` (rows to send again,
    e.g. throttled items). The rows named in neither were stored."""

    rejected_rows: Mapping[int, str]
    retry_rows: Sequence[int]


def _runs(rows: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Sorted row numbers as (start, length) stretches: 1,2,3,7 -> (1,3),(7,1)."""
    start = length = 0
    for row in rows:
        if length and row == start + length:
            length += 1
            continue
        if length:
            yield start, length
        start, length = row, 1
    if length:
        yield start, length


def _only_our_timeout(deadlines: Deadlines | None, task: asyncio.Task[Any] | None) -> bool:
    """After a CancelledError: whether it was the timeout's cancel alone. When another
    cancel came as well (a second Ctrl-C in the same tick), it must not be turned into a
    retried TimeoutError: the other one would be lost."""
    if task is None or deadlines is None or not deadlines.expired(task):
        return False
    return task.cancelling() <= 1  # the watchdog's cancel is the one counted


def _retry_after(error: BaseException) -> float | None:
    hint = getattr(error, "retry_after", None)
    return float(hint) if isinstance(hint, int | float) else None


def one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
