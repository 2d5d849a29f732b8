"""``sqlite:///path.db``: the embedded default target.

SQLite takes one writer at a time, so every write runs on one dedicated thread and the
engine is told ``max_concurrency = 1``; reading and typing still run ahead in parallel.
Rows go in through the Arrow ADBC SQLite driver, which binds Arrow columns to a prepared
INSERT in C without the GIL: measured 2.3x faster than building Python rows for apsw's
multi-row INSERTs (0.96 s vs 2.26 s of CPU for 1M rows), and the reader keeps parsing
meanwhile. One transaction per batch.

Only this one SQLite library touches the file: two copies of SQLite in one process would
not see each other's POSIX locks (https://www.sqlite.org/howtocorrupt.html, 2.2.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import re
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import adbc_driver_manager as adbc
import adbc_driver_sqlite as adbc_sqlite
import pyarrow as pa

from bulkload import arrow_kernels as kernels
from bulkload.backends import sqlite_options
from bulkload.backends.base import BatchKey, ErrorKind, TableSpec, finish_despite_cancel
from bulkload.backends.sql import CHECKPOINT_TABLE, quote_identifier
from bulkload.backends.sqlite_queries import SQLiteReaders
from bulkload.config import TargetOptions
from bulkload.config.option import Option
from bulkload.errors import TargetError, TargetUnreachable, UsageError
from bulkload.phase_times import phase

# "INTERNAL: failed to execute: NOT NULL constraint failed: t.v" and
# "IO: [SQLite] Failed to prepare query: file is not a database" -> the SQLite part
_DRIVER_PREFIX = re.compile(
    r"^(?:[A-Z_]+: )?(?:\[SQLite\] )?(?:failed to [a-z ]+: )?", re.IGNORECASE
)

# The driver reports SQLite's result codes only in its messages.
_TRANSIENT_MESSAGES = ("database is locked", "database table is locked", "interrupted")
_PERMANENT_MESSAGES = ("constraint failed", "datatype mismatch", "too big", "out of range")

# Which batches are committed, written in the same transaction as their rows, so a
# resumed run (--checkpoint/--resume) loads every row exactly once.
CHECKPOINT_DDL = f"""CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (
    target_table TEXT NOT NULL,
    source TEXT NOT NULL,
    batch_index INTEGER NOT NULL,
    row_offset INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    committed_at TEXT NOT NULL,
    batch_size INTEGER,
    PRIMARY KEY (target_table, source, batch_index, row_offset)
)"""


def sqlite_type(dtype: pa.DataType) -> str:
    """Declared column type. Dates and times are ISO-8601 text; decimals are text so
    their digits survive exactly (a NUMERIC column would turn 12.50 into a float)."""
    if pa.types.is_integer(dtype) or pa.types.is_duration(dtype):
        return "INTEGER"
    if pa.types.is_floating(dtype):
        return "REAL"
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "BLOB"
    return "TEXT"


def check_storable(schema: pa.Schema) -> None:
    """Nested columns (lists, structs, maps) have no SQLite form: say so before loading."""
    for field in schema:
        if pa.types.is_nested(field.type):
            raise UsageError(
                f"column {field.name!r} has type {field.type}, which SQLite cannot store; "
                "leave it out with --select"
            )


def bindable(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every column in a form the driver binds as SQLite stores it:
    numbers, booleans (0/1), text and blobs as they are; dates, times, timestamps and
    decimals as ISO-8601 / exact text."""
    columns = [_bindable_column(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _bindable_column(column: pa.Array) -> pa.Array:
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        return _bindable_column(column.dictionary_decode())
    if pa.types.is_timestamp(dtype):
        return timestamp_text(column)
    if pa.types.is_uint64(dtype):
        return kernels.cast(column, pa.int64())  # SQLite integers are signed: refuse overflow
    if pa.types.is_float16(dtype):
        return kernels.cast(column, pa.float64())
    if pa.types.is_date(dtype) or pa.types.is_decimal(dtype) or pa.types.is_time(dtype):
        return kernels.cast(column, pa.string())
    if pa.types.is_duration(dtype):
        return kernels.cast(column, pa.int64())  # in the column's unit, as Parquet stores it
    return column


def timestamp_text(column: pa.Array) -> pa.Array:
    """ISO-8601 text: "2024-01-02 03:04:05", with ".123456" only when there is a fraction
    and "Z" for UTC columns. Casts and a select: 7x faster than a regex rewrite; a batch
    of whole seconds only (the usual CSV) skips the fractional text and the select."""
    tz = column.type.tz
    micros = kernels.cast(column, pa.timestamp("us", tz))
    ticks = kernels.cast(micros, pa.int64())
    # integer division truncates, so this holds exactly for whole seconds, before 1970 too
    million = kernels.int64_scalar(1_000_000)
    whole = kernels.call(
        "equal", ticks, kernels.call("multiply", kernels.call("divide", ticks, million), million)
    )
    seconds = kernels.cast(kernels.cast_unsafe(micros, pa.timestamp("s", tz)), pa.string())
    if whole.false_count == 0:  # nulls stay null in the seconds' text too
        return seconds
    return kernels.call("if_else", whole, seconds, kernels.cast(micros, pa.string()))


class SQLiteBackend(SQLiteReaders):
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    # its own options, declared in sqlite_options.py (read by --help without the driver)
    own_options: ClassVar[tuple[Option, ...]] = sqlite_options.OPTIONS
    max_concurrency: int | None = 1
    accepts_text = False
    busy_timeout_ms = 5000  # how long a write waits for another writer's lock

    def __init__(self, url: str, options: TargetOptions):
        parts = urlsplit(url)
        path = unquote(parts.path)
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"
        self.path = path[1:] if path.startswith("/") else path
        if parts.netloc or not self.path:
            raise UsageError(
                f"--to: SQLite URLs look like sqlite:///relative.db or sqlite:////abs.db, "
                f"not {url!r}"
            )
        self.wal = options.own("sqlite", sqlite_options.SQLiteOptions).wal
        self.build_new_aside = options.build_new_aside
        self._building: str | None = None  # the temporary file while a new one is built
        self._table_spec: TableSpec | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: _Connection | None = None
        self._table = ""

    # ----------------------------------------------------------------- protocol

    async def open(self, table: TableSpec) -> None:
        check_storable(table.schema)
        await self._run(self._open, table)

    def encode(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        with phase("encode"):
            return bindable(batch)

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        loop = asyncio.get_running_loop()
        # The driver cannot interrupt a statement, and a batch takes milliseconds: a
        # cancelled write is let finish, and reports whether it committed.
        await finish_despite_cancel(loop.run_in_executor(self._executor, self._write, payload, key))

    async def reset(self) -> None:
        await self._run(self._reset)

    def _reset(self) -> None:
        conn = self._connection
        assert conn is not None, "open() was not called"
        conn.run(f"DELETE FROM {quote_identifier(self._table)}")
        self._forget_checkpoints(conn)

    async def committed_keys(self) -> list[BatchKey]:
        return list(await self._run(self._committed_keys))

    async def forget_checkpoints(self, table: str) -> int:
        return int(await self._run(self._forget_checkpoints_of, table))

    def _forget_checkpoints_of(self, table: str) -> int:
        if not os.path.exists(self.path):
            return 0
        with _Connection(self.path, self.busy_timeout_ms) as conn:
            if not self._has_checkpoint_table(conn):
                return 0
            removed = conn.rows(
                f"DELETE FROM {CHECKPOINT_TABLE} WHERE target_table = ? RETURNING 1", (table,)
            )
            if not conn.rows(f"SELECT 1 FROM {CHECKPOINT_TABLE} LIMIT 1"):
                conn.run(f"DROP TABLE {CHECKPOINT_TABLE}")
            return len(removed)

    async def close(self) -> None:
        await self.close_queries()
        try:
            if self._connection is not None:
                await self._run(self._close_connection)
        finally:
            self._executor.shutdown(wait=True)
            # a fresh (idle, threadless) pool: the library may open this backend again
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    def classify(self, error: BaseException) -> ErrorKind:
        if isinstance(error, SQLiteError):
            message = str(error)
            if any(text in message for text in _TRANSIENT_MESSAGES):
                return ErrorKind.TRANSIENT
            if any(text in message for text in _PERMANENT_MESSAGES):
                return ErrorKind.PERMANENT
        return ErrorKind.FATAL

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    # ----------------------------------------------------------------- writer thread

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _open(self, table: TableSpec) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise TargetUnreachable(f"{self.describe()}: directory {directory} does not exist")
        if os.path.isdir(self.path):  # SQLite would say "failed to allocate memory"
            raise TargetError(f"{self.describe()}: {self.path} is a directory, not a database")
        self._check_writable(directory)
        building = self.build_new_aside and not os.path.exists(self.path)
        path = self._aside_path() if building else self.path
        try:
            conn = _Connection(path, self.busy_timeout_ms)
        except adbc.Error as exc:
            raise TargetError(f"{self.describe()}: {_message(exc)}") from None
        try:
            if self.wal and not building:
                conn.rows("PRAGMA journal_mode=WAL")
                conn.run("PRAGMA synchronous=NORMAL")
            else:
                # Fast (no journal file, no syncs), and a crash mid-run can corrupt the
                # file: --no-wal's documented trade-off, and harmless for a file built
                # aside, which is not the database until close() renames it into place.
                conn.rows("PRAGMA journal_mode=MEMORY")
                conn.run("PRAGMA synchronous=OFF")
            self._prepare_table(conn, table)
        except BaseException as exc:
            conn.close()
            if building:
                os.unlink(path)
            if isinstance(exc, adbc.Error):
                raise TargetError(f"{self.describe()}: {_message(exc)}") from None
            raise
        self._connection = conn
        self._building = path if building else None
        self._table_spec = table

    # ----------------------------------------------------------------- a new file built aside

    def _aside_path(self) -> str:
        """A hidden name beside the database, so the final rename stays on one file system:
        ``.NAME.bulkload-HOST-PID.tmp``. Files of that form left by crashed runs on this
        host (their process is gone) are removed first; another host's are left alone."""
        directory, name = os.path.split(os.path.abspath(self.path))
        prefix = f".{name}.bulkload-{_HOST}-"
        for stale in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*.tmp")):
            pid = stale[len(os.path.join(directory, prefix)) : -len(".tmp")]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
        path = os.path.join(directory, f"{prefix}{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by an earlier run that had this process id and crashed
        return path

    def _close_connection(self) -> None:
        conn, built = self._connection, self._building
        assert conn is not None
        self._connection, self._building = None, None
        if built is None:
            conn.close()
            return
        try:
            if self.wal:  # the journal mode the database keeps, as --wal promises
                conn.rows("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        try:
            self._publish(built)
        except OSError as exc:
            raise TargetError(
                f"{self.describe()}: cannot put the new database in place "
                f"({exc.strerror or exc}); the loaded rows are in {built}"
            ) from None

    def _publish(self, built: str) -> None:
        """Put the file built aside in place: synced (it was written without syncs), then
        linked under the database's name only if nothing took that name meanwhile."""
        with open(built, "rb") as file:
            os.fsync(file.fileno())
        try:
            os.link(built, self.path)
        except FileExistsError:  # another process created the database while we built
            self._copy_into_existing(built)
        except OSError:  # a file system without hard links
            if os.path.exists(self.path):
                self._copy_into_existing(built)
            else:
                os.replace(built, self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(built)
        directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(directory)  # the new name survives a crash from now on
        finally:
            os.close(directory)

    def _copy_into_existing(self, built: str) -> None:
        """The rows built aside go into the database that appeared meanwhile, in one
        transaction, as if this run had written there (--if-exists applies)."""
        table = self._table_spec
        assert table is not None
        try:
            with _Connection(self.path, self.busy_timeout_ms) as conn:
                if self.wal:
                    conn.rows("PRAGMA journal_mode=WAL")
                conn.run("ATTACH DATABASE ? AS built", (built,))
                conn.run("BEGIN IMMEDIATE")
                try:
                    self._prepare_table(conn, table)
                    name = quote_identifier(table.name)
                    columns = ", ".join(quote_identifier(f.name) for f in table.schema)
                    conn.run(
                        f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM built.{name}"
                    )
                    conn.run("COMMIT")
                except BaseException:
                    conn.rollback_if_open()
                    raise
                conn.run("DETACH DATABASE built")
        except (adbc.Error, TargetError) as exc:
            message = _message(exc) if isinstance(exc, adbc.Error) else str(exc)
            raise TargetError(
                f"{self.describe()}: the database was created by another process during the "
                f"run, and the loaded rows could not be added to it ({message}); they are "
                f"in {built}"
            ) from None

    def _check_writable(self, directory: str) -> None:
        """Say what is not writable: SQLite reports "failed to allocate memory" or
        "attempt to write a readonly database" instead. access() answers for this
        process as the kernel would (root passes, unless the file system is read-only)."""
        exists = os.path.exists(self.path)
        if exists and not os.access(self.path, os.W_OK):
            raise TargetError(f"{self.describe()}: database file {self.path} is read-only")
        if os.access(directory, os.W_OK | os.X_OK):
            return
        if not exists:
            raise TargetError(
                f"{self.describe()}: directory {directory} is not writable "
                "(the database file cannot be created there)"
            )
        if self.wal:  # the -wal and -shm files go beside the database
            raise TargetError(
                f"{self.describe()}: directory {directory} is not writable, and WAL mode "
                "creates files beside the database (--no-wal does not)"
            )

    # ----------------------------------------------------------------- checkpoints

    def _record_key(self, conn: _Connection, key: BatchKey) -> bool:
        """Record the key inside the open transaction; False if it was already there."""
        conn.run(CHECKPOINT_DDL)
        batch_size = self._table_spec.batch_size if self._table_spec else None
        inserted = conn.rows(
            f"INSERT OR IGNORE INTO {CHECKPOINT_TABLE} (target_table, source, batch_index, "
            "row_offset, row_count, committed_at, batch_size) "
            "VALUES (?, ?, ?, ?, ?, datetime('now'), ?) RETURNING 1",
            (self._table, key.source, key.index, key.offset, key.count, batch_size),
        )
        return bool(inserted)

    def _prepare_checkpoints(self, conn: _Connection) -> None:
        """The bookkeeping table, with the batch_size column a table made by an earlier
        version lacks (its keys then read back with no batch size)."""
        conn.run(CHECKPOINT_DDL)
        columns = [row[1] for row in conn.rows(f"PRAGMA table_info({CHECKPOINT_TABLE})")]
        if "batch_size" not in columns:
            try:
                conn.run(f"ALTER TABLE {CHECKPOINT_TABLE} ADD COLUMN batch_size INTEGER")
            except adbc.Error as exc:  # another process of the run added it first
                if "duplicate column" not in str(exc):
                    raise

    def _committed_keys(self) -> list[BatchKey]:
        conn = self._connection
        assert conn is not None
        if not self._has_checkpoint_table(conn):
            return []
        rows = conn.rows(
            f"SELECT source, batch_index, row_offset, row_count, batch_size "
            f"FROM {CHECKPOINT_TABLE} WHERE target_table = ?",
            (self._table,),
        )
        return [BatchKey(*row) for row in rows]

    def _has_checkpoint_table(self, conn: _Connection) -> bool:
        found = conn.rows(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (CHECKPOINT_TABLE,)
        )
        return bool(found)

    def _forget_checkpoints(self, conn: _Connection) -> None:
        if self._has_checkpoint_table(conn):
            conn.run(f"DELETE FROM {CHECKPOINT_TABLE} WHERE target_table = ?", (self._table,))

    def _prepare_table(self, conn: _Connection, table: TableSpec) -> None:
        self._table = table.name
        name = quote_identifier(table.name)
        existing = [row[1] for row in conn.rows(f"PRAGMA table_info({name})")]
        if existing and table.if_exists == "fail":
            raise TargetError(f"table {table.name!r} already exists (--if-exists fail)")
        if existing and table.if_exists == "replace":
            conn.run(f"DROP TABLE {name}")
            self._forget_checkpoints(conn)
            existing = []
        if existing and table.if_exists == "truncate":
            conn.run(f"DELETE FROM {name}")
            self._forget_checkpoints(conn)
        if existing:
            missing = [f.name for f in table.schema if f.name not in existing]
            if missing:
                raise TargetError(
                    f"table {table.name!r} exists without column(s) {', '.join(missing)}; "
                    "use --if-exists replace, or --select/--rename to match it"
                )
        else:
            columns = ", ".join(
                f"{quote_identifier(f.name)} {sqlite_type(f.type)}" for f in table.schema
            )
            conn.run(f"CREATE TABLE {name} ({columns})")
            # Keys left by a load into a table of this name dropped since describe no
            # row here: kept, they would pass this load's batches over as committed.
            self._forget_checkpoints(conn)
        if table.checkpoints:
            self._prepare_checkpoints(conn)

    def _write(self, batch: pa.RecordBatch, key: BatchKey | None) -> None:
        with phase("write"):
            conn = self._connection
            assert conn is not None, "open() was not called"
            try:
                conn.run("BEGIN IMMEDIATE")
                if key is not None and not self._record_key(conn, key):
                    conn.run("ROLLBACK")  # committed before: a retry of a batch that made it
                    return
                conn.insert(self._table, batch)
                conn.run("COMMIT")
            except BaseException as exc:
                conn.rollback_if_open()
                if isinstance(exc, adbc.Error):
                    raise SQLiteError(_message(exc)) from exc
                raise


_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _one_value(value: Any) -> pa.Array:
    """A parameter as an array of one value, built from its bytes: pa.array([value])
    imports pandas whenever it is installed (pyarrow checks for pandas' types), 0.3 s
    of start-up before the first row."""
    if value is None:
        return pa.nulls(1)
    if isinstance(value, bool):
        return pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(bytes([value]))])
    if isinstance(value, int):
        return pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(struct.pack("<q", value))])
    if isinstance(value, float):
        return pa.Array.from_buffers(
            pa.float64(), 1, [None, pa.py_buffer(struct.pack("<d", value))]
        )
    data = value.encode() if isinstance(value, str) else bytes(value)
    kind = pa.string() if isinstance(value, str) else pa.binary()
    offsets = pa.py_buffer(struct.pack("<ii", 0, len(data)))
    return pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(data)])


