"""``mysql://`` and ``mariadb://``: MySQL and MariaDB through asyncmy.

Rows go in with ``LOAD DATA LOCAL INFILE``, several streams at once over a pool of
connections, one InnoDB transaction per batch. The "file" is never on disk: each batch
is encoded by pyarrow into the server's CSV dialect (quoted strings with doubled quotes,
the bare word NULL for nulls, no backslash escapes) and the driver's file reader is
replaced by one that sends registered in-memory payloads only (so a server can never
ask for a file of this machine either). Measured on MariaDB 10.11: 2.3x the rows per
second of multi-row INSERTs (``--mysql-method insert``, which stays available).

With LOCAL the server turns value errors into warnings (it cannot stop the client's
stream), so after each load the warnings are read: any warning fails the batch, which
is rolled back and bisected to its bad rows like a strict-mode error of an INSERT.

Errors are classified by the server's error number: deadlocks, lock wait timeouts and
lost connections are transient; value and constraint errors are permanent; the rest is
fatal. With checkpoints on, every batch's key is written to ``_bulkload_checkpoints``
(in the target database) in the same transaction as its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncmy
import asyncmy.connection
import pyarrow as pa
import pyarrow.csv as pa_csv
from asyncmy.errors import MySQLError

from bulkload import arrow_kernels as kernels
from bulkload.backends import mysql_options, postgresql_options
from bulkload.backends.base import (
    BatchKey,
    CancelledAfterCommit,
    ErrorKind,
    TableSpec,
    finish_despite_cancel,
    mark_may_have_applied,
)
from bulkload.backends.mysql_queries import MySQLQueries
from bulkload.backends.sql import CHECKPOINT_TABLE, quote_backticks
from bulkload.config import TargetOptions
from bulkload.config.option import Option
from bulkload.errors import TargetError, TargetUnreachable, UsageError
from bulkload.phase_times import phase
from bulkload.redact import redact_text, redact_url

DEFAULT_PORT = 3306
#: asyncmy's bound on connecting (seconds); --timeout shortens it
CONNECT_TIMEOUT_S = 60.0
#: the most bytes sent in one LOAD DATA packet (the server's max_allowed_packet may be less)
LOAD_CHUNK = 1 << 20

# Server error numbers. Transient: the server or the connection, not the rows.
_TRANSIENT = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    1927,  # connection was killed (MariaDB)
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    4031,  # disconnected by the server (MySQL 8)
}
_LOST = {1053, 1927, 2006, 2013, 4031}  # the connection died: a COMMIT's outcome is unknown
# Permanent: a value or a row the table will never take.
_PERMANENT = {
    1048,  # column cannot be null
    1062,  # duplicate entry
    1264,  # out of range
    1265,  # data truncated
    1292,  # incorrect date/time/number value
    1300,  # invalid character string
    1366,  # incorrect value for column
    1367,  # illegal value
    1364,  # no default value
    1406,  # data too long
    1416,  # cannot get geometry object
    1451,  # foreign key: row is referenced
    1452,  # foreign key: parent missing
    1690,  # value out of range
    3819,  # check constraint (MySQL)
    4025,  # check constraint (MariaDB)
}
_CONNECT_REFUSED = {1044, 1045, 1049, 1698, 2003, 2005}  # denied, unknown database, no server


class RowsRefused(Exception):
    """The server refused a batch's rows: a strict-mode error of an INSERT, or a warning
    of a LOAD DATA LOCAL (where the server stores a changed value instead of refusing
    it). Says the server's message alone, for the bad-records file."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------- in-memory LOAD DATA

_PAYLOADS: dict[str, tuple[memoryview, int]] = {}  # name in the statement -> bytes, chunk
_names = itertools.count()


