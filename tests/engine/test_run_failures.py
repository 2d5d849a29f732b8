"""How a run ends when a source fails half-way, a write fails, or the run is cancelled:
never a hang, and ``rows_loaded`` always equals what the target holds.

Every run here goes through a thread with a deadline, so a run that hangs (a swallowed
cancellation, a writer waiting on a channel nobody closes) fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.backends.base import Backend
from bulkload.backends.postgresql_options import PostgresOptions
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine import Engine, RunControl
from bulkload.errors import InputError, TargetError
from bulkload.options import build_import_config
from bulkload.sources import BatchSource, SourceBatch, SourceFile
from bulkload.stats import RunStats

BATCH = 1_000
ROWS = 40_000
FAIL_AFTER = 7  # batches the source yields before it fails

READ_ERRORS: dict[str, Callable[[], BaseException]] = {
    "input-error": lambda: InputError("truncated", source="in.csv"),
    "os-error": lambda: OSError(5, "Input/output error"),
    "eof-error": lambda: EOFError("Compressed file ended before the end-of-stream marker"),
    "unicode-error": lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    "internal-error": lambda: RuntimeError("a bug in a reader"),
}


class _FailingSource(BatchSource):
    """A real CSV source whose reading fails after ``fail_after`` batches."""

    def __init__(self, path: Path, fail_after: int, error: Callable[[], BaseException]):
        config = build_import_config({"paths": [str(path)], "batch_size": BATCH})
        super().__init__(config.source)
        self._fail_after = fail_after
        self._error = error

    def batches_of(self, source: SourceFile) -> Iterator[SourceBatch]:
        for index, batch in enumerate(super().batches_of(source)):
            if index == self._fail_after:
                raise self._error()
            yield batch


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(ROWS)))
    return path


def _in_thread(coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    """Run ``coro`` on a fresh loop in a thread; fail (not hang) past ``timeout``."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = event_loop.run(coro)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the run hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# ------------------------------------------------------------------ targets


class _Target:
    """A backend under test and a way to count the rows it really holds."""

    def __init__(self, url: str, count: Callable[[Backend], int], options: TargetOptions):
        self.url = url
        self.count = count
        self.options = options

    def backend(self) -> Backend:
        return create_backend(self.options)


@pytest.fixture(params=["sqlite", "null", "sim", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> _Target:
    kind = request.param
    if kind == "sqlite":
        db = tmp_path / "o.db"

        def sqlite_rows(_: Backend) -> int:
            with sqlite3.connect(db) as conn:
                return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])

        return _Target(f"sqlite:///{db}", sqlite_rows, TargetOptions(url=f"sqlite:///{db}"))
    if kind == "null":
        return _Target("null://", lambda b: b.rows_written, TargetOptions(url="null://"))  # type: ignore[attr-defined]
    if kind == "sim":
        url = "sim://?latency=2ms&jitter=1ms&seed=3"
        return _Target(url, lambda b: b.rows_accepted, TargetOptions(url=url))  # type: ignore[attr-defined]
    dsn, schema, sql = request.getfixturevalue("pg")

    def pg_rows(_: Backend) -> int:
        return int(sql(f'SELECT count(*) FROM "{schema}".t')[0][0])

    return _Target(
        dsn,
        pg_rows,
        TargetOptions(url=dsn, backends={"postgresql": PostgresOptions(schema_name=schema)}),
    )


# ------------------------------------------------------------------ source failures


@pytest.mark.parametrize("error_kind", sorted(READ_ERRORS))
def test_a_source_failing_half_way_ends_the_run_with_exact_counts(
    target: _Target, tmp_path: Path, error_kind: str
):
    backend = target.backend()
    stats = RunStats()
    engine = Engine(backend, EngineOptions(concurrency=4), stats)
    source = _FailingSource(_csv(tmp_path), FAIL_AFTER, READ_ERRORS[error_kind])
    expected = type(READ_ERRORS[error_kind]())
    with pytest.raises(expected):
        _in_thread(engine.run(source, "t", "append"))
    # Every batch read before the failure is written, and counted exactly once.
    assert stats.outcome == "aborted"
    assert stats.rows_loaded == FAIL_AFTER * BATCH == target.count(backend)
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected
    assert stats.in_flight == 0


def test_a_failing_reader_among_several_stops_the_others(tmp_path: Path):
    files = []
    for n in range(4):
        path = tmp_path / f"f{n}.csv"
        path.write_text("id\n" + "".join(f"{i}\n" for i in range(20 * BATCH)))
        files.append(str(path))
    config = build_import_config({"paths": files, "batch_size": BATCH})

    class OneBadFile(BatchSource):
        def batches_of(self, source: SourceFile) -> Iterator[SourceBatch]:
            for index, batch in enumerate(super().batches_of(source)):
                if source.path.endswith("f1.csv") and index == 3:
                    raise InputError("corrupt", source=source.path)
                yield batch

    db = tmp_path / "o.db"
    backend = create_backend(TargetOptions(url=f"sqlite:///{db}"))
    stats = RunStats()
    options = EngineOptions(concurrency=2, readers=3)
    with pytest.raises(InputError, match=r"f1\.csv"):
        _in_thread(Engine(backend, options, stats).run(OneBadFile(config.source), "t", "append"))
    with sqlite3.connect(db) as conn:
        held = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    assert stats.rows_loaded == held
    assert stats.rows_read == stats.rows_loaded


# ------------------------------------------------------------------ write failures


