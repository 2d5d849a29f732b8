"""The library API: execute_concurrent and AsyncLoader, against real SQLite files and
the sim backend."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pytest

import bulkload
from bulkload import event_loop
from bulkload.backends.sim import SimBackend
from bulkload.config import TargetOptions

# SQLite takes one writer: the tests below ask for more, and are not about the cap
pytestmark = pytest.mark.filterwarnings("ignore::bulkload.InFlightCapWarning")


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": list(range(start, start + rows)), "v": [f"v{i}" for i in range(start, start + rows)]}
    )


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def test_execute_concurrent_into_sqlite_in_order(tmp_path: Path):
    sizes = [5, 1, 7, 3, 9, 2]
    batches, start = [], 0
    for size in sizes:
        batches.append(_batch(start, size))
        start += size
    results = bulkload.execute_concurrent(
        f"sqlite:///{tmp_path / 'o.db'}", batches, concurrency=4, table="t"
    )
    assert results == [(True, size) for size in sizes]
    assert _count(tmp_path / "o.db", "t") == sum(sizes)


def test_results_keep_input_order_when_writes_finish_out_of_order():
    sim = SimBackend("sim://?latency=5ms&jitter=4ms&seed=1", TargetOptions())
    batches = [_batch(i * 10, 1 + i % 7) for i in range(60)]
    results = bulkload.execute_concurrent(sim, batches, concurrency=16, table="t")
    assert [r.result_or_exc for r in results] == [b.num_rows for b in batches]
    assert 1 < sim.peak_active <= 16


def test_results_generator_streams_with_bounded_memory():
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield _batch(pulled * 10, 10)

    sim = SimBackend("sim://?latency=1ms", TargetOptions())
    results = bulkload.execute_concurrent(
        sim, endless(), concurrency=8, results_generator=True, table="t", reorder_limit=8
    )
    first = [next(results) for _ in range(20)]
    results.close()
    assert all(r.success for r in first)
    # never ran ahead of the caller by more than the writes in flight + held results
    assert pulled <= 20 + 8 + 8
    assert sim.peak_active <= 8


def test_first_error_raised_or_returned(tmp_path: Path):
    db = tmp_path / "o.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    batches = [_batch(0, 5), _batch(3, 5), _batch(100, 5)]  # the second repeats ids 3, 4
    with pytest.raises(bulkload.PermanentWriteError, match="UNIQUE constraint failed"):
        bulkload.execute_concurrent(f"sqlite:///{db}", batches, concurrency=1, table="t")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM t")
    results = bulkload.execute_concurrent(
        f"sqlite:///{db}", batches, concurrency=1, raise_on_first_error=False, table="t"
    )
    assert [r.success for r in results] == [True, False, True]
    assert isinstance(results[1].result_or_exc, bulkload.PermanentWriteError)
    assert _count(db, "t") == 10  # the refused batch wrote nothing


def test_transient_errors_are_retried_by_execute_concurrent():
    sim = SimBackend("sim://?latency=0ms&error_rate=0.3&seed=2", TargetOptions())
    options = bulkload.EngineOptions(retries=30, retry_max_wait=0.001)
    batches = [_batch(i * 5, 5) for i in range(40)]
    results = bulkload.execute_concurrent(sim, batches, concurrency=4, table="t", options=options)
    assert all(r.success for r in results) and sim.rows_accepted == 200


def test_async_loader_sync_use(tmp_path: Path):
    db = tmp_path / "o.db"
    committed: list[int] = []
    with bulkload.AsyncLoader(
        f"sqlite:///{db}",
        "events",
        concurrency=4,
        batch_size=1000,
        on_success=lambda rows, batch: committed.append(rows),
    ) as loader:
        for i in range(2500):
            loader.add({"id": i, "name": f"n{i}"})
        loader.add(_batch(10_000, 500).rename_columns(["id", "name"]))
        assert loader.wait_completion(timeout=30)
        assert not loader.is_pending()
    assert sorted(committed) == [1000, 1000, 1000]
    assert _count(db, "events") == 3000
    assert loader.stats.rows_loaded == 3000


def test_async_loader_async_use_and_backpressure():
    sim = SimBackend("sim://?latency=20ms", TargetOptions())
    peak = 0

    async def main() -> None:
        nonlocal peak
        async with bulkload.AsyncLoader(
            sim, "t", concurrency=2, batch_size=100, backpressure=400
        ) as loader:
            for i in range(30):
                await loader.add_async([{"id": i * 50 + j} for j in range(50)])
                peak = max(peak, loader._pending_rows + loader._buffered_rows)
            assert loader.is_pending()
            assert await loader.wait_completion_async(timeout=30)

    event_loop.run(main())
    assert sim.rows_accepted == 1500
    assert peak <= 400 + 50  # the threshold, plus the one add that crossed it


def test_async_loader_rejects_rows_not_batches(tmp_path: Path):
    db = tmp_path / "o.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (7)")
    with bulkload.AsyncLoader(f"sqlite:///{db}", "t", batch_size=10) as loader:
        loader.add([{"id": i} for i in range(20)])
    assert [(r.line, r.reason) for r in loader.rejected] == [(8, "UNIQUE constraint failed: t.id")]
    assert _count(db, "t") == 20


def test_async_loader_surfaces_write_errors(tmp_path: Path):
    target = f"sqlite:///{tmp_path / 'missing-dir' / 'o.db'}"
    loader = bulkload.AsyncLoader(target, "t", batch_size=5)
    loader.add([{"id": i} for i in range(5)])
    with pytest.raises(bulkload.TargetUnreachable):
        loader.close()

    seen: list[BaseException] = []
    with bulkload.AsyncLoader(
        target, "t", batch_size=5, on_error=lambda exc, batch: seen.append(exc)
    ) as loader:
        loader.add([{"id": i} for i in range(5)])
    assert len(seen) == 1 and isinstance(seen[0], bulkload.TargetUnreachable)


def test_wait_completion_times_out():
    sim = SimBackend("sim://?latency=2s", TargetOptions())  # far longer than any stall
    with bulkload.AsyncLoader(sim, "t", batch_size=1) as loader:
        loader.add({"id": 1})
        assert loader.wait_completion(timeout=0.05) is False
        assert loader.is_pending()
        assert loader.wait_completion(timeout=10) is True


def test_loader_is_usable_from_another_thread():
    sim = SimBackend("sim://?latency=1ms", TargetOptions())
    with bulkload.AsyncLoader(sim, "t", batch_size=10, concurrency=3) as loader:
        workers = [
            threading.Thread(
                target=lambda k=k: loader.add([{"id": k * 100 + j} for j in range(100)])
            )
            for k in range(5)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert sim.rows_accepted == 500


def test_async_loader_outcome_after_close(tmp_path: Path):
    db = tmp_path / "o.db"
    loader = bulkload.AsyncLoader(f"sqlite:///{db}", "t", batch_size=5)
    loader.add([{"id": i} for i in range(12)])
    assert loader.stats.outcome == "running"
    loader.close()
    assert loader.stats.outcome == "completed"
    assert loader.stats.rows_loaded == 12 and _count(db, "t") == 12
    assert loader.stats.elapsed(0.0) > 0  # started and finished on one clock

    async def main() -> bulkload.AsyncLoader:
        async with bulkload.AsyncLoader(f"sqlite:///{db}", "t") as loader:
            await loader.add_async({"id": 99})
        return loader

    assert event_loop.run(main()).stats.outcome == "completed"

    # a batch that could not be written at all, even one an on_error callback took
    target = f"sqlite:///{tmp_path / 'missing-dir' / 'o.db'}"
    with bulkload.AsyncLoader(target, "t", on_error=lambda exc, batch: None) as failing:
        failing.add({"id": 1})
    assert failing.stats.outcome == "failed"


def test_async_loader_has_a_docstring():
    doc = bulkload.AsyncLoader.__doc__ or ""
    for word in ("add(", "close()", "stats", "async with", "outcome"):
        assert word in doc