class _MemoryFile:
    """Takes the place of asyncmy's LoadLocalFile: sends the payload registered under
    the name the server asks for, in packets; refuses any other name (a server must not
    be able to read this machine's files)."""

    def __init__(self, filename: str | bytes, connection: Any):
        name = filename.decode() if isinstance(filename, bytes) else filename
        self.connection = connection
        self.found = _PAYLOADS.get(name)

    async def send_data(self) -> None:
        conn = self.connection
        try:
            if self.found is None:
                raise asyncmy.errors.OperationalError(1017, "refused: not a bulkload payload")
            data, chunk = self.found
            for start in range(0, len(data), chunk):
                conn.write_packet(bytes(data[start : start + chunk]))
                await conn._proto.drain()
        finally:
            conn.write_packet(b"")  # the end of the file


asyncmy.connection.LoadLocalFile = _MemoryFile  # type: ignore[assignment,misc]
# asyncmy's cursors log each warning a statement leaves (INSERT IGNORE's duplicates):
# bulkload reads the warnings it needs itself and must not print the driver's
logging.getLogger("asyncmy").setLevel(logging.ERROR)


def _loadable_column(column: pa.Array) -> pa.Array:
    """A column as the writer should spell it for the server: booleans as 1/0,
    timestamps as their UTC wall time to the microsecond; the rest as they are."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):  # Parquet's dictionary-encoded columns
        return _loadable_column(column.dictionary_decode())
    if pa.types.is_boolean(dtype):
        return kernels.cast(column, pa.int8())
    if pa.types.is_timestamp(dtype):
        return kernels.cast_unsafe(column, pa.timestamp("us"))  # tz: its UTC wall time
    return column


def load_data_payload(batch: pa.RecordBatch) -> memoryview:
    """The batch as LOAD DATA text, written by pyarrow's CSV writer (C++, one pass over
    the rows) into one buffer, sent without another copy. The writer spells numbers,
    dates and times as a cast to string does. Measured on the benchmark's 1M mixed rows,
    each batch as the reader hands it over: 0.28-0.30 s of CPU, against 0.72-0.79 s for
    building the same text with compute kernels (quote, fill nulls, join columns, join
    lines; still the way with a pyarrow older than 22, whose writer cannot spell a null
    as NULL). It needs no pyarrow.compute either (40-70 ms of start-up)."""
    if not batch.num_rows:
        return memoryview(b"")
    columns = [_loadable_column(column) for column in batch.columns]
    if not _WRITER_SPELLS_NULL:
        return _joined_payload(columns)
    # the server's CSV dialect: string values always quoted (quotes doubled), nulls as
    # the bare word NULL, a line per row, no header; the batch converted at once
    options = pa_csv.WriteOptions(
        include_header=False,
        null_string="NULL",
        quoting_style="needed",
        batch_size=batch.num_rows,
    )
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), sink, options)
    return memoryview(sink.getvalue())


def _writer_spells_null() -> bool:
    try:
        pa_csv.WriteOptions(null_string="NULL")
    except TypeError:  # pyarrow < 22
        return False
    return True


_WRITER_SPELLS_NULL = _writer_spells_null()


def _joined_payload(columns: list[pa.Array]) -> memoryview:
    """The same text built with compute kernels, for a pyarrow without the writer's
    ``null_string``: strings quoted (quotes doubled), every column cast to text, nulls
    filled with NULL, the columns and then the lines joined; the lines' data buffer is
    the payload (no copy of the joined text)."""
    import pyarrow.compute as pc  # here: 40-70 ms of start-up the writer's path does not need

    texts = []
    for column in columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            quoted = pc.replace_substring(column.cast(pa.string()), '"', '""')
            text = pc.binary_join_element_wise('"', quoted, '"', "")
        else:
            text = pc.cast(column, pa.string())
        texts.append(pc.fill_null(text, "NULL"))
    lines = pc.binary_join_element_wise(*texts, ",") if len(texts) > 1 else texts[0]
    lines = pc.binary_join_element_wise(lines, "\n", "")  # the last argument: the separator
    offsets, data = lines.buffers()[1], lines.buffers()[2]
    if data is None:
        return memoryview(b"")
    first = int.from_bytes(offsets[lines.offset * 4 : lines.offset * 4 + 4], "little", signed=True)
    end_at = (lines.offset + len(lines)) * 4
    last = int.from_bytes(offsets[end_at : end_at + 4], "little", signed=True)
    return memoryview(data)[first:last]


# ------------------------------------------------------------------------- types


def mysql_type(dtype: pa.DataType, *, key: bool = False) -> str:
    """The column type a new table gets for an Arrow type (see the docs' table)."""
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_integer(dtype):
        name = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}[dtype.bit_width]
        return f"{name} UNSIGNED" if pa.types.is_unsigned_integer(dtype) else name
    if pa.types.is_float32(dtype):
        return "FLOAT"
    if pa.types.is_floating(dtype):
        return "DOUBLE"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_timestamp(dtype):
        return "DATETIME(6)"  # with a time zone: in UTC (TIMESTAMP ends in 2038)
    if pa.types.is_time(dtype):
        return "TIME(6)"
    if pa.types.is_decimal(dtype) and dtype.precision <= 65 and dtype.scale <= 30:
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "VARBINARY(255)" if key else "LONGBLOB"
    return "VARCHAR(255)" if key else "LONGTEXT"  # a key needs a bounded type


