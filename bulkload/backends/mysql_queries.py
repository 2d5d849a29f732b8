"""MySQL and MariaDB answering queries (:class:`~bulkload.backends.base.Queryable`): one
connection per query in flight, each query prepared once per connection, every row
read.

What asyncmy (0.2.13+) offers: ``Connection.prepare(sql)`` makes a server-side
prepared statement (COM_STMT_PREPARE, ``?`` placeholders) whose ``execute(values)``
sends the values in the binary protocol (no client-side escaping) and reads the whole
result set, in the binary protocol too, before it returns (``result.rows``: every
row, already read off the wire). So a query is checked by the server when it is
prepared (a bad one fails before any level runs), and each connection prepares it
once, on its first run there.
(asyncmy's cursors can also cache statements transparently, ``stmt_cache_size``, but
that path takes ``%s`` placeholders and falls back to the text protocol quietly when
the server refuses to prepare: the explicit statement says what failed.)

The connections are their own, apart from the writers' (a mixed run has both), in
autocommit mode: each query sees what writes have committed, and holds no snapshot.
They sit in a LIFO list, as PostgreSQL's do: a point lookup takes well under a
millisecond, and a pool's bookkeeping would be a large share of that."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from asyncmy.errors import MySQLError

from bulkload.backends.query import Query


class QueryRefused(Exception):
    """The server refused to prepare a query: its own message, one line."""


class PreparedMySQL:
    __slots__ = ("in_order", "order", "sql")

    def __init__(self, sql: str, order: tuple[int, ...]):
        self.sql = sql
        #: each ``?``'s value, by its index in the query's parameters (one ? per use)
        self.order = order
        #: each parameter used once, in order: the values go as given
        self.in_order = order == tuple(range(len(order)))


class _Reader:
    """One connection and the statements prepared on it, by SQL."""

    __slots__ = ("conn", "statements")

    def __init__(self, conn: Any):
        self.conn = conn
        self.statements: dict[str, Any] = {}


class MySQLQueries:
    """Mixed into MySQLBackend: its connection settings, describe() and error cleaning
    are used."""

    _readers: list[_Reader]
    _reader_idle: list[_Reader | None]  # None: a slot whose connection broke
    _reader_returned: asyncio.Event
    _reader_waiting = 0  # queries waiting for a connection (more in flight than connections)
    _reader_bound = 60.0

    def describe(self) -> str:
        raise NotImplementedError

    def _clean(self, error: BaseException | str) -> str:
        raise NotImplementedError

    async def _connect(self, timeout: float = 60.0, *, reads: bool = False) -> Any:
        raise NotImplementedError

    async def _dial(self, timeout: float, *, reads: bool = False) -> Any:
        raise NotImplementedError

    async def open_for_queries(self, *, connections: int, connect_timeout: float | None) -> None:
        self._reader_bound = min(connect_timeout or 60.0, 60.0)
        opened = await asyncio.gather(
            *(self._connect(self._reader_bound, reads=True) for _ in range(max(connections, 1))),
            return_exceptions=True,
        )
        good = [_Reader(conn) for conn in opened if not isinstance(conn, BaseException)]
        bad = [error for error in opened if isinstance(error, BaseException)]
        self._readers, self._reader_idle = good, list(good)
        self._reader_returned = asyncio.Event()
        if bad:
            await self.close_queries()
            raise bad[0]  # the one line of _connect (unreachable, refused)

    async def prepare(self, query: Query) -> PreparedMySQL:
        sql, order = query.translate("qmark")
        prepared = PreparedMySQL(sql, order)
        reader = await self._take()
        try:
            await self._statement(reader, sql)
        except MySQLError as exc:
            raise QueryRefused(self._clean(exc)) from None
        finally:
            self._give(reader)
        return prepared

    async def _statement(self, reader: _Reader, sql: str) -> Any:
        statement = reader.statements[sql] = await reader.conn.prepare(sql)
        return statement

    async def run(self, prepared: PreparedMySQL, values: tuple[Any, ...]) -> int:
        result = await self._execute(prepared, values)
        rows = result.rows
        return len(rows) if rows else 0

    async def fetch(self, prepared: PreparedMySQL, values: tuple[Any, ...]) -> list[dict[str, Any]]:
        result = await self._execute(prepared, values)
        names = [column[0] for column in result.description or ()]
        return [dict(zip(names, row, strict=True)) for row in result.rows or ()]

    async def _execute(self, prepared: PreparedMySQL, values: tuple[Any, ...]) -> Any:
        if not prepared.in_order:  # a name used twice: its value twice
            values = tuple(values[i] for i in prepared.order)
        idle = self._reader_idle
        reader = idle[-1] if idle else None
        if reader is None:  # none idle, or a broken connection's slot: wait, or dial
            reader = await self._take()
        else:
            idle.pop()
        back: _Reader | None = reader
        try:
            statement = reader.statements.get(prepared.sql)
            if statement is None:
                statement = await self._statement(reader, prepared.sql)
            return await statement.execute(values)
        except BaseException as exc:
            # lost, or cancelled with its answer unread: the slot gets a new connection
            if isinstance(exc, asyncio.CancelledError) or not reader.conn.connected:
                self._drop(reader)
                back = None
            raise
        finally:
            self._give(back)

    async def _take(self) -> _Reader:
        self._reader_waiting += 1
        try:
            while not self._reader_idle:
                self._reader_returned.clear()
                await self._reader_returned.wait()
        finally:
            self._reader_waiting -= 1
        reader = self._reader_idle.pop()
        if reader is None:  # the slot of a broken connection: dial its successor
            try:
                reader = _Reader(await self._dial(self._reader_bound, reads=True))
            except BaseException:
                self._give(None)
                raise
            self._readers.append(reader)
        return reader

    def _give(self, reader: _Reader | None) -> None:
        self._reader_idle.append(reader)
        if self._reader_waiting:
            self._reader_returned.set()

    def _drop(self, reader: _Reader) -> None:
        with contextlib.suppress(ValueError):
            self._readers.remove(reader)
        reader.conn.close()

    async def close_queries(self) -> None:
        readers = getattr(self, "_readers", [])
        self._readers, self._reader_idle = [], []
        await asyncio.gather(*(self._quit(reader) for reader in readers))

    @staticmethod
    async def _quit(reader: _Reader) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.conn.ensure_closed(), 5)
        reader.conn.close()