def _fatal_at_write(call: int, url: str) -> Backend:
    """A real sim target whose ``call``-th write fails for good (permission denied)."""
    backend = create_backend(TargetOptions(url=url))
    real_write = backend.write
    calls = 0

    async def write(payload: Any, key: Any = None) -> None:
        nonlocal calls
        calls += 1
        if calls == call:
            raise PermissionError("permission denied for table t")
        await real_write(payload, key)

    backend.write = write  # type: ignore[method-assign]
    return backend


def _plain_source(tmp_path: Path) -> BatchSource:
    return BatchSource(
        build_import_config({"paths": [str(_csv(tmp_path))], "batch_size": BATCH}).source
    )


def test_a_fatal_write_error_lets_the_writes_in_flight_finish_and_counts_them(tmp_path: Path):
    """A target that fails for good mid-run: the other writes in flight complete, queued
    batches are left alone, and the summary holds exactly what the target accepted."""
    backend = _fatal_at_write(12, "sim://?latency=20ms&seed=1")
    stats = RunStats()
    source = _plain_source(tmp_path)
    with pytest.raises(TargetError, match="permission denied"):
        _in_thread(Engine(backend, EngineOptions(concurrency=6), stats).run(source, "t", "append"))
    assert stats.rows_loaded == backend.rows_accepted  # type: ignore[attr-defined]
    assert 0 < stats.rows_loaded < ROWS
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected


def test_retries_waiting_to_back_off_give_up_when_the_run_fails(tmp_path: Path):
    """After a fatal error, a batch waiting out a long retry back-off must not keep the
    run alive: it is given up (not loaded, not counted as read)."""
    backend = _fatal_at_write(30, "sim://?latency=1ms&error_rate=0.5&seed=5")
    stats = RunStats()
    source = _plain_source(tmp_path)
    options = EngineOptions(concurrency=4, retries=50, retry_max_wait=30, breaker_threshold=0)
    loop_time = 0.0

    async def run() -> None:
        nonlocal loop_time
        started = asyncio.get_running_loop().time()
        try:
            await Engine(backend, options, stats).run(source, "t", "append")
        finally:
            loop_time = asyncio.get_running_loop().time() - started

    with pytest.raises(TargetError):
        _in_thread(run())
    assert loop_time < 20, "a batch in back-off kept the failed run alive"
    assert stats.rows_loaded == backend.rows_accepted  # type: ignore[attr-defined]
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected


# ------------------------------------------------------------------ cancellation


def test_cancelling_a_run_propagates_and_counts_exactly_what_committed(
    target: _Target, tmp_path: Path
):
    """The second Ctrl-C cancels the run: writes in flight either roll back or, when they
    had committed, are counted; the cancellation reaches the caller (never swallowed)."""
    backend = target.backend()
    stats = RunStats()
    control = RunControl()
    source = BatchSource(
        build_import_config({"paths": [str(_csv(tmp_path))], "batch_size": BATCH}).source
    )

    async def run_then_cancel() -> None:
        task = asyncio.create_task(
            Engine(backend, EngineOptions(concurrency=4), stats, control=control).run(
                source, "t", "append"
            )
        )
        while stats.rows_loaded < 5 * BATCH and not task.done():
            await asyncio.sleep(0.001)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        _in_thread(run_then_cancel())
    assert stats.rows_loaded == target.count(backend)
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected
    assert stats.in_flight == 0


def test_a_sqlite_write_cancelled_while_committing_is_counted(tmp_path: Path):
    """SQLite cannot interrupt a statement: a write cancelled mid-way finishes, and the
    engine counts its rows before the cancellation goes on (it used to be swallowed,
    leaving the writer waiting for ever)."""
    import pyarrow as pa

    from bulkload.backends.base import CancelledAfterCommit, TableSpec

    db = tmp_path / "o.db"
    backend = create_backend(TargetOptions(url=f"sqlite:///{db}"))
    batch = pa.record_batch({"id": list(range(200_000))})

    async def go() -> type[BaseException]:
        await backend.open(TableSpec("t", batch.schema))
        try:
            write = asyncio.create_task(backend.write(backend.encode(batch)))
            await asyncio.sleep(0.001)  # the insert is running on the writer thread
            write.cancel()
            try:
                await write
            except asyncio.CancelledError as exc:
                return type(exc)
            return type(None)
        finally:
            await backend.close()

    assert _in_thread(go()) is CancelledAfterCommit
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 200_000


def test_no_task_outlives_a_run(tmp_path: Path):
    """Structured concurrency: the timeout watchdog, the writers and the readers are all
    owned and awaited; nothing is left running when run() returns, or fails."""
    source = BatchSource(
        build_import_config({"paths": [str(_csv(tmp_path))], "batch_size": BATCH}).source
    )

    async def run() -> set[asyncio.Task[Any]]:
        backend = create_backend(TargetOptions(url="sim://?latency=1ms"))
        await Engine(backend, EngineOptions(concurrency=4, timeout=30), RunStats()).run(
            source, "t", "append"
        )
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert _in_thread(run()) == set()

    async def failing() -> set[asyncio.Task[Any]]:
        backend = create_backend(TargetOptions(url="sim://?latency=1ms"))
        failing_source = _FailingSource(_csv(tmp_path), 3, READ_ERRORS["os-error"])
        with pytest.raises(OSError):
            await Engine(backend, EngineOptions(concurrency=4, timeout=30), RunStats()).run(
                failing_source, "t", "append"
            )
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert _in_thread(failing()) == set()