def _open_database(path: str) -> adbc.AdbcDatabase:
    """The driver's connect() finds the library its wheel bundles through
    importlib.resources, 5-10 ms of imports before the first row: looked up directly
    (the same name on every platform), with connect() left for other installs."""
    bundled = os.path.join(os.path.dirname(adbc_sqlite.__file__), "libadbc_driver_sqlite.so")
    if os.path.isfile(bundled):
        return adbc.AdbcDatabase(driver=bundled, uri=path)
    return adbc_sqlite.connect(path)


class SQLiteError(Exception):
    """A failed write, with SQLite's own message (the driver's prefixes removed)."""


class _Connection:
    """One connection through ADBC's low-level API (its DB-API layer imports polars,
    80 ms of start-up for nothing), in autocommit mode with transactions spelled out in
    SQL, and every statement run to completion and closed (an open one holds a lock)."""

    def __init__(self, path: str, busy_timeout_ms: int):
        self._database = _open_database(path)
        self._connection = adbc.AdbcConnection(self._database)
        self.run(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")

    def run(self, sql: str, parameters: tuple[Any, ...] | None = None) -> None:
        with self._statement(sql, parameters) as statement:
            statement.execute_update()

    def rows(self, sql: str, parameters: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        with self._statement(sql, parameters) as statement:
            stream, _ = statement.execute_query()
            table = pa.RecordBatchReader.from_stream(stream).read_all()
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def insert(self, table: str, batch: pa.RecordBatch) -> None:
        """Every row of the batch through one prepared INSERT. The driver's ingest mode
        binds the same values but costs 11-13% more CPU per row (0.78 s vs 0.69 s for
        1M rows of the benchmark's data), for the same stored values and types."""
        columns = ", ".join(quote_identifier(name) for name in batch.schema.names)
        marks = ", ".join("?" * batch.num_columns)
        sql = f"INSERT INTO {quote_identifier(table)} ({columns}) VALUES ({marks})"
        with contextlib.closing(adbc.AdbcStatement(self._connection)) as statement:
            statement.set_sql_query(sql)
            schema, array = batch.__arrow_c_array__()
            statement.bind(array, schema)
            statement.execute_update()  # binds and steps in C, without the GIL

    def _statement(
        self, sql: str, parameters: tuple[Any, ...] | None
    ) -> contextlib.closing[adbc.AdbcStatement]:
        statement = adbc.AdbcStatement(self._connection)
        statement.set_sql_query(sql)
        if parameters is not None:
            values = pa.record_batch(
                [_one_value(value) for value in parameters],
                names=list(map(str, range(len(parameters)))),
            )
            schema, array = values.__arrow_c_array__()
            statement.bind(array, schema)
        return contextlib.closing(statement)

    def rollback_if_open(self) -> None:
        with contextlib.suppress(adbc.Error):  # none was open
            self.run("ROLLBACK")

    def close(self) -> None:
        self._connection.close()
        self._database.close()

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(error: BaseException) -> str:
    """SQLite's message, without the driver's status prefix and echoed query."""
    lines = str(error).strip().splitlines()
    return _DRIVER_PREFIX.sub("", lines[0]) if lines else type(error).__name__