def _loadable(schema: pa.Schema) -> bool:
    """Whether every column can go as LOAD DATA text (binary cannot: INSERT then)."""
    return not any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in schema)


# ------------------------------------------------------------------------ URL


def _connect_settings(url: str) -> dict[str, Any]:
    """asyncmy's connect() keywords from ``mysql://user:password@host:port/db?...``.

    Query keys: ``charset`` (default utf8mb4), ``unix_socket`` (or ``socket``),
    ``ssl`` / ``ssl_mode`` (disabled, required, verify_ca, verify_identity),
    ``ssl_ca``, ``ssl_cert``, ``ssl_key``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    known = {"charset", "unix_socket", "socket", "ssl", "ssl_mode", "ssl_ca", "ssl_cert", "ssl_key"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise UsageError(
            f"--to: unknown MySQL URL parameter(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise UsageError(f"--to: name the database: {redact_url(url)} needs /DATABASE")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise UsageError(f"--to: bad port in {redact_url(url)}") from None
    settings: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "database": database,
        "charset": query.get("charset") or "utf8mb4",
    }
    sock = query.get("unix_socket") or query.get("socket")
    if sock:
        settings["unix_socket"] = sock
    context = _tls(query)
    if context is not None:
        settings["ssl"] = context
    return settings


def _tls(query: dict[str, str]) -> ssl.SSLContext | None:
    mode = (query.get("ssl_mode") or query.get("ssl") or "").lower().replace("-", "_")
    if not mode:
        mode = "verify_ca" if query.get("ssl_ca") else "disabled"
    if mode in ("disabled", "false", "0", "off"):
        return None
    modes = ("required", "true", "1", "on", "verify_ca", "verify_identity")
    if mode not in modes:
        raise UsageError(
            f"--to: ssl_mode must be disabled, required, verify_ca or verify_identity, not {mode!r}"
        )
    context = ssl.create_default_context(cafile=query.get("ssl_ca") or None)
    if query.get("ssl_cert"):
        context.load_cert_chain(query["ssl_cert"], query.get("ssl_key") or None)
    if mode != "verify_identity":
        context.check_hostname = False
    if mode in ("required", "true", "1", "on"):
        context.verify_mode = ssl.CERT_NONE  # encrypted, the server not checked
    return context


def _errno(error: BaseException) -> int | None:
    if isinstance(error, MySQLError) and error.args and isinstance(error.args[0], int):
        return error.args[0]
    if isinstance(error, RowsRefused):
        return error.code
    return None


# ---------------------------------------------------------------------- backend


class MySQLBackend(MySQLQueries):
    schemes: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    own_options: ClassVar[tuple[Option, ...]] = mysql_options.OPTIONS

    def __init__(self, url: str, options: TargetOptions):
        self.url = url
        self.options = options
        own = options.own("mysql", mysql_options.MySQLOptions)
        upsert = options.own("postgresql", postgresql_options.PostgresOptions)
        self.method = own.mysql_method
        self.on_conflict = upsert.on_conflict
        self.key = upsert.key
        self.max_concurrency: int | None = options.connections
        self.accepts_text = False  # typed columns: the client converts and checks
        self._settings = _connect_settings(url)
        # as given (percent-encoded) and as sent: either may appear in a message
        self._secrets = [p for p in (self._settings["password"], urlsplit(url).password) if p]
        self._idle: list[Any] = []
        self._open: set[Any] = set()
        self._slots: asyncio.Semaphore | None = None
        self._packet = LOAD_CHUNK

    # ----------------------------------------------------------------- pool

    async def _dial(self, timeout: float, *, reads: bool = False) -> Any:
        """A connection for writes (a transaction per batch, LOAD DATA LOCAL allowed),
        or with ``reads`` one for queries (autocommit: each sees what is committed)."""
        return await asyncio.wait_for(
            asyncmy.connect(
                **self._settings,
                autocommit=reads,
                local_infile=not reads,
                connect_timeout=timeout,
                init_command="SET SESSION time_zone = '+00:00'",  # DATETIMEs hold UTC
            ),
            timeout,
        )

    async def _connect(self, timeout: float = CONNECT_TIMEOUT_S, *, reads: bool = False) -> Any:
        """A connection, or one line saying why not (opening the target)."""
        try:
            return await self._dial(timeout, reads=reads)
        except TimeoutError:
            by = " (--timeout)" if timeout < CONNECT_TIMEOUT_S else ""
            raise TargetUnreachable(
                f"{self.describe()}: no answer from {self._address()} within {timeout:g} s{by}"
            ) from None
        except MySQLError as exc:
            if _errno(exc) in _CONNECT_REFUSED:
                raise TargetUnreachable(self._cannot_connect(exc)) from None
            raise TargetError(self._cannot_connect(exc)) from None
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise TargetUnreachable(self._cannot_connect(exc)) from None
        except Exception as exc:  # another protocol: the driver fails parsing its greeting
            raise TargetUnreachable(
                f"{self.describe()}: {self._address()} does not speak the MySQL protocol "
                f"({type(exc).__name__}: {self._clean(exc)})"
            ) from None

    async def _acquire(self, *, during_write: bool = False) -> Any:
        """An idle connection, else a new one. A write's failure to connect stays the
        driver's error (a restarting server: transient, retried); elsewhere it is the
        one line of an unreachable target."""
        assert self._slots is not None, "open() was not called"
        await self._slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            dial = self._dial if during_write else self._connect
            conn = await dial(self._connect_bound)
            self._open.add(conn)
            return conn
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: Any, *, broken: bool = False) -> None:
        assert self._slots is not None
        if broken or not conn.connected:
            self._open.discard(conn)
            conn.close()  # no goodbye: the connection may be mid-protocol
        else:
            self._idle.append(conn)
        self._slots.release()

    # ----------------------------------------------------------------- protocol

    async def open(self, table: TableSpec) -> None:
        size = self.options.connections or table.writers
        self._slots = asyncio.Semaphore(size)
        self._connect_bound = min(table.connect_timeout or CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S)
        self.table = table
        self._columns = [f.name for f in table.schema]
        if self.method == "load" and not _loadable(table.schema):
            self.method = "insert"
        conn = await self._acquire()
        broken = True
        try:
            await self._prepare_table(conn, table)
            await conn.commit()
            broken = False
        except BaseException as exc:
            self._release(conn, broken=True)
            await self.close()  # the engine closes only a backend that opened
            if isinstance(exc, MySQLError):
                raise TargetError(f"{self.describe()}: {self._clean(exc)}") from None
            raise
        self._release(conn, broken=broken)

    def encode(self, batch: pa.RecordBatch) -> Any:
        with phase("encode"):
            if self.method == "insert":
                return list(zip(*(column.to_pylist() for column in batch.columns), strict=True))
            return load_data_payload(batch)

    async def write(self, payload: Any, key: BatchKey | None = None) -> None:
        conn = await self._acquire(during_write=True)
        broken = False
        try:
            try:
                # no BEGIN: a write connection runs with autocommit off, so its first
                # statement opens the batch's transaction (a round trip less per batch)
                await self._write_in(conn, payload, key)
            except BaseException as exc:
                # A cancelled statement leaves the connection mid-protocol: it is closed
                # (below) and the server rolls the transaction back.
                if not isinstance(exc, asyncio.CancelledError):
                    with contextlib.suppress(Exception):
                        await conn.rollback()
                raise
            commit = asyncio.ensure_future(conn.commit())
            try:
                await finish_despite_cancel(commit)
            except BaseException as exc:
                if _commit_unanswered(commit):
                    mark_may_have_applied(exc, again=key is None and not self.on_conflict)
                raise
        except BaseException as exc:
            if isinstance(exc, CancelledAfterCommit):
                pass
            elif isinstance(exc, asyncio.CancelledError) or (
                self.classify(exc) is not ErrorKind.PERMANENT
            ):
                broken = True
            raise
        finally:
            self._release(conn, broken=broken)

    async def _write_in(self, conn: Any, payload: Any, key: BatchKey | None) -> None:
        try:
            await self._write_rows(conn, payload, key)
        except MySQLError as exc:
            code = _errno(exc)
            if code in _PERMANENT and len(exc.args) > 1:
                raise RowsRefused(code, str(exc.args[1])) from None
            raise

    async def _write_rows(self, conn: Any, payload: Any, key: BatchKey | None) -> None:
        async with conn.cursor() as cur:
            if key is not None and not await self._record_key(cur, key):
                return  # committed before: a retry of a batch that made it
            if self.method == "insert":
                cur.max_stmt_length = self._stmt_length  # each statement fits in a packet
                await cur.executemany(self._insert_sql(), payload)
                return
        name = f"bulkload-{next(_names)}"
        _PAYLOADS[name] = (payload, self._packet)
        try:
            # on the connection, not a cursor: a cursor reads the warnings itself
            await conn.query(self._load_sql(name))
        finally:
            del _PAYLOADS[name]
        await self._check_warnings(conn)

    async def _check_warnings(self, conn: Any) -> None:
        if not conn._result.warning_count:
            return
        for level, code, message in await conn.show_warnings():
            if level == "Note":
                continue
            if self.on_conflict and int(code) == 1062:
                continue  # IGNORE/REPLACE: a duplicate is what was asked for
            raise RowsRefused(int(code), str(message))

    async def reset(self) -> None:
        conn = await self._acquire()
        broken = True
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"TRUNCATE TABLE {self._qualified}")
                await self._forget(cur)
            await conn.commit()
            broken = False
        except (OSError, MySQLError) as exc:
            raise TargetError(f"{self.describe()}: --reset: {self._clean(exc)}") from None
        finally:
            self._release(conn, broken=broken)

    async def committed_keys(self) -> list[BatchKey]:
        conn = await self._acquire()
        try:
            async with conn.cursor() as cur:
                if not await self._has_checkpoints(cur):
                    return []
                await cur.execute(
                    f"SELECT source, batch_index, row_offset, row_count, batch_size "
                    f"FROM {self._checkpoints} WHERE target_table = %s",
                    (self.table.name,),
                )
                rows = await cur.fetchall()
            await conn.commit()
        finally:
            self._release(conn)
        return [BatchKey(r[0], int(r[1]), int(r[2]), int(r[3]), _int_or_none(r[4])) for r in rows]

    async def forget_checkpoints(self, table: str) -> int:
        conn = await self._connect()
        try:
            async with conn.cursor() as cur:
                if not await self._has_checkpoints(cur):
                    return 0
                removed = await cur.execute(
                    f"DELETE FROM {self._checkpoints} WHERE target_table = %s", (table,)
                )
                await cur.execute(f"SELECT EXISTS (SELECT 1 FROM {self._checkpoints})")
                (left,) = await cur.fetchone()
                await conn.commit()
                if not left:
                    await cur.execute(f"DROP TABLE {self._checkpoints}")
                return int(removed or 0)
        finally:
            conn.close()

    async def close(self) -> None:
        await self.close_queries()
        for conn in list(self._open):
            with contextlib.suppress(Exception):
                if conn in self._idle:
                    await asyncio.wait_for(conn.ensure_closed(), 5)
            conn.close()
        self._open.clear()
        self._idle.clear()

    def classify(self, error: BaseException) -> ErrorKind:
        code = _errno(error)
        if code is not None:
            if code in _TRANSIENT:
                return ErrorKind.TRANSIENT
            if code in _PERMANENT or isinstance(error, RowsRefused):
                return ErrorKind.PERMANENT
            if code < 1000 or 2000 <= code < 3000:  # the client's own: the connection
                return ErrorKind.TRANSIENT
            return ErrorKind.FATAL
        if isinstance(error, OSError | asyncio.IncompleteReadError | TimeoutError):
            return ErrorKind.TRANSIENT
        return ErrorKind.FATAL

    def describe(self) -> str:
        return redact_url(self.url)

    # ----------------------------------------------------------------- helpers

    def _address(self) -> str:
        if "unix_socket" in self._settings:
            return str(self._settings["unix_socket"])
        return f"{self._settings['host']}:{self._settings['port']}"

    def _cannot_connect(self, error: BaseException) -> str:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else None
        if reason is None and isinstance(error, MySQLError) and len(error.args) > 1:
            reason = str(error.args[1])
        reason = self._clean(reason or error)
        return f"{self.describe()}: cannot connect to {self._address()}: {reason}"

    def _clean(self, error: BaseException | str) -> str:
        if isinstance(error, MySQLError) and len(error.args) > 1:
            text = f"({error.args[0]}) {error.args[1]}"
        else:
            text = str(error).strip()
        text = text.splitlines()[0] if text else type(error).__name__
        return redact_text(text, self._secrets)

    @property
    def _qualified(self) -> str:
        return quote_backticks(self.table.name)

    @property
    def _checkpoints(self) -> str:
        return quote_backticks(CHECKPOINT_TABLE)

    def _column_list(self) -> str:
        return ", ".join(quote_backticks(c) for c in self._columns)

    def _insert_sql(self) -> str:
        values = ", ".join(["%s"] * len(self._columns))
        sql = f"INSERT INTO {self._qualified} ({self._column_list()}) VALUES ({values})"
        updates = self._updates() if self.on_conflict == "update" else ""
        if self.on_conflict and self.key and not updates:
            # keep the row: a no-op update, not INSERT IGNORE, which would also turn
            # strict mode's value errors into warnings and store clipped values
            first = quote_backticks(self.key[0])
            updates = f"{first} = {first}"
        if self.on_conflict:
            sql += f" ON DUPLICATE KEY UPDATE {updates}"
        return sql

    def _updates(self) -> str:
        return ", ".join(
            f"{quote_backticks(c)} = VALUES({quote_backticks(c)})"
            for c in self._columns
            if c not in (self.key or ())
        )

    def _load_sql(self, name: str) -> str:
        duplicates = {"nothing": " IGNORE", "update": " REPLACE"}.get(self.on_conflict or "", "")
        return (
            f"LOAD DATA LOCAL INFILE '{name}'{duplicates} INTO TABLE {self._qualified} "
            "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
            f"ESCAPED BY '' LINES TERMINATED BY '\\n' ({self._column_list()})"
        )

    async def _exists(self, cur: Any, name: str) -> bool:
        await cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            (name,),
        )
        (count,) = await cur.fetchone()
        return bool(count)

    async def _prepare_table(self, conn: Any, table: TableSpec) -> None:
        async with conn.cursor() as cur:
            await cur.execute("SELECT @@max_allowed_packet")
            (packet,) = await cur.fetchone()
            # a LOAD DATA packet and an INSERT statement must each fit in one packet
            self._packet = max(1024, min(LOAD_CHUNK, int(packet) - 1024))
            self._stmt_length = max(1024, min(1024000, int(packet) - 4096))
            await self._check_names(table)
            exists = await self._exists(cur, table.name)
            if exists and table.if_exists == "fail":
                raise TargetError(f"table {table.name!r} already exists (--if-exists fail)")
            if exists and table.if_exists == "replace":
                await cur.execute(f"DROP TABLE {self._qualified}")
                await self._forget(cur)
                exists = False
            if exists and table.if_exists == "truncate":
                await cur.execute(f"TRUNCATE TABLE {self._qualified}")
                await self._forget(cur)
            if exists:
                await self._check_columns(cur, table)
            else:
                await self._create(cur, table)
                await self._forget(cur)
            if table.checkpoints:
                await cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._checkpoints} ("
                    "target_table VARCHAR(255) NOT NULL, source VARCHAR(300) NOT NULL,"
                    " batch_index BIGINT NOT NULL, row_offset BIGINT NOT NULL,"
                    " row_count BIGINT NOT NULL,"
                    " committed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
                    " batch_size BIGINT,"
                    " PRIMARY KEY (target_table, source, batch_index, row_offset)"
                    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
                )

    async def _check_names(self, table: TableSpec) -> None:
        """MySQL names hold at most 64 characters; the server's own refusal of a longer
        one would not say which option fixes it."""
        for name, what in [
            (table.name, "table name"),
            *((c, "column name") for c in self._columns),
        ]:
            if len(name) > 64:
                how = "--table" if what == "table name" else "--rename old=new"
                raise UsageError(
                    f"{what} {name!r} is {len(name)} characters; MySQL names hold at most "
                    f"64: choose a shorter one with {how}"
                )

    async def _create(self, cur: Any, table: TableSpec) -> None:
        keys = set(self.key or ())
        missing = [k for k in keys if k not in self._columns]
        if missing:
            raise UsageError(f"--key: no column named {', '.join(sorted(missing))}")
        columns = [
            f"{quote_backticks(f.name)} {mysql_type(f.type, key=f.name in keys)}"
            + (" NOT NULL" if f.name in keys else "")
            for f in table.schema
        ]
        if self.key:
            columns.append(f"PRIMARY KEY ({', '.join(quote_backticks(k) for k in self.key)})")
        await cur.execute(
            f"CREATE TABLE {self._qualified} ({', '.join(columns)}) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )

    async def _check_columns(self, cur: Any, table: TableSpec) -> None:
        await cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            (table.name,),
        )
        existing = {str(r[0]).lower() for r in await cur.fetchall()}  # names ignore case
        missing = [f.name for f in table.schema if f.name.lower() not in existing]
        if missing:
            raise TargetError(
                f"table {table.name!r} exists without column(s) {', '.join(missing)}; "
                "use --if-exists replace, or --select/--rename to match it"
            )

    async def _has_checkpoints(self, cur: Any) -> bool:
        return await self._exists(cur, CHECKPOINT_TABLE)

    async def _forget(self, cur: Any) -> None:
        if await self._has_checkpoints(cur):
            await cur.execute(
                f"DELETE FROM {self._checkpoints} WHERE target_table = %s", (self.table.name,)
            )

    async def _record_key(self, cur: Any, key: BatchKey) -> bool:
        inserted = await cur.execute(
            f"INSERT IGNORE INTO {self._checkpoints} "
            "(target_table, source, batch_index, row_offset, row_count, batch_size) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (self.table.name, key.source, key.index, key.offset, key.count, self.table.batch_size),
        )
        return bool(inserted)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _commit_unanswered(commit: asyncio.Future[Any]) -> bool:
    """Whether a COMMIT that failed may have committed: the connection died before its
    answer came. An error the server answered with means it rolled back."""
    if not commit.done() or commit.cancelled():
        return False
    error = commit.exception()
    if error is None:
        return False
    code = _errno(error)
    return code is None or code in _LOST or 2000 <= code < 3000
