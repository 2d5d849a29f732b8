"""PostgreSQL answering queries (:class:`~bulkload.backends.base.Queryable`): one
connection per query in flight, each query prepared once per connection (asyncpg
prepared statements), every row fetched and decoded.

``run`` executes through the connection's protocol (``bind_execute``, what
``PreparedStatement.fetch`` calls under its checks and wrappers): the same Bind/Execute
round trip, rows decoded into records alike, cancellation handled by the protocol, ~3 µs
less client CPU a query (a fifth of asyncpg's share of a query).

The connections are held in a plain LIFO list rather than asyncpg's pool: a lookup
takes tens of microseconds, and the pool's acquire/release bookkeeping was a large
share of that."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bulkload.backends.query import Query
from bulkload.errors import TargetUnreachable


class PreparedPg:
    __slots__ = ("bound", "sql", "statements")

    def __init__(self, sql: str):
        self.sql = sql
        #: the statement prepared on each connection, by the connection's id
        self.statements: dict[int, asyncpg.prepared_stmt.PreparedStatement] = {}
        #: by the connection's id: its protocol and the statement's state, for ``run``
        self.bound: dict[int, tuple[Any, Any]] = {}


class PostgresQueries:
    """Mixed into PostgresBackend: its URL, describe() and error cleaning are used."""

    url: str
    _idle: list[asyncpg.Connection]
    _all: list[asyncpg.Connection]
    _returned: asyncio.Event
    _waiting = 0  # queries waiting for a connection (more in flight than connections)

    def describe(self) -> str:
        raise NotImplementedError

    def _cannot_connect(self, error: BaseException) -> str:
        raise NotImplementedError

    async def open_for_queries(self, *, connections: int, connect_timeout: float | None) -> None:
        bound = connect_timeout or 60.0
        try:
            opened = await asyncio.gather(
                *(
                    asyncpg.connect(
                        self.url,
                        timeout=bound,
                        server_settings={"application_name": "bulkload"},
                    )
                    for _ in range(max(connections, 1))
                ),
                return_exceptions=True,
            )
        except TimeoutError:
            raise TargetUnreachable(f"{self.describe()}: no answer within {bound:g} s") from None
        good = [conn for conn in opened if isinstance(conn, asyncpg.Connection)]
        bad = [error for error in opened if isinstance(error, BaseException)]
        self._all, self._idle, self._returned = good, list(good), asyncio.Event()
        if bad:
            await self.close_queries()
            raise TargetUnreachable(self._cannot_connect(bad[0])) from None

    async def prepare(self, query: Query) -> PreparedPg:
        sql, _ = query.translate("dollar")
        conn = await self._take()
        try:
            prepared = PreparedPg(sql)
            prepared.statements[id(conn)] = await conn.prepare(sql)
            return prepared
        finally:
            self._give(conn)

    async def fetch(self, prepared: PreparedPg, values: tuple[Any, ...]) -> list[dict[str, Any]]:
        conn = await self._take()
        try:
            statement = prepared.statements.get(id(conn))
            if statement is None:
                statement = prepared.statements[id(conn)] = await conn.prepare(prepared.sql)
            return [dict(row) for row in await statement.fetch(*values)]
        finally:
            self._give(conn)

    async def run(self, prepared: PreparedPg, values: tuple[Any, ...]) -> int:
        idle = self._idle
        conn = idle.pop() if idle else await self._take()
        try:
            bound = prepared.bound.get(id(conn))
            if bound is None:
                bound = await self._bind(prepared, conn)
            protocol, state = bound
            # limit 0 (every row), no status: the records, each row's values decoded
            rows = await protocol.bind_execute(state, values, "", 0, False, None)
        except asyncpg.exceptions.OutdatedSchemaCacheError:
            # as PreparedStatement.fetch does: the types changed under the statement
            prepared.bound.pop(id(conn), None)
            prepared.statements.pop(id(conn), None)
            await conn.reload_schema_state()
            raise
        finally:
            idle.append(conn)
            if self._waiting:
                self._returned.set()
        return len(rows)

    @staticmethod
    async def _bind(prepared: PreparedPg, conn: asyncpg.Connection) -> tuple[Any, Any]:
        statement = prepared.statements.get(id(conn))
        if statement is None:
            statement = prepared.statements[id(conn)] = await conn.prepare(prepared.sql)
        bound = prepared.bound[id(conn)] = (conn._protocol, statement._state)
        return bound

    async def _take(self) -> asyncpg.Connection:
        self._waiting += 1
        try:
            while not self._idle:
                self._returned.clear()
                await self._returned.wait()
        finally:
            self._waiting -= 1
        return self._idle.pop()

    def _give(self, conn: asyncpg.Connection) -> None:
        self._idle.append(conn)
        if self._waiting:
            self._returned.set()

    async def close_queries(self) -> None:
        connections, self._all, self._idle = getattr(self, "_all", []), [], []
        await asyncio.gather(
            *(conn.close(timeout=5) for conn in connections), return_exceptions=True
        )
