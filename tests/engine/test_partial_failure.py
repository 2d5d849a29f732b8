"""The writer's partial-failure path: a target that names the rows it refused and those
to resend (a bulk API's per-item report). End to end against a real server in
tests/backends/test_http_presets.py; here the corners, with a scripted backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pytest

from bulkload import event_loop
from bulkload.backends.base import BatchKey, ErrorKind
from bulkload.config import EngineOptions
from bulkload.engine.batch_writer import BatchWriter
from bulkload.errors import AbortedError
from bulkload.sources.batch import Rejection
from bulkload.stats.run import RunStats


class ItemsFailed(Exception):
    def __init__(self, rejected: Mapping[int, str], retry: Sequence[int]):
        super().__init__(f"{len(rejected)} refused, {len(retry)} to resend")
        self.rejected_rows = dict(rejected)
        self.retry_rows = tuple(retry)
        self.retry_after = 0.5


class BulkStore:
    """Stores every row but those whose id it refuses; throttles some ids ``throttle``
    times each (then stores them)."""

    def __init__(self, refuse: set[int], throttle: dict[int, int]):
        self.refuse, self.throttle = refuse, throttle
        self.stored: list[int] = []

    def encode(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        rejected, retry = {}, []
        for row, value in enumerate(payload.column("id").to_pylist()):
            if value in self.refuse:
                rejected[row] = f"id {value} refused"
            elif self.throttle.get(value, 0) > 0:
                self.throttle[value] -= 1
                retry.append(row)
            else:
                self.stored.append(value)
        if rejected or retry:
            raise ItemsFailed(rejected, retry)

    def classify(self, error: BaseException) -> ErrorKind:
        return ErrorKind.PERMANENT

    def describe(self) -> str:
        return "bulk://"

    max_concurrency = None


class Origin:
    index = 0

    def rejection(self, row: int, reason: str) -> Rejection:
        return Rejection("ids", row + 2, reason)


def deliver(
    store: BulkStore, ids: list[int], retries: int = 5
) -> tuple[RunStats, list[Any], list[float]]:
    stats, rejected, waits = RunStats(), [], []

    async def sleep(seconds: float) -> None:  # virtual time
        waits.append(seconds)

    writer = BatchWriter(
        store,  # type: ignore[arg-type]
        EngineOptions(retries=retries, timeout=None),
        stats,
        on_reject=rejected.append,
        sleep=sleep,
    )
    batch = pa.record_batch({"id": ids})
    event_loop.run(writer.deliver(batch, Origin()))  # type: ignore[arg-type]
    return stats, rejected, waits


def test_refused_rows_rejected_throttled_rows_resent_the_rest_stored_once() -> None:
    store = BulkStore(refuse={3, 8}, throttle={4: 2, 5: 1, 9: 1})
    stats, rejected, waits = deliver(store, list(range(10)))
    assert sorted(store.stored) == [0, 1, 2, 4, 5, 6, 7, 9]  # each once: no bisection
    assert stats.rows_loaded == 8 and stats.rows_rejected == 2
    assert [(r.line, r.reason) for r in rejected] == [(5, "id 3 refused"), (10, "id 8 refused")]
    assert stats.retries == 2  # round 1: rows 4, 5, 9; round 2: row 4
    assert len(waits) == 2 and min(waits) >= 0.5  # the server's retry-after was honoured


def test_rows_throttled_past_the_retries_abort_the_run() -> None:
    store = BulkStore(refuse=set(), throttle={1: 99})
    with pytest.raises(AbortedError, match="gave up after 2 retries: 1 item"):
        deliver(store, [0, 1, 2], retries=2)
    assert sorted(store.stored) == [0, 2]
