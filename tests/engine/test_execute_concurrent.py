"""execute_concurrent keeps the drivers' promises: N in flight whatever order writes end
in, results in input order, the caller's backend reusable, threads gone when it ends."""

from __future__ import annotations

import sqlite3
import threading
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

import bulkload
from bulkload import event_loop
from bulkload.backends.sim import SimBackend
from bulkload.config import TargetOptions
from tests.engine.library_helpers import hang_guard

__all__ = ["hang_guard"]  # the fixture, used by every test here


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"id": list(range(start, start + rows))})


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def _library_threads() -> list[str]:
    prefixes = ("bulkload", "sqlite-writer", "asyncio")
    return [t.name for t in threading.enumerate() if t.name.startswith(prefixes)]


def _slow_head() -> list[pa.RecordBatch]:
    """A first batch of 1000 rows (about 1 s on sim with per_row=1ms), then 199 quick ones."""
    return [_batch(0, 1000)] + [_batch(1000 + i, 1) for i in range(199)]


def test_a_slow_batch_does_not_hold_back_the_others():
    sim = SimBackend("sim://?latency=2ms&per_row=1ms", TargetOptions())
    batches = _slow_head()
    results = bulkload.execute_concurrent(
        sim, batches, concurrency=10, results_generator=True, table="t"
    )
    first = next(results)  # in input order: only once the slow head is written
    written_meanwhile = sim.batches_accepted
    rest = list(results)
    assert [r.result_or_exc for r in [first, *rest]] == [b.num_rows for b in batches]
    assert sim.peak_active == 10
    # the other 9 slots kept writing while the head took its second (waiting on the
    # oldest write first, as before, allowed only the 9 already started)
    assert written_meanwhile >= 150


def test_results_held_for_a_slow_batch_are_bounded_by_reorder_limit():
    sim = SimBackend("sim://?latency=2ms&per_row=1ms", TargetOptions())
    with bulkload.execute_concurrent(
        sim, _slow_head(), concurrency=10, results_generator=True, table="t", reorder_limit=5
    ) as results:
        next(results)
        written_meanwhile = sim.batches_accepted
        assert len(list(results)) == 199
    # started before the head finished: the head, 9 in flight, 5 finished and held
    assert written_meanwhile <= 1 + 9 + 5


def test_a_backend_object_can_be_used_by_several_calls(tmp_path: Path):
    db = tmp_path / "o.db"
    backend = bulkload.create_backend(TargetOptions(url=f"sqlite:///{db}"))
    for start in (0, 100, 200):
        results = bulkload.execute_concurrent(backend, [_batch(start, 5)], concurrency=1, table="t")
        assert results == [(True, 5)]
    assert _count(db, "t") == 15


def test_execute_concurrent_async_takes_a_url(tmp_path: Path):
    async def main() -> list[bulkload.ExecutionResult]:
        url = f"sqlite:///{tmp_path / 'o.db'}"
        batches = [_batch(0, 3), _batch(3, 4)]
        return [r async for r in bulkload.execute_concurrent_async(url, batches, table="t")]

    assert event_loop.run(main()) == [(True, 3), (True, 4)]
    assert _count(tmp_path / "o.db", "t") == 7


@pytest.mark.parametrize(
    "item, named",
    [({"id": 1}, "dict"), ((1, "a"), "tuple"), ([{"id": 1}], "list")],
)
def test_rows_instead_of_batches_are_a_usage_error(item: object, named: str):
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    with pytest.raises(bulkload.UsageError, match=f"RecordBatches or Tables.*not {named}"):
        bulkload.execute_concurrent(sim, [item], table="t")


def test_a_table_is_written_as_one_batch():
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    table = pa.Table.from_batches([_batch(0, 3), _batch(3, 2)])
    assert bulkload.execute_concurrent(sim, [table], table="t") == [(True, 5)]
    assert sim.rows_accepted == 5


def test_leaving_a_results_loop_early_ends_the_threads(tmp_path: Path):
    def endless():
        start = 0
        while True:
            yield _batch(start, 10)
            start += 10

    before = _library_threads()
    url = f"sqlite:///{tmp_path / 'o.db'}"
    with bulkload.execute_concurrent(
        url, endless(), concurrency=1, results_generator=True, table="t"
    ) as results:
        for _ in results:
            break
    assert _library_threads() == before

    sim = SimBackend("sim://?latency=1ms", TargetOptions())
    results = bulkload.execute_concurrent(
        sim, endless(), concurrency=4, results_generator=True, table="t"
    )
    for _ in results:
        break
    results.close()
    assert _library_threads() == before
    with pytest.raises(StopIteration):
        next(results)

    for _ in bulkload.execute_concurrent(
        sim, endless(), concurrency=4, results_generator=True, table="t"
    ):
        break  # the generator, referenced by the loop only, is closed as it goes
    assert _library_threads() == before


def test_the_in_flight_cap_is_said_once_and_kept_in_stats():
    sim = SimBackend("sim://?latency=2ms&connections=2&requests_per_connection=3", TargetOptions())
    batches = [_batch(i, 1) for i in range(40)]
    with pytest.warns(bulkload.InFlightCapWarning, match="10 writes in flight asked, capped at 6"):
        results = bulkload.execute_concurrent(
            sim, batches, concurrency=10, results_generator=True, table="t"
        )
    with results:
        assert all(r.success for r in results)
    assert (results.stats.concurrency, results.stats.effective_concurrency) == (10, 6)
    assert sim.peak_active <= 6


def test_a_default_capped_by_the_target_is_not_warned_about(tmp_path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        url = f"sqlite:///{tmp_path / 'o.db'}"
        results = bulkload.execute_concurrent(
            url, [_batch(0, 3)], table="t", results_generator=True
        )
        with results:
            assert list(results) == [(True, 3)]
    assert (results.stats.concurrency, results.stats.effective_concurrency) == (100, 1)


def test_a_target_that_cannot_be_opened_is_still_closed(tmp_path: Path):
    before = _library_threads()
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'o.db'}"
    with pytest.raises(bulkload.TargetUnreachable, match="missing-dir does not exist"):
        bulkload.execute_concurrent(url, [_batch(0, 3)], table="t")
    assert _library_threads() == before  # the backend's writer thread ended with it


class _CloseFails(SimBackend):
    async def close(self) -> None:
        raise RuntimeError("close failed")


def test_the_with_body_exception_is_not_hidden_by_close():
    backend = _CloseFails("sim://?latency=0ms", TargetOptions())
    with (
        pytest.raises(ValueError, match="the caller's own") as raised,
        bulkload.execute_concurrent(
            backend, [_batch(0, 1)], table="t", results_generator=True
        ) as results,
    ):
        next(results)
        raise ValueError("the caller's own")
    assert "closing the results generator failed: close failed" in raised.value.__notes__[0]


def test_an_iterator_failing_half_way_raises_after_the_results_before_it():
    """The batches taken before the caller's iterator failed are written and their
    results come first, in order; then its error, at its place."""

    def failing():
        yield from (_batch(i * 10, 10) for i in range(5))
        raise OSError("the caller's source broke")

    sim = SimBackend("sim://?latency=1ms", TargetOptions())
    results = bulkload.execute_concurrent(
        sim, failing(), concurrency=3, results_generator=True, table="t"
    )
    with results:
        got = [next(results) for _ in range(5)]
        with pytest.raises(OSError, match="source broke"):
            next(results)
    assert got == [(True, 10)] * 5
    assert sim.rows_accepted == 50
