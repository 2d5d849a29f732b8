"""AsyncLoader callbacks: what they receive, and that their exceptions hide nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import bulkload
from bulkload import event_loop
from bulkload.backends.sim import SimBackend
from bulkload.config import TargetOptions
from tests.engine.library_helpers import hang_guard

__all__ = ["hang_guard"]  # the fixture, used by every test here


def _rows(count: int, start: int = 0) -> list[dict[str, object]]:
    return [{"id": i, "name": f"n{i}"} for i in range(start, start + count)]


def test_a_failing_on_error_callback_does_not_swallow_the_write_error():
    loader = bulkload.AsyncLoader(
        "sim://?latency=0ms&error_rate=1",
        "t",
        batch_size=100,
        on_error=lambda exc, batch: 1 / 0,
        options=bulkload.EngineOptions(retries=1, retry_max_wait=0.01),
    )
    loader.add(_rows(300))
    with pytest.raises(bulkload.AbortedError, match="gave up after 1 retries"):
        loader.close()
    assert len(loader.errors) == 3
    assert [type(e) for e in loader.callback_errors] == [ZeroDivisionError] * 3
    assert "on_error callback" in loader.callback_errors[0].__notes__[0]
    assert loader.stats.rows_loaded == 0


def test_a_failing_on_success_callback_is_not_a_failed_write():
    sim = SimBackend("sim://?latency=0ms", TargetOptions())
    told_of_errors: list[BaseException] = []
    loader = bulkload.AsyncLoader(
        sim,
        "t",
        batch_size=10,
        on_success=lambda rows, batch: 1 / 0,
        on_error=lambda exc, batch: told_of_errors.append(exc),
    )
    loader.add(_rows(20))
    with pytest.raises(ZeroDivisionError):
        loader.close()
    assert told_of_errors == []  # a retry from on_error would have written them twice
    assert sim.rows_accepted == 20 and loader.stats.rows_loaded == 20
    assert len(loader.callback_errors) == 2 and not loader.errors


def test_on_success_gets_the_rows_actually_committed():
    sim = SimBackend("sim://?latency=0ms&reject_rate=0.05&seed=3", TargetOptions())
    committed: list[int] = []
    ids: list[int] = []

    def on_success(rows: int, batch: object) -> None:
        committed.append(rows)
        ids.extend(batch.column("id").to_pylist())  # type: ignore[attr-defined]

    with bulkload.AsyncLoader(sim, "t", batch_size=100, on_success=on_success) as loader:
        loader.add(_rows(1000))
    refused = {int(r.line) - 1 for r in loader.rejected}
    assert 0 < len(refused) < 1000
    assert sum(committed) == sim.rows_accepted == 1000 - len(refused)
    assert sorted(ids) == [i for i in range(1000) if i not in refused]
    stats = loader.stats
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (
        1000,
        sim.rows_accepted,
        len(refused),
    )


def test_the_with_body_exception_is_not_hidden_by_close(tmp_path: Path):
    target = f"sqlite:///{tmp_path / 'missing-dir' / 'o.db'}"
    with (
        pytest.raises(ValueError, match="the caller's own") as raised,
        bulkload.AsyncLoader(target, "t", concurrency=1, batch_size=5) as loader,
    ):
        loader.add(_rows(5))
        raise ValueError("the caller's own")
    assert any("closing the AsyncLoader failed" in note for note in raised.value.__notes__)
    assert isinstance(loader.errors[0], bulkload.TargetUnreachable)


def test_the_async_with_body_exception_is_not_hidden_by_close(tmp_path: Path):
    target = f"sqlite:///{tmp_path / 'missing-dir' / 'o.db'}"

    async def main() -> None:
        async with bulkload.AsyncLoader(target, "t", concurrency=1, batch_size=5) as loader:
            await loader.add_async(_rows(5))
            raise ValueError("the caller's own")

    with pytest.raises(ValueError, match="the caller's own"):
        event_loop.run(main())


def test_a_failing_on_reject_callback_fails_neither_the_write_nor_the_count():
    sim = SimBackend("sim://?latency=0ms&reject_rate=0.05&seed=3", TargetOptions())
    with (
        pytest.raises(RuntimeError, match="sink down"),
        bulkload.AsyncLoader(
            sim,
            "t",
            batch_size=100,
            on_reject=lambda r: (_ for _ in ()).throw(RuntimeError("sink down")),
        ) as loader,
    ):
        loader.add(_rows(1000))
    assert not loader.errors
    assert loader.stats.rows_loaded + loader.stats.rows_rejected == 1000
    assert loader.stats.rows_loaded == sim.rows_accepted
