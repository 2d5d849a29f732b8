"""The MySQL backend answering queries, driven directly against the throwaway MariaDB:
a connection the server kills fails the query that was on it, and the next query on
that slot gets a new connection (prepared afresh there)."""

from __future__ import annotations

import asyncmy
import pytest

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.backends.base import Queryable
from bulkload.backends.query import Query
from bulkload.config import TargetOptions
from bulkload.errors import TargetUnreachable
from tests.servers.fixtures import free_port
from tests.servers.mariadb import USER


def test_a_killed_connection_fails_its_query_and_is_replaced(mysql):
    server, db = mysql
    server.sql(
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_5",
        database=db,
    )
    backend = create_backend(TargetOptions(url=server.url(db)))
    assert isinstance(backend, Queryable)

    async def go() -> tuple[list[int], list[BaseException], list[int]]:
        await backend.open_for_queries(connections=2, connect_timeout=10)
        try:
            prepared = await backend.prepare(Query("SELECT id FROM t WHERE id <= :n"))
            before = [await backend.run(prepared, (n,)) for n in (1, 3)]
            ids = server.sql(
                "SELECT id FROM information_schema.processlist "
                f"WHERE user = '{USER}' AND db = '{db}'"
            )
            for (thread,) in ids:
                server.sql(f"KILL {thread}")
            failed: list[BaseException] = []
            after: list[int] = []
            for n in (2, 4, 5, 5):
                try:
                    after.append(await backend.run(prepared, (n,)))
                except asyncmy.errors.MySQLError as exc:
                    failed.append(exc)
            return before, failed, after
        finally:
            await backend.close()

    before, failed, after = event_loop.run(go())
    assert before == [1, 3]
    assert 1 <= len(failed) <= 2  # each killed connection fails the query sent on it once
    assert after[-(4 - len(failed)) :] == [2, 4, 5, 5][len(failed) :]


def test_connecting_to_nothing_is_one_line():
    backend = create_backend(TargetOptions(url=f"mysql://u:pw@127.0.0.1:{free_port()}/db"))
    assert isinstance(backend, Queryable)

    async def go() -> None:
        await backend.open_for_queries(connections=3, connect_timeout=5)

    with pytest.raises(TargetUnreachable, match=r"cannot connect to 127\.0\.0\.1:\d+"):
        event_loop.run(go())
