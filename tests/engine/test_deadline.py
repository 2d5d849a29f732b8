"""The per-write deadline watchdog: a write past its deadline is cancelled, surfaces as a
TimeoutError (a transient error, so it is retried), and leaves no cancellation behind;
a cancellation from outside is never mistaken for a timeout."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from bulkload import event_loop
from bulkload.backends.base import BatchKey, ErrorKind, TableSpec, mark_may_have_applied
from bulkload.config import EngineOptions
from bulkload.engine.batch_writer import BatchWriter
from bulkload.errors import AbortedError
from bulkload.stats import RunStats

TIMEOUT_S = 0.05
WAIT_S = 5.0  # a hang fails the test instead of stalling the suite


class _HangingBackend:
    """Its first ``hangs`` writes never answer; the later ones succeed at once."""

    schemes: ClassVar[tuple[str, ...]] = ("hang",)
    max_concurrency: int | None = None

    def __init__(self, hangs: int):
        self.hangs = hangs
        self.calls = 0
        self.cancelled = 0
        self.rows = 0
        self.marks_cuts = False  # says a cut write may have been applied (as HTTP does)
        self.retry_unknown = False  # ... and it would not know a retry (a SQL COMMIT)

    async def open(self, table: TableSpec) -> None: ...

    def encode(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        self.calls += 1
        if self.calls <= self.hangs:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError as cut:
                self.cancelled += 1
                if self.marks_cuts:
                    mark_may_have_applied(cut, again=self.retry_unknown)
                raise
        self.rows += payload.num_rows

    async def committed_keys(self) -> list[BatchKey]:
        return []

    async def close(self) -> None: ...

    def classify(self, error: BaseException) -> ErrorKind:
        return ErrorKind.FATAL  # anything but the timeout itself would end the run

    def describe(self) -> str:
        return "hang://"


async def _no_sleep(seconds: float) -> None:
    return None


def _writer(
    backend: _HangingBackend, stats: RunStats, retries: int = 3, timeout: float = TIMEOUT_S
) -> BatchWriter:
    options = EngineOptions(timeout=timeout, retries=retries, retry_max_wait=0.01)
    return BatchWriter(backend, options, stats, sleep=_no_sleep)  # type: ignore[arg-type]


BATCH = pa.RecordBatch.from_pylist([{"id": 1}, {"id": 2}])


def test_a_write_past_its_deadline_times_out_and_is_retried():
    backend = _HangingBackend(hangs=2)
    stats = RunStats()
    writer = _writer(backend, stats)

    async def main() -> tuple[BaseException | None, int]:
        async with asyncio.timeout(WAIT_S):
            error = await writer.write_with_retries(BATCH, BATCH, None)
        task = asyncio.current_task()
        assert task is not None
        return error, task.cancelling()

    error, cancelling = event_loop.run(main())
    assert error is None and backend.rows == 2  # written on the third try
    assert backend.calls == 3 and backend.cancelled == 2  # the watchdog cancelled two
    assert stats.retries == 2
    assert stats.retry_causes == {f"timed out after {TIMEOUT_S:g} s": 2}
    # the watchdog's cancellations were consumed: the task is not left "being cancelled"
    # (asyncio.timeout and TaskGroup in the same task would misbehave otherwise)
    assert cancelling == 0


def test_timeouts_outlasting_the_retries_abort_the_run():
    backend = _HangingBackend(hangs=100)
    writer = _writer(backend, RunStats(), retries=1)

    async def main() -> None:
        async with asyncio.timeout(WAIT_S):
            await writer.write_with_retries(BATCH, BATCH, None)

    with pytest.raises(
        AbortedError, match=f"gave up after 1 retries: timed out after {TIMEOUT_S:g} s"
    ):
        event_loop.run(main())
    assert backend.calls == 2


def test_a_cancellation_from_outside_is_not_a_timeout():
    backend = _HangingBackend(hangs=1)
    stats = RunStats()
    writer = _writer(backend, stats, timeout=WAIT_S * 2)  # the deadline never comes here

    async def main() -> Any:
        write = asyncio.create_task(writer.write_with_retries(BATCH, BATCH, None))
        while backend.calls == 0:
            await asyncio.sleep(0.001)
        write.cancel()  # e.g. the run aborts, or a second Ctrl-C
        async with asyncio.timeout(WAIT_S):
            return await asyncio.gather(write, return_exceptions=True)

    (outcome,) = event_loop.run(main())
    assert isinstance(outcome, asyncio.CancelledError)  # propagated, not swallowed
    assert stats.retries == 0 and backend.calls == 1  # and not retried as a timeout


def test_a_cancel_from_outside_in_the_same_tick_as_the_timeout_is_not_lost():
    """When the watchdog's cancel and another one (a second Ctrl-C) are both pending,
    the write must not become a retried TimeoutError: the other cancel would be lost."""
    from bulkload.engine.batch_writer import _only_our_timeout

    class Task:
        def __init__(self, cancels: int):
            self.cancels = cancels

        def cancelling(self) -> int:
            return self.cancels

    class Expired:
        def expired(self, task: object) -> bool:
            return True

    assert _only_our_timeout(Expired(), Task(1))  # type: ignore[arg-type]
    assert not _only_our_timeout(Expired(), Task(2))  # type: ignore[arg-type]


@pytest.mark.parametrize("marks_cuts", [True, False])
def test_a_write_cut_from_outside_is_in_doubt_when_its_backend_says_so(marks_cuts: bool):
    """A cancelled write the backend says may have been applied (HTTP, once the request
    was sent) is counted in doubt; one it rolled back (SQL) is not."""
    backend = _HangingBackend(hangs=1)
    backend.marks_cuts = marks_cuts
    stats = RunStats()
    writer = _writer(backend, stats, timeout=WAIT_S * 2)

    async def main() -> Any:
        write = asyncio.create_task(writer.write_with_retries(BATCH, BATCH, None))
        while backend.calls == 0:
            await asyncio.sleep(0.001)
        write.cancel()
        async with asyncio.timeout(WAIT_S):
            return await asyncio.gather(write, return_exceptions=True)

    (outcome,) = event_loop.run(main())
    assert isinstance(outcome, asyncio.CancelledError)
    assert stats.rows_in_doubt == (2 if marks_cuts else 0)


def test_timeouts_given_up_are_in_doubt_and_one_that_then_succeeds_is_not():
    backend = _HangingBackend(hangs=100)
    backend.marks_cuts = True
    stats = RunStats()
    with pytest.raises(AbortedError):
        event_loop.run(_writer(backend, stats, retries=1).write_with_retries(BATCH, BATCH, None))
    assert stats.rows_in_doubt == 2

    backend = _HangingBackend(hangs=1)
    backend.marks_cuts = True
    stats = RunStats()
    assert event_loop.run(_writer(backend, stats).write_with_retries(BATCH, BATCH, None)) is None
    assert stats.rows_in_doubt == 0 and backend.rows == 2


def test_a_retry_the_target_cannot_tell_from_a_new_write_leaves_its_rows_in_doubt():
    """The cut attempt may have stored the rows, and the retry stored them (again): they
    are loaded, and counted in doubt (maybe there twice)."""
    backend = _HangingBackend(hangs=1)
    backend.marks_cuts = backend.retry_unknown = True
    stats = RunStats()
    assert event_loop.run(_writer(backend, stats).write_with_retries(BATCH, BATCH, None)) is None
    assert stats.rows_in_doubt == 2 and backend.rows == 2
