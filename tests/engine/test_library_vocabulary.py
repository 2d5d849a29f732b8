"""One vocabulary across load(), AsyncLoader and execute_concurrent: ``to``,
``table``, ``concurrency``, ``batch_size`` (the command line's names). The old keyword
names still work, with a DeprecationWarning; ``table`` is required where there is no
file to name it after."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

import bulkload


def _batches(count: int, rows: int = 10) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_pylist([{"id": b * rows + i} for i in range(rows)])
        for b in range(count)
    ]


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count


def test_the_three_fronts_share_the_command_lines_names(tmp_path: Path):
    db = tmp_path / "x.db"
    url = f"sqlite:///{db}"
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # none of these is deprecated
        bulkload.load(csv, to=url, table="a", concurrency=2, batch_size=1)
        with bulkload.AsyncLoader(to=url, table="b", concurrency=1, batch_size=5) as loader:
            loader.add([{"id": i} for i in range(12)])
        assert (loader.concurrency, loader.batch_size) == (1, 5)
        results = bulkload.execute_concurrent(to=url, batches=_batches(3), concurrency=1, table="c")
    assert [r.success for r in results] == [True] * 3
    assert (_count(db, "a"), _count(db, "b"), _count(db, "c")) == (2, 12, 30)


def test_old_keyword_names_still_work_with_a_deprecation_warning(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with (
        pytest.warns(DeprecationWarning) as caught,
        bulkload.AsyncLoader(target=url, table="b", parallelism=1, commit_every=5) as loader,
    ):
        loader.add([{"id": i} for i in range(7)])
    said = sorted(str(w.message) for w in caught if w.category is DeprecationWarning)
    assert said == [
        "AsyncLoader(commit_every=...) is deprecated: use batch_size=...",
        "AsyncLoader(parallelism=...) is deprecated: use concurrency=...",
        "AsyncLoader(target=...) is deprecated: use to=...",
    ]
    assert caught[0].filename == __file__  # the warning points at the caller
    assert loader.stats.rows_loaded == 7
    with pytest.warns(DeprecationWarning, match=r"AsyncLoader.parallelism is deprecated"):
        assert loader.parallelism == 1
    with pytest.warns(DeprecationWarning, match=r"AsyncLoader.commit_every is deprecated"):
        assert loader.commit_every == 5
    with pytest.warns(DeprecationWarning, match=r"execute_concurrent\(backend=...\)"):
        results = bulkload.execute_concurrent(backend=url, batches=_batches(2), table="c")
    assert all(r.success for r in results)
    with pytest.raises(TypeError, match="both target= and to="):
        bulkload.AsyncLoader(to=url, table="t", target=url)  # type: ignore[call-arg]


def test_execute_concurrent_needs_a_table(tmp_path: Path):
    with pytest.raises(TypeError, match="table"):
        bulkload.execute_concurrent(f"sqlite:///{tmp_path / 'x.db'}", _batches(1))  # type: ignore[call-overload]


def test_outcomes_are_an_enum_that_compares_and_serialises_as_text(tmp_path: Path):
    with bulkload.AsyncLoader(f"sqlite:///{tmp_path / 'x.db'}", "t") as loader:
        loader.add({"id": 1})
    outcome = loader.stats.outcome
    assert outcome is bulkload.Outcome.COMPLETED
    assert outcome == "completed" and f"{outcome}" == "completed"
    loader.stats.outcome = "aborted"  # code written against plain strings keeps working
    assert loader.stats.outcome is bulkload.Outcome.ABORTED
    with pytest.raises(ValueError):
        loader.stats.outcome = "finished"
