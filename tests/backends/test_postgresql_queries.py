"""The PostgreSQL backend answering queries, driven directly against the real server:
every row returned is counted, a failed query leaves its connection usable, a cancelled
one is cancelled on the server too, and a statement whose types changed under it is
prepared again."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.backends.base import Queryable
from bulkload.backends.query import Query
from bulkload.config import TargetOptions


def _backend(dsn: str) -> Queryable:
    backend = create_backend(TargetOptions(url=dsn))
    assert isinstance(backend, Queryable)
    return backend


def test_rows_are_counted_and_errors_leave_the_connection_usable(pg):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".t AS SELECT i AS id, i * 1.5 AS x FROM generate_series(1, 50) i')
    backend = _backend(dsn)

    async def go() -> tuple[list[int], type[BaseException], list[int]]:
        await backend.open_for_queries(connections=1, connect_timeout=10)
        try:
            many = await backend.prepare(Query(f'SELECT id, x FROM "{schema}".t WHERE id <= :n'))
            ratio = await backend.prepare(Query("SELECT 10 / :d::int AS r"))
            before = [await backend.run(many, (n,)) for n in (0, 1, 50, 70)]
            with pytest.raises(asyncpg.DivisionByZeroError) as failed:
                await backend.run(ratio, (0,))
            after = [await backend.run(ratio, (5,)), await backend.run(many, (7,))]
            return before, failed.type, after
        finally:
            await backend.close()

    before, error, after = event_loop.run(go())
    assert before == [0, 1, 50, 50]
    assert error is asyncpg.DivisionByZeroError
    assert after == [1, 7]


def test_a_cancelled_query_is_cancelled_on_the_server_and_the_next_one_runs(pg):
    dsn, _, _ = pg
    backend = _backend(dsn)

    async def go() -> tuple[float, int]:
        await backend.open_for_queries(connections=1, connect_timeout=10)
        try:
            sleep = await backend.prepare(Query("SELECT pg_sleep(:s::float)"))
            running = asyncio.create_task(backend.run(sleep, (30,)))
            await asyncio.sleep(0.3)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            started = time.perf_counter()
            rows = await backend.run(sleep, (0,))  # the same (only) connection
            return time.perf_counter() - started, rows
        finally:
            await backend.close()

    waited, rows = event_loop.run(go())
    assert rows == 1
    assert waited < 10  # the server stopped sleeping: it was not waited out


def test_a_statement_whose_type_changed_fails_once_then_is_prepared_again(pg):
    dsn, schema, sql = pg
    sql(f'CREATE TYPE "{schema}".pair AS (a int, b int)')
    sql(f'CREATE TABLE "{schema}".t (p "{schema}".pair)')
    sql(f'INSERT INTO "{schema}".t VALUES (ROW(1, 2)), (ROW(3, 4))')
    backend = _backend(dsn)

    async def go() -> tuple[int, list[str], int]:
        await backend.open_for_queries(connections=1, connect_timeout=10)
        try:
            query = await backend.prepare(Query(f'SELECT p FROM "{schema}".t WHERE :k::int > 0'))
            before = await backend.run(query, (1,))
            other = await asyncpg.connect(dsn)
            await other.execute(f'ALTER TYPE "{schema}".pair ADD ATTRIBUTE c int')
            await other.close()
            failed: list[str] = []
            after = -1
            for _ in range(2):
                try:
                    after = await backend.run(query, (1,))
                    break
                except asyncpg.exceptions.OutdatedSchemaCacheError as exc:
                    failed.append(type(exc).__name__)
            return before, failed, after
        finally:
            await backend.close()

    before, failed, after = event_loop.run(go())
    assert before == 2
    assert len(failed) <= 1
    assert after == 2
