"""The engine against a real SQLite file, and against small in-test backends for the
corners a real target cannot be made to show on demand (back-pressure, transient faults)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from bulkload import event_loop
from bulkload.backends.base import BatchKey, ErrorKind, TableSpec
from bulkload.backends.null import NullBackend
from bulkload.backends.sim import SimBackend
from bulkload.backends.sqlite import SQLiteBackend
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine import Engine, RetryPolicy
from bulkload.errors import AbortedError, TargetError
from bulkload.options import build_import_config
from bulkload.sources import BatchSource, Rejection
from bulkload.stats import RunStats


def _source(path: Path, batch_size: int) -> BatchSource:
    return BatchSource(build_import_config({"paths": [str(path)], "batch_size": batch_size}).source)


def _run(engine: Engine, source: BatchSource, table: str = "t") -> RunStats:
    return event_loop.run(engine.run(source, table, "append"))


def test_permanent_errors_are_bisected_down_to_the_bad_rows(tmp_path: Path):
    db = tmp_path / "o.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(7, "old"), (42, "old")])
    csv = tmp_path / "in.csv"
    csv.write_text("id,v\n" + "".join(f"{i},new\n" for i in range(100)))
    rejected: list[Rejection] = []
    backend = SQLiteBackend(f"sqlite:///{db}", TargetOptions())
    stats = _run(
        Engine(backend, EngineOptions(concurrency=1), RunStats(), on_reject=rejected.append),
        _source(csv, 30),
    )
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (100, 98, 2)
    assert [(r.line, r.reason) for r in rejected] == [
        (9, "UNIQUE constraint failed: t.id"),
        (44, "UNIQUE constraint failed: t.id"),
    ]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    assert len(rows) == 100 and (7, "old") in rows and (8, "new") in rows


class _SlowBackend:
    """Records how far reading ran ahead of writing, in batches."""

    schemes: ClassVar[tuple[str, ...]] = ("slow",)
    max_concurrency: int | None = None

    def __init__(self, stats: RunStats):
        self.stats = stats
        self.max_pending = 0
        self.batches_read = 0
        self.batches_written = 0

    async def open(self, table: TableSpec) -> None: ...

    def encode(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        self.max_pending = max(self.max_pending, self.batches_read - self.batches_written)
        await asyncio.sleep(0.002)
        self.batches_written += 1

    async def committed_keys(self) -> list[BatchKey]:
        return []

    async def close(self) -> None: ...

    def classify(self, error: BaseException) -> ErrorKind:
        return ErrorKind.FATAL

    def describe(self) -> str:
        return "slow://"


def test_reading_never_runs_ahead_more_than_the_queue(tmp_path: Path):
    csv = tmp_path / "in.csv"
    csv.write_text("id\n" + "".join(f"{i}\n" for i in range(5000)))
    stats = RunStats()
    backend = _SlowBackend(stats)
    source = _source(csv, 10)
    batches_of = source.batches_of

    def counting(file):  # the reader thread runs this: count what it has produced
        for batch in batches_of(file):
            backend.batches_read += 1
            yield batch

    source.batches_of = counting  # type: ignore[method-assign]
    options = EngineOptions(concurrency=3, queue_depth=4)
    _run(Engine(backend, options, stats), source)
    assert stats.rows_loaded == 5000 and backend.batches_written == 500
    # queued + in flight + the one the reader holds while it waits for room
    assert 4 <= backend.max_pending <= 4 + 3 + 1


class _FlakyBackend(_SlowBackend):
    """Fails the first writes with a transient error, as a locked database would."""

    def __init__(self, stats: RunStats, failures: int, kind: ErrorKind):
        super().__init__(stats)
        self.failures = failures
        self.kind = kind
        self.rows = 0

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.rows += payload.num_rows

    def classify(self, error: BaseException) -> ErrorKind:
        return self.kind


async def _no_sleep(seconds: float) -> None:
    return None


def test_transient_errors_are_retried(tmp_path: Path):
    csv = tmp_path / "in.csv"
    csv.write_text("id\n" + "".join(f"{i}\n" for i in range(50)))
    stats = RunStats()
    backend = _FlakyBackend(stats, failures=3, kind=ErrorKind.TRANSIENT)
    engine = Engine(backend, EngineOptions(concurrency=2), stats, sleep=_no_sleep)
    _run(engine, _source(csv, 10))
    assert backend.rows == 50 and stats.rows_loaded == 50
    assert stats.retries == 3 and stats.retry_causes == {"database is locked": 3}


def test_retries_run_out(tmp_path: Path):
    csv = tmp_path / "in.csv"
    csv.write_text("id\n1\n")
    backend = _FlakyBackend(RunStats(), failures=100, kind=ErrorKind.TRANSIENT)
    engine = Engine(
        backend, EngineOptions(), RunStats(), retry=RetryPolicy(retries=2), sleep=_no_sleep
    )
    with pytest.raises(AbortedError, match="gave up after 2 retries: database is locked"):
        _run(engine, _source(csv, 10))


def test_fatal_error_stops_the_run(tmp_path: Path):
    csv = tmp_path / "in.csv"
    csv.write_text("id\n1\n2\n")
    stats = RunStats()
    backend = _FlakyBackend(stats, failures=1, kind=ErrorKind.FATAL)
    with pytest.raises(TargetError, match="database is locked"):
        _run(Engine(backend, EngineOptions(), stats), _source(csv, 10))
    assert stats.outcome == "aborted"


def test_retry_wait_is_jittered_capped_and_honours_hints():
    import random

    policy = RetryPolicy(base_wait=0.1, max_wait=1.0)
    rng = random.Random(1)
    waits = [policy.wait(attempt, rng) for attempt in range(1, 10) for _ in range(20)]
    assert all(0 <= w <= 1.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100  # jittered, not a fixed schedule
    assert policy.wait(1, rng, hint=0.7) >= 0.7
    assert policy.wait(1, rng, hint=30) == 1.0


def test_effective_concurrency_respects_the_backend_limit(tmp_path: Path):
    backend: Any = SQLiteBackend(f"sqlite:///{tmp_path / 'x.db'}", TargetOptions())
    assert Engine(backend, EngineOptions(concurrency=30), RunStats()).writers == 1
    slow = _SlowBackend(RunStats())
    assert Engine(slow, EngineOptions(concurrency=30), RunStats()).writers == 30


class _WriterTasks(NullBackend):
    """The null target, noting which tasks write: the engine's writers, seen from outside."""

    def __init__(self) -> None:
        super().__init__("null://", TargetOptions())
        self.writer_tasks: set[asyncio.Task[Any] | None] = set()

    async def write(self, payload: Any, key: BatchKey | None = None) -> None:
        self.writer_tasks.add(asyncio.current_task())
        await super().write(payload, key)


def test_writers_fill_the_concurrency_for_a_slow_target_and_stay_few_for_a_fast_one(
    tmp_path: Path,
):
    csv = tmp_path / "in.csv"
    csv.write_text("id\n" + "".join(f"{i}\n" for i in range(4000)))

    slow_stats = RunStats()
    # 100 ms a write: the reader (thousands of batches/s) keeps every writer supplied
    sim = SimBackend("sim://?latency=100ms&seed=3", TargetOptions())
    slow = Engine(sim, EngineOptions(concurrency=25), slow_stats)
    _run(slow, _source(csv, 40))
    assert slow_stats.rows_loaded == 4000 and sim.batches_accepted == 100
    assert sim.peak_active == 25  # every writer busy at once: the ceiling, never more

    fast_stats = RunStats()
    null = _WriterTasks()
    fast = Engine(null, EngineOptions(concurrency=1000), fast_stats)
    _run(fast, _source(csv, 10))
    assert fast_stats.rows_loaded == null.rows_written == 4000
    # a target that never makes a writer wait needs no more than a couple of them
    assert 1 <= len(null.writer_tasks) <= 2
