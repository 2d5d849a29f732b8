"""execute_concurrent_queries / execute_concurrent_with_args against real targets: a
SQLite file and the test PostgreSQL. Results come back in input order, rows as dicts."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import bulkload
from tests.conftest import sqlite_orders


@pytest.fixture
def orders_db(tmp_path: Path) -> str:
    return f"sqlite:///{sqlite_orders(tmp_path / 'orders.db', 500)}"


def test_with_args_returns_each_querys_rows_in_input_order(orders_db):
    ids = [500, 3, 999, 42, *range(100, 300)]
    results = bulkload.execute_concurrent_with_args(
        orders_db, "SELECT id, name FROM orders WHERE id = :id", [{"id": i} for i in ids],
        concurrency=8,
    )  # fmt: skip
    assert [r.success for r in results] == [True] * len(ids)
    assert results[0].result_or_exc == [{"id": 500, "name": "n500"}]
    assert results[2].result_or_exc == []  # a missing key: no rows, still a success
    assert [r.result_or_exc[0]["id"] for r in results if r.result_or_exc] == [
        i for i in ids if i <= 500
    ]


def test_failures_are_results_in_place_unless_asked_to_raise(orders_db):
    pairs = [
        ("SELECT name FROM orders WHERE id = :id", {"id": 1}),
        ("SELECT nope FROM orders WHERE id = :id", {"id": 2}),
        ("SELECT name FROM orders WHERE id = :id", (3,)),  # values in order
    ]
    results = bulkload.execute_concurrent_queries(
        orders_db, pairs, concurrency=2, raise_on_first_error=False
    )
    assert [r.success for r in results] == [True, False, True]
    assert "no such column: nope" in str(results[1].result_or_exc)
    assert results[2].result_or_exc == [{"name": "n3"}]
    with pytest.raises(Exception, match="no such column"):
        bulkload.execute_concurrent_queries(orders_db, pairs, concurrency=1)


def test_a_refused_statement_fails_with_its_own_error_every_time(orders_db):
    # a statement prepared beside another on the same reader connection once lost its
    # error to the other's cursor being dropped on the loop's thread (a SystemError
    # about 1 run in 3); many runs so the race shows
    pairs = [
        ("SELECT name FROM orders WHERE id = :id", {"id": 1}),
        ("SELECT nope FROM orders WHERE id = :id", {"id": 2}),
    ]
    for _ in range(60):
        results = bulkload.execute_concurrent_queries(
            orders_db, pairs, concurrency=2, raise_on_first_error=False
        )
        assert isinstance(results[1].result_or_exc, sqlite3.OperationalError)
        assert "no such column: nope" in str(results[1].result_or_exc)


def test_postgresql_prepared_select_for_many_ids(pg):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, v text)')
    sql(f"INSERT INTO \"{schema}\".t SELECT i, 'v' || i FROM generate_series(1, 300) i")
    results = bulkload.execute_concurrent_with_args(
        dsn, f'SELECT v FROM "{schema}".t WHERE id = :id', [(i,) for i in range(1, 401)],
        concurrency=16,
    )  # fmt: skip
    assert all(r.success for r in results) and len(results) == 400
    assert [r.result_or_exc for r in results[:2]] == [[{"v": "v1"}], [{"v": "v2"}]]
    assert sum(len(r.result_or_exc) for r in results) == 300  # ids 301..400 miss


def test_postgresql_slow_queries_run_concurrency_at_a_time(pg):
    """Eight queries of 0.5 s at concurrency 4 take two rounds (~1 s), not eight (4 s),
    and never more than four run at once (the server's view, from pg_stat_activity)."""
    dsn = pg[0]
    query = (
        "SELECT count(*) AS running FROM pg_stat_activity, pg_sleep(0.5) "
        "WHERE query LIKE '%pg_sleep(0.5)%' AND state = 'active'"
    )
    started = time.monotonic()
    results = bulkload.execute_concurrent_with_args(dsn, query, [()] * 8, concurrency=4)
    elapsed = time.monotonic() - started
    assert all(r.success for r in results), results
    running = [r.result_or_exc[0]["running"] for r in results]
    assert max(running) <= 4, running
    assert elapsed < 3.0, elapsed  # 4 s one at a time; generous for a loaded machine


def test_mysql_prepared_select_for_many_ids_prepared_once_per_connection(mysql):
    """Against the throwaway MariaDB: rows in input order, misses as no rows; the
    server's own counters show each connection prepared the statement once and ran
    it once per query (server-side prepared statements, not text queries)."""
    from tests.servers.mariadb import query

    server, db = mysql
    server.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));"
        " INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_300",
        database=db,
    )

    def counters() -> dict[str, int]:
        rows = query(server, db, "SHOW GLOBAL STATUS LIKE 'Com_stmt_%'")
        return {str(name): int(value) for name, value in rows}

    before = counters()
    results = bulkload.execute_concurrent_with_args(
        server.url(db), "SELECT v FROM t WHERE id = :id", [(i,) for i in range(1, 401)],
        concurrency=4,
    )  # fmt: skip
    after = counters()
    assert all(r.success for r in results) and len(results) == 400
    assert [r.result_or_exc for r in results[:2]] == [[{"v": "v1"}], [{"v": "v2"}]]
    assert sum(len(r.result_or_exc) for r in results) == 300  # ids 301..400 miss
    assert after["Com_stmt_execute"] - before["Com_stmt_execute"] == 400
    assert 1 <= after["Com_stmt_prepare"] - before["Com_stmt_prepare"] <= 4


def test_mysql_refused_statement_is_a_result_in_place_and_a_name_twice_binds_twice(mysql):
    server, db = mysql
    server.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));"
        " INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_10",
        database=db,
    )
    pairs = [
        ("SELECT v FROM t WHERE id = :id OR id = :id + 1 ORDER BY id", {"id": 3}),
        ("SELECT nope FROM t WHERE id = :id", {"id": 2}),
        ("SELECT v FROM t WHERE id = :id", (99,)),
    ]
    results = bulkload.execute_concurrent_queries(
        server.url(db), pairs, concurrency=2, raise_on_first_error=False
    )
    assert [r.success for r in results] == [True, False, True]
    assert results[0].result_or_exc == [{"v": "v3"}, {"v": "v4"}]
    assert "(1054) Unknown column 'nope'" in str(results[1].result_or_exc)
    assert results[2].result_or_exc == []
    with pytest.raises(Exception, match="Unknown column 'nope'"):
        bulkload.execute_concurrent_queries(server.url(db), pairs, concurrency=1)
