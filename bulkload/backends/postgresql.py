"""``postgresql://`` (and ``postgres://``): PostgreSQL through asyncpg.

Rows go in with ``COPY ... FROM STDIN``, several streams at once over a pool of
connections, one transaction per batch. The default format is PostgreSQL's binary one,
encoded from Arrow by pgpq (Rust) on the reader thread: the server then parses no text,
which halves its work against CSV (measured: 1.2 s vs 2.1 s for 1M rows on 2 streams).
``--pg-format csv`` sends the source's CSV text as read instead (pyarrow's C++ writer),
and the server converts each value; binary falls back to CSV where pgpq cannot encode a
type or an existing table's column types differ from what binary would send.
``--pg-method insert`` uses INSERT instead; ``--on-conflict nothing|update --key a,b``
upserts through a temporary staging table.

Errors are classified by SQLSTATE: connection loss, admin shutdown, serialization
failures, deadlocks and too many connections are transient (the pool reconnects); data
errors (class 22) and constraint violations (class 23) are permanent, so the engine
bisects the batch down to the bad rows.

With checkpoints on, every batch's key is written to ``_bulkload_checkpoints`` (in the
target schema) in the same transaction as its rows, so a resumed or retried batch is
never loaded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, ClassVar
from urllib.parse import urlsplit

import asyncpg
import pyarrow as pa
import pyarrow.csv as pacsv
from pgpq import ArrowToPostgresBinaryEncoder

from bulkload.backends import postgresql_options
from bulkload.backends.base import (
    BatchKey,
    CancelledAfterCommit,
    ErrorKind,
    TableSpec,
    finish_despite_cancel,
    mark_may_have_applied,
)
from bulkload.backends.postgresql_queries import PostgresQueries
from bulkload.backends.sql import CHECKPOINT_TABLE, quote_identifier
from bulkload.config import TargetOptions
from bulkload.config.option import Option
from bulkload.errors import TargetError, TargetUnreachable, UsageError
from bulkload.phase_times import phase
from bulkload.redact import redact_text, redact_url

APPLICATION_NAME = "bulkload"

#: asyncpg's own bound on connecting (seconds); --timeout shortens it
CONNECT_TIMEOUT_S = 60.0

# SQLSTATE classes and codes worth retrying: the server or the connection, not the rows.
_TRANSIENT_CLASSES = ("08", "53", "57")  # connection, resources, operator intervention
_TRANSIENT_CODES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available
_PERMANENT_CLASSES = ("22", "23")  # data exception, integrity constraint violation
# the server ends the session: an answer that may come after the commit was done
_SHUTDOWN_CODES = {"57P01", "57P02", "57P03"}  # admin / crash shutdown, cannot connect now


def _commit_unanswered(commit: asyncio.Future[Any]) -> bool:
    """Whether a COMMIT that failed may have committed: the connection died (or the
    server was shut down) before its answer came. An error the server answered with (a
    deferred constraint, a serialization failure) means it rolled back."""
    if not commit.done() or commit.cancelled():
        return False
    error = commit.exception()
    if error is None:
        return False
    state = getattr(error, "sqlstate", None)
    if isinstance(error, asyncpg.PostgresError) and isinstance(state, str):
        return state.startswith("08") or state in _SHUTDOWN_CODES
    return True


def _binary_encodable(schema: pa.Schema) -> bool:
    try:
        ArrowToPostgresBinaryEncoder(schema)
    except Exception:  # pgpq raises its own types for unsupported Arrow types
        return False
    return not any(pa.types.is_decimal(f.type) for f in schema)


class _CopyMessages:
    """A COPY payload's parts, each sent as a CopyData message of its own (the server
    takes a stream in any split). Joining header, rows and trailer into one message
    copied every batch once more: a fresh megabyte, page faults and all. (A file object
    would be read in 512 kB pieces on the loop's executor threads: a thread hop each.)"""

    def __init__(self, parts: tuple[bytes, ...]):
        self._parts = iter(parts)

    def __aiter__(self) -> _CopyMessages:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._parts)
        except StopIteration:
            raise StopAsyncIteration from None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Run when a connection goes back to the pool, after asyncpg has rolled back any
    open transaction. bulkload changes no session state (no SET, LISTEN, advisory lock
    or cursor), so asyncpg's default reset query would only cost a round trip per batch."""


