"""The library API against the real PostgreSQL server (the pg fixtures in conftest.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

import bulkload
from bulkload.backends.postgresql_options import PostgresOptions
from bulkload.config import TargetOptions
from tests.engine.library_helpers import hang_guard

__all__ = ["hang_guard"]  # the fixture, used by every test here

pytestmark = pytest.mark.postgres


def test_a_backend_object_serves_several_execute_concurrent_calls(pg):
    dsn, schema, sql = pg
    backend = bulkload.create_backend(
        TargetOptions(url=dsn, backends={"postgresql": PostgresOptions(schema_name=schema)})
    )
    for start in (0, 100, 200):
        batches = [
            pa.RecordBatch.from_pydict({"id": list(range(start + i * 10, start + i * 10 + 10))})
            for i in range(4)
        ]
        results = bulkload.execute_concurrent(backend, batches, concurrency=2, table="t")
        assert [r.result_or_exc for r in results] == [10, 10, 10, 10]
    assert sql(f'SELECT count(*) FROM "{schema}".t')[0][0] == 120


def test_loader_rows_with_varying_keys(pg):
    dsn, schema, sql = pg
    backend = bulkload.create_backend(
        TargetOptions(url=dsn, backends={"postgresql": PostgresOptions(schema_name=schema)})
    )
    with bulkload.AsyncLoader(
        backend, "people", concurrency=2, batch_size=3, flush_interval=None
    ) as loader:
        loader.add({"id": 1, "name": None})
        loader.add({"id": 2, "name": "b", "email": "b@x"})
        loader.add({"id": 3})
        loader.add({"id": 4, "name": "d", "email": "d@x"})
        loader.add({"id": 5, "name": "e", "phone": "555"})
        loader.add({"id": 6, "name": 7})
        loader.add({"id": "seven"})
    rows = sql(f'SELECT id, name, email FROM "{schema}".people ORDER BY id')
    assert [tuple(r) for r in rows] == [
        (1, None, None),
        (2, "b", "b@x"),
        (3, None, None),
        (4, "d", "d@x"),
        (6, "7", None),
    ]
    assert [r.line for r in loader.rejected] == [5, 7]
    stats = loader.stats
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (7, 5, 2)


def test_load_with_keywords_into_postgresql(pg, tmp_path):
    """The keyword API reaches a backend's own options (schema_name, pg_format) too."""
    dsn, schema, sql = pg
    csv = tmp_path / "people.csv"
    csv.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(300)))
    stats = bulkload.load(
        csv, to=dsn, schema_name=schema, table="people", pg_format="csv",
        concurrency=3, batch_size=50, if_exists="replace",
    )  # fmt: skip
    assert (stats.rows_loaded, stats.batches, stats.outcome) == (300, 6, "completed")
    assert sql(f'SELECT count(*), max(id) FROM "{schema}".people')[0] == (300, 299)
