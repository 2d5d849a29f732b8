"""AsyncLoader rows: every value loaded or refused with a reason, buffered rows always
sent, no add() that waits for ever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

import bulkload
from bulkload.backends.sim import SimBackend
from bulkload.config import TargetOptions
from tests.conftest import column_types, read_table
from tests.engine.library_helpers import hang_guard

__all__ = ["hang_guard"]  # the fixture, used by every test here


def test_backpressure_below_batch_size_is_refused_up_front():
    with pytest.raises(
        bulkload.UsageError, match=r"backpressure \(50\) must be at least batch_size"
    ):
        bulkload.AsyncLoader("sim://", "t", batch_size=100, backpressure=50)


def test_buffered_rows_go_out_without_a_flush():
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    loader = bulkload.AsyncLoader(sim, "t", batch_size=100)  # default flush_interval: 1 s
    try:
        loader.add([{"id": i} for i in range(10)])
        deadline = time.monotonic() + 20  # generous: a loaded machine
        while loader.is_pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not loader.is_pending()
        assert sim.rows_accepted == 10
    finally:
        loader.close()


def test_rows_with_varying_keys_lose_no_value(tmp_path: Path):
    db = tmp_path / "o.db"
    loader = bulkload.AsyncLoader(
        f"sqlite:///{db}", "people", concurrency=1, batch_size=3, flush_interval=None
    )
    with loader:
        # the first batch fixes the columns: every key it has, typed by non-null values
        loader.add({"id": 1, "name": None})
        loader.add({"id": 2, "name": "b", "email": "b@x"})
        loader.add({"id": 3})
        # the table exists now
        loader.add({"id": 4, "name": "d", "email": "d@x"})
        loader.add({"id": 5, "name": "e", "phone": "555"})
        loader.add({"id": 6, "name": 7})
        loader.add({"id": "seven"})
    assert read_table(db, "people") == [
        (1, None, None),
        (2, "b", "b@x"),
        (3, None, None),
        (4, "d", "d@x"),
        (6, "7", None),
    ]
    assert column_types(db, "people") == {"id": "INTEGER", "name": "TEXT", "email": "TEXT"}
    refused = [(r.line, r.reason) for r in loader.rejected]
    assert [line for line, _ in refused] == [5, 7]
    assert "'phone' not in table 'people'" in refused[0][1]
    assert "column 'id': cannot store 'seven' as int64" in refused[1][1]
    stats = loader.stats
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (7, 5, 2)


def test_a_column_null_in_the_whole_first_batch_is_text(tmp_path: Path):
    db = tmp_path / "o.db"
    with bulkload.AsyncLoader(f"sqlite:///{db}", "t", concurrency=1, batch_size=2) as loader:
        loader.add([{"id": 1, "note": None}, {"id": 2, "note": None}])
        loader.add([{"id": 3, "note": "later"}, {"id": 4, "note": 5}])
    assert read_table(db, "t") == [(1, None), (2, None), (3, "later"), (4, "5")]
    assert not loader.rejected


def test_a_dict_reused_by_the_caller_is_copied():
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    seen: list[int] = []
    with bulkload.AsyncLoader(
        sim,
        "t",
        batch_size=5,
        on_success=lambda rows, batch: seen.extend(batch.column("id").to_pylist()),
    ) as loader:
        row: dict[str, int] = {}
        for i in range(10):
            row["id"] = i
            loader.add(row)
    assert sorted(seen) == list(range(10))


def test_arrow_batches_and_dicts_mix():
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    with bulkload.AsyncLoader(sim, "t", batch_size=4) as loader:
        loader.add({"id": 1, "v": "a"})
        loader.add(pa.RecordBatch.from_pydict({"id": [2, 3, 4, 5, 6], "v": ["b"] * 5}))
        loader.add({"id": 7})
    assert sim.rows_accepted == 7 and loader.stats.rows_loaded == 7
    assert sim.batches_accepted == 2


def test_the_in_flight_cap_is_said_and_kept_in_stats():
    sim = SimBackend("sim://?latency=0ms&connections=1&requests_per_connection=2", TargetOptions())
    with pytest.warns(bulkload.InFlightCapWarning, match="8 writes in flight asked, capped at 2"):
        loader = bulkload.AsyncLoader(sim, "t", concurrency=8, batch_size=10)
    with loader:
        loader.add([{"id": i} for i in range(100)])
    assert (loader.stats.concurrency, loader.stats.effective_concurrency) == (8, 2)
    assert sim.peak_active <= 2


@pytest.mark.parametrize("interval", [0, -1.0])
def test_flush_interval_must_be_positive(interval: float):
    with pytest.raises(bulkload.UsageError, match="flush_interval must be positive"):
        bulkload.AsyncLoader("sim://", "t", flush_interval=interval)


def test_closing_ends_the_loaders_threads(tmp_path: Path):
    def library_threads() -> list[str]:
        prefixes = ("bulkload", "sqlite-writer", "asyncio")
        return [t.name for t in threading.enumerate() if t.name.startswith(prefixes)]

    before = library_threads()
    with bulkload.AsyncLoader(f"sqlite:///{tmp_path / 'o.db'}", "t", batch_size=10) as loader:
        loader.add([{"id": i} for i in range(25)])
    assert library_threads() == before
    assert loader.stats.rows_loaded == 25