def _pg_wire_type(dtype: pa.DataType) -> str:
    """pg_type() as format_type() spells it."""
    spelled = pg_type(dtype)
    return {
        "timestamp": "timestamp without time zone",
        "timestamptz": "timestamp with time zone",
    }.get(spelled, spelled)


def pg_type(dtype: pa.DataType) -> str:
    if pa.types.is_integer(dtype):
        return "bigint"
    if pa.types.is_floating(dtype):
        return "double precision"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz else "timestamp"
    if pa.types.is_decimal(dtype):
        return f"numeric({dtype.precision},{dtype.scale})"
    return "text"


class PostgresBackend(PostgresQueries):
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    # its own options, declared in postgresql_options.py (read by --help without the driver)
    own_options: ClassVar[tuple[Option, ...]] = postgresql_options.OPTIONS

    def __init__(self, url: str, options: TargetOptions):
        self.url = url
        self.options = options
        # its own options: checked when they were made (PostgresOptions.__post_init__)
        own = options.own("postgresql", postgresql_options.PostgresOptions)
        self.schema_name = own.schema_name
        self.method = own.pg_method
        self.on_conflict = own.on_conflict
        self.key = own.key
        # One write per connection at a time: PostgreSQL runs one statement per session,
        # so --connections caps the writes in flight; without it, one per writer.
        self.max_concurrency: int | None = options.connections
        self.format = own.pg_format
        # CSV COPY takes text and the server converts each value: no need to convert twice
        self.accepts_text = self.method == "copy" and self.format == "csv"
        self._pool: asyncpg.Pool | None = None
        self._secrets = [p for p in (urlsplit(url).password, os.environ.get("PGPASSWORD")) if p]

    # ----------------------------------------------------------------- protocol

    async def open(self, table: TableSpec) -> None:
        size = self.options.connections or table.writers
        # --timeout bounds connecting too (a server that accepts and never answers)
        bound = min(table.connect_timeout or CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S)
        try:
            self._pool = await asyncpg.create_pool(
                self.url,  # asyncpg reads libpq URLs; PG* variables fill the gaps
                min_size=1,
                max_size=size,
                server_settings={"application_name": APPLICATION_NAME},
                reset=_keep_session,
                timeout=bound,
            )
        except TimeoutError:  # before OSError: it is one
            by = " (--timeout)" if bound < CONNECT_TIMEOUT_S else ""
            raise TargetUnreachable(
                f"{self.describe()}: no answer from {self._address()} within {bound:g} s{by}"
            ) from None
        except (OSError, asyncpg.exceptions.CannotConnectNowError) as exc:
            raise TargetUnreachable(self._cannot_connect(exc)) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise TargetError(f"{self.describe()}: {self._clean(exc)}") from None
        self.table = table
        self._columns = [f.name for f in table.schema]
        if self.format == "binary" and not _binary_encodable(table.schema):
            self.format = "csv"
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._prepare_table(conn, table)
        except BaseException as exc:
            await self.close()  # the engine closes only a backend that opened
            if isinstance(exc, asyncpg.PostgresError):
                raise TargetError(f"{self.describe()}: {self._clean(exc)}") from None
            raise

    def encode(self, batch: pa.RecordBatch) -> Any:
        with phase("encode"):
            return self._encode(batch)

    def _encode(self, batch: pa.RecordBatch) -> Any:
        if self.method == "insert":
            return list(zip(*(column.to_pylist() for column in batch.columns), strict=True))
        if self.format == "binary":
            # a COPY stream is header + rows + trailer; each batch is its own stream
            encoder = ArrowToPostgresBinaryEncoder(batch.schema)
            return (encoder.write_header(), encoder.write_batch(batch), encoder.finish())
        out = pa.BufferOutputStream()
        pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=False))
        return (out.getvalue().to_pybytes(),)

    async def write(self, payload: Any, key: BatchKey | None = None) -> None:
        assert self._pool is not None, "open() was not called"
        conn = await self._pool.acquire()
        committed = False
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await self._write_in(conn, payload, key)
            except BaseException as exc:
                # A cancelled COPY (timeout, abort) is not rolled back here: asyncpg would
                # wait, unbounded, for the server to acknowledge the cancel. The
                # connection is dropped below and the server rolls the transaction back.
                if not isinstance(exc, asyncio.CancelledError):
                    with contextlib.suppress(Exception):  # a broken one is dropped below
                        await transaction.rollback()
                raise
            # Once COMMIT is sent its outcome must be known, or an abort would not know
            # whether these rows are in the table: it is let finish even if cancelled.
            commit = asyncio.ensure_future(transaction.commit())
            try:
                await finish_despite_cancel(commit)
            except BaseException as exc:
                if _commit_unanswered(commit):
                    # the server may have committed: a retry is told apart from the
                    # first attempt only by the checkpoint key it records (or an upsert)
                    mark_may_have_applied(exc, again=key is None and not self.on_conflict)
                raise
            committed = True
        except BaseException as exc:
            # A connection that failed for any reason but the rows themselves (killed
            # backend, cancelled COPY) may be mid-protocol: drop it, the pool opens anew.
            if not isinstance(exc, CancelledAfterCommit) and (
                self.classify(exc) is not ErrorKind.PERMANENT
            ):
                # a connection the server killed may be back in the pool already:
                # terminating it then raises, and that error would hide the real one
                with contextlib.suppress(asyncpg.InterfaceError):
                    conn.terminate()
            raise
        finally:
            try:
                await self._pool.release(conn)  # shielded by asyncpg: it completes anyway
            except asyncio.CancelledError:
                if committed:
                    raise CancelledAfterCommit from None  # the rows are in: count them
                raise

    async def _write_in(self, conn: asyncpg.Connection, payload: Any, key: BatchKey | None) -> None:
        if key is not None and not await self._record_key(conn, key):
            return  # committed before: a retry of a batch that made it
        if self.on_conflict:
            await self._upsert(conn, payload)
        elif self.method == "copy":
            await conn.copy_to_table(
                self.table.name,
                source=_CopyMessages(payload),
                columns=self._columns,
                schema_name=self.schema_name,
                format=self.format,
            )
        else:
            await conn.executemany(self._insert_sql(self._qualified), payload)

    async def reset(self) -> None:
        assert self._pool is not None, "open() was not called"
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(f"TRUNCATE {self._qualified}")
                await self._forget(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise TargetError(f"{self.describe()}: --reset: {self._clean(exc)}") from None

    async def committed_keys(self) -> list[BatchKey]:
        assert self._pool is not None
        rows = (
            await self._pool.fetch(
                f"SELECT source, batch_index, row_offset, row_count, batch_size "
                f"FROM {self._checkpoints} WHERE target_table = $1",
                self.table.name,
            )
            if await self._has_checkpoints()
            else []
        )
        return [BatchKey(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def forget_checkpoints(self, table: str) -> int:
        try:
            conn = await asyncpg.connect(self.url)
        except TimeoutError:  # before OSError: it is one
            raise TargetUnreachable(
                f"{self.describe()}: no answer from {self._address()} within "
                f"{CONNECT_TIMEOUT_S:g} s"
            ) from None
        except (OSError, asyncpg.PostgresError) as exc:
            raise TargetUnreachable(self._cannot_connect(exc)) from None
        try:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", self._checkpoints):
                return 0
            removed = await conn.fetch(
                f"DELETE FROM {self._checkpoints} WHERE target_table = $1 RETURNING 1", table
            )
            if not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {self._checkpoints})"):
                await conn.execute(f"DROP TABLE {self._checkpoints}")
            return len(removed)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.close_queries()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def classify(self, error: BaseException) -> ErrorKind:
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str):
            if state in _TRANSIENT_CODES or state.startswith(_TRANSIENT_CLASSES):
                return ErrorKind.TRANSIENT
            if state.startswith(_PERMANENT_CLASSES):
                return ErrorKind.PERMANENT
            return ErrorKind.FATAL
        if isinstance(
            error,
            OSError
            | asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.InternalClientError
            | asyncpg.InterfaceError
            | TimeoutError,
        ):
            return ErrorKind.TRANSIENT
        return ErrorKind.FATAL

    def describe(self) -> str:
        return redact_url(self.url)

    # ----------------------------------------------------------------- helpers

    def _address(self) -> str:
        """host:port of the server, as asyncpg finds it (the URL, else PGHOST/PGPORT)."""
        parts = urlsplit(self.url)
        try:
            host, port = parts.hostname, parts.port
        except ValueError:  # several hosts (host1:5432,host2:5433): name them as given
            return parts.netloc.rpartition("@")[2]
        host = host or os.environ.get("PGHOST") or "localhost"
        return f"{host}:{port or os.environ.get('PGPORT') or 5432}"

    def _cannot_connect(self, error: BaseException) -> str:
        """One line naming the server: "cannot connect to HOST:PORT: Connection refused"."""
        reason = error.strerror if isinstance(error, OSError) and error.strerror else None
        reason = reason or self._clean(error)
        return f"{self.describe()}: cannot connect to {self._address()}: {reason}"

    def _clean(self, error: BaseException) -> str:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return redact_text(text, self._secrets)

    @property
    def _qualified(self) -> str:
        name = quote_identifier(self.table.name)
        return f"{quote_identifier(self.schema_name)}.{name}" if self.schema_name else name

    @property
    def _checkpoints(self) -> str:
        name = quote_identifier(CHECKPOINT_TABLE)
        return f"{quote_identifier(self.schema_name)}.{name}" if self.schema_name else name

    def _insert_sql(self, target: str) -> str:
        columns = ", ".join(quote_identifier(c) for c in self._columns)
        values = ", ".join(f"${i}" for i in range(1, len(self._columns) + 1))
        return f"INSERT INTO {target} ({columns}) VALUES ({values})"

    async def _prepare_table(self, conn: asyncpg.Connection, table: TableSpec) -> None:
        await self._check_name_lengths(conn, table)
        if self.schema_name:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.schema_name)}")
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", self._qualified)
        if exists and table.if_exists == "fail":
            raise TargetError(f"table {table.name!r} already exists (--if-exists fail)")
        if exists and table.if_exists == "replace":
            await conn.execute(f"DROP TABLE {self._qualified}")
            await self._forget(conn)
            exists = False
        if exists and table.if_exists == "truncate":
            await conn.execute(f"TRUNCATE {self._qualified}")
            await self._forget(conn)
        if exists:
            await self._check_columns(conn, table)
        else:
            columns = [f"{quote_identifier(f.name)} {pg_type(f.type)}" for f in table.schema]
            if self.key:
                missing = [k for k in self.key if k not in self._columns]
                if missing:
                    raise UsageError(f"--key: no column named {', '.join(missing)}")
                columns.append(f"PRIMARY KEY ({', '.join(quote_identifier(k) for k in self.key)})")
            await conn.execute(f"CREATE TABLE {self._qualified} ({', '.join(columns)})")
            # Keys left by a load into a table of this name dropped since describe no
            # row here: kept, they would pass this load's batches over as committed.
            await self._forget(conn)
        if table.checkpoints:
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._checkpoints} ("
                "target_table text NOT NULL, source text NOT NULL, batch_index bigint NOT NULL,"
                " row_offset bigint NOT NULL, row_count bigint NOT NULL,"
                " committed_at timestamptz NOT NULL DEFAULT now(), batch_size bigint,"
                " PRIMARY KEY (target_table, source, batch_index, row_offset))"
            )
            # a bookkeeping table made by an earlier version lacks it (its keys then read
            # back with no batch size); checked first: ALTER TABLE locks the table
            has_batch_size = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass "
                "AND attname = 'batch_size' AND NOT attisdropped)",
                self._checkpoints,
            )
            if not has_batch_size:
                await conn.execute(
                    f"ALTER TABLE {self._checkpoints} ADD COLUMN IF NOT EXISTS batch_size bigint"
                )

    async def _check_name_lengths(self, conn: asyncpg.Connection, table: TableSpec) -> None:
        """PostgreSQL cuts longer names to max_identifier_length bytes without a word, so
        a table made from long names would not match them on the next run: refuse them.
        (Cutting them here instead would need the same mapping on every later run.)"""
        limit = int(await conn.fetchval("SHOW max_identifier_length"))

        def too_long(name: str) -> bool:
            return len(name.encode()) > limit

        if self.schema_name and too_long(self.schema_name):
            raise UsageError(
                f"--schema-name {self.schema_name!r} is {len(self.schema_name.encode())} "
                f"bytes; PostgreSQL names hold at most {limit}: choose a shorter one"
            )
        if too_long(table.name):
            raise UsageError(
                f"table name {table.name!r} is {len(table.name.encode())} bytes; PostgreSQL "
                f"names hold at most {limit}: choose a shorter one with --table"
            )
        columns = [f.name for f in table.schema if too_long(f.name)]
        if columns:
            names = ", ".join(repr(name) for name in columns)
            raise UsageError(
                f"column name(s) longer than PostgreSQL's {limit} bytes (it would cut them "
                f"short): {names}; shorten them with --rename old=new"
            )

    async def _check_columns(self, conn: asyncpg.Connection, table: TableSpec) -> None:
        rows = await conn.fetch(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            self._qualified,
        )
        existing = {r[0]: r[1] for r in rows}
        # Binary COPY needs each column to be exactly the type we send; otherwise let the
        # server convert from text.
        if any(existing.get(f.name) != _pg_wire_type(f.type) for f in table.schema):
            self.format = "csv"
        missing = [f.name for f in table.schema if f.name not in existing]
        if missing:
            raise TargetError(
                f"table {table.name!r} exists without column(s) {', '.join(missing)}; "
                "use --if-exists replace, or --select/--rename to match it"
            )

    async def _has_checkpoints(self) -> bool:
        assert self._pool is not None
        found: bool = await self._pool.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", self._checkpoints
        )
        return found

    async def _forget(self, conn: asyncpg.Connection) -> None:
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", self._checkpoints):
            await conn.execute(
                f"DELETE FROM {self._checkpoints} WHERE target_table = $1", self.table.name
            )

    async def _record_key(self, conn: asyncpg.Connection, key: BatchKey) -> bool:
        inserted = await conn.fetchval(
            f"INSERT INTO {self._checkpoints} "
            "(target_table, source, batch_index, row_offset, row_count, batch_size) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
            self.table.name,
            key.source,
            key.index,
            key.offset,
            key.count,
            self.table.batch_size,
        )
        return inserted is not None

    async def _upsert(self, conn: asyncpg.Connection, payload: Any) -> None:
        stage = quote_identifier("_bulkload_stage")
        await conn.execute(
            f"CREATE TEMP TABLE {stage} (LIKE {self._qualified} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        if self.method == "copy":
            await conn.copy_to_table(
                "_bulkload_stage",
                source=_CopyMessages(payload),
                columns=self._columns,
                format=self.format,
            )
        else:
            await conn.executemany(self._insert_sql(stage), payload)
        columns = ", ".join(quote_identifier(c) for c in self._columns)
        keys = ", ".join(quote_identifier(k) for k in self.key or ())
        action = "DO NOTHING"
        if self.on_conflict == "update":
            updates = [
                f"{quote_identifier(c)} = EXCLUDED.{quote_identifier(c)}"
                for c in self._columns
                if c not in (self.key or ())
            ]
            action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        await conn.execute(
            f"INSERT INTO {self._qualified} ({columns}) SELECT {columns} FROM {stage} "
            f"ON CONFLICT ({keys}) {action}"
        )
