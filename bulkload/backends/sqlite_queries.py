"""SQLite answering queries (:class:`~bulkload.backends.base.Queryable`): concurrent
readers, one connection per reader thread, the database in WAL mode so readers never
wait for each other (nor for a writer). SQLite itself runs a statement without Python's
lock, so a read sweep scales with concurrency, as writes (one writer at a time) cannot.
Statements are compiled once per connection (the sqlite3 module's statement cache)."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bulkload.backends.query import Query
from bulkload.errors import TargetUnreachable

if TYPE_CHECKING:
    import sqlite3

#: said with a read sweep's results: reads scale, writes do not
SINGLE_WRITER_NOTE = (
    "SQLite readers ran on one connection per thread (WAL mode); SQLite writes stay "
    "single-writer, so write and mixed sweeps do not scale the same way"
)


class PreparedSqlite:
    __slots__ = ("order", "sql")

    def __init__(self, sql: str, order: tuple[int, ...]):
        self.sql = sql
        #: each placeholder's value, by its index in the query's parameters (? per use)
        self.order = order


class SQLiteReaders:
    """Mixed into SQLiteBackend: its path and describe() are used."""

    path: str
    query_note = SINGLE_WRITER_NOTE
    _readers: ThreadPoolExecutor | None = None

    def describe(self) -> str:
        raise NotImplementedError

    async def open_for_queries(self, *, connections: int, connect_timeout: float | None) -> None:
        if not os.path.isfile(self.path):
            raise TargetUnreachable(f"{self.describe()}: {self.path} does not exist")
        self._reader_local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(
            max_workers=max(connections, 1), thread_name_prefix="sqlite-reader"
        )
        await self._in_reader(self._wal)

    def _wal(self) -> None:
        conn = self._reader_connection()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")

    async def prepare(self, query: Query) -> PreparedSqlite:
        sql, order = query.translate("qmark")
        await self._in_reader(self._compile, sql, len(order))
        return PreparedSqlite(sql, order)

    def _compile(self, sql: str, placeholders: int) -> None:
        # compiled without running: EXPLAIN with every placeholder bound to NULL. The
        # cursor is closed here, on its connection's thread: dropped on the event loop's
        # thread instead, its statement's reset could land while this connection's
        # thread prepares another statement and clear that one's error (CPython's
        # sqlite3 then raises "SystemError: ... returned NULL without setting an
        # exception" in place of the real error)
        self._reader_connection().execute(f"EXPLAIN {sql}", [None] * placeholders).close()

    async def run(self, prepared: PreparedSqlite, values: tuple[Any, ...]) -> int:
        order = prepared.order
        bound = (
            values
            if len(order) == len(values) and order == tuple(range(len(order)))
            else tuple(values[i] for i in order)
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, prepared.sql, bound)

    async def fetch(
        self, prepared: PreparedSqlite, values: tuple[Any, ...]
    ) -> list[dict[str, Any]]:
        bound = tuple(values[i] for i in prepared.order)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._rows, prepared.sql, bound)

    def _rows(self, sql: str, values: tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = self._reader_connection().execute(sql, values)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _read(self, sql: str, values: tuple[Any, ...]) -> int:
        return len(self._reader_connection().execute(sql, values).fetchall())

    def _reader_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None:
            import sqlite3  # only runs that query load it: 5-13 ms of start-up

            conn = sqlite3.connect(
                self.path, timeout=5.0, check_same_thread=False, cached_statements=256
            )
            self._reader_local.conn = conn
            with self._reader_lock:
                self._reader_connections.append(conn)
        return conn

    async def _in_reader(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, fn, *args)

    async def close_queries(self) -> None:
        readers, self._readers = self._readers, None
        if readers is None:
            return
        readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_connections:
                conn.close()
            self._reader_connections.clear()
