"""The PostgreSQL backend against a real server (see the pg fixtures in conftest.py)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bulkload import event_loop
from tests.servers.fixtures import free_port

TRICKY = [
    "plain",
    "with, comma",
    'with "quotes"',
    "multi\nline",
    "ünïcödé ✓ 日本語 😀",
    "",
    "NULL",
    "\\N",
    "tab\there",
    "'; DROP TABLE x; --",
]


def _write_tricky_csv(path: Path, rows: int = 500) -> None:
    lines = ["id,text,num,flag,day,at,at_tz,price"]
    for i in range(rows):
        text = TRICKY[i % len(TRICKY)]
        quoted = '"' + text.replace('"', '""') + '"'
        num = "" if i % 11 == 0 else repr(i * 1.000001 - 250)
        flag = ["true", "false", ""][i % 3]
        day = "" if i % 13 == 0 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        at = f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 60:02d}.{i:06d}"
        at_tz = f"2024-03-01T10:00:00+0{i % 5}:00"
        price = f"{i}.{i % 100:02d}"
        lines.append(f"{i},{quoted},{num},{flag},{day},{at},{at_tz},{price}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("pg_format", ["binary", "csv"])
def test_round_trip_every_type(pg, run_cli, tmp_path: Path, pg_format: str):
    dsn, schema, sql = pg
    _write_tricky_csv(tmp_path / "t.csv")
    result = run_cli(
        "import",
        "t.csv",
        "--to",
        dsn,
        "--schema-name",
        schema,
        "--pg-format",
        pg_format,
        "--type",
        "text=string",
        "--type",
        "price=decimal(12,2)",
        "--batch-size",
        "70",
        "-c",
        "3",
        "-q",
    )
    assert result.code == 0, result.stderr + result.stdout
    types = {
        r["column_name"]: r["data_type"]
        for r in sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 't'",
            schema,
        )
    }
    assert types == {
        "id": "bigint",
        "text": "text",
        "num": "double precision",
        "flag": "boolean",
        "day": "date",
        "at": "timestamp without time zone",
        "at_tz": "timestamp with time zone",
        "price": "numeric",
    }
    rows = sql(f'SELECT * FROM "{schema}".t ORDER BY id')
    assert len(rows) == 500
    for i, row in enumerate(rows):
        assert row["id"] == i
        assert row["text"] == TRICKY[i % len(TRICKY)]
        assert row["num"] == (None if i % 11 == 0 else i * 1.000001 - 250)
        assert row["flag"] == [True, False, None][i % 3]
        assert row["day"] == (None if i % 13 == 0 else date(2024, 1 + i % 12, 1 + i % 28))
        assert row["at"] == datetime(2024, 3, 1 + i % 28, i % 24, i % 60, i % 60, i % 1_000_000)
        offset = i % 5
        assert row["at_tz"] == datetime(2024, 3, 1, 10 - offset, tzinfo=UTC)
        assert row["price"] == Decimal(f"{i}.{i % 100:02d}")


def test_awkward_identifiers(pg, run_cli, write_file):
    dsn, schema, sql = pg
    write_file("w.csv", '"select","weird, name","we""ird"\n1,2,3\n')
    result = run_cli(
        "import", "w.csv", "--to", dsn, "--schema-name", schema, "--table", 'my "table"; drop', "-q"
    )
    assert result.code == 0, result.stderr
    rows = sql(f'SELECT "select", "weird, name", "we""ird" FROM "{schema}"."my ""table""; drop"')
    assert [tuple(r) for r in rows] == [(1, 2, 3)]


def test_if_exists_modes(pg, run_cli, write_file):
    dsn, schema, sql = pg
    write_file("a.csv", "x\n1\n2\n")
    base = ["import", "a.csv", "--to", dsn, "--schema-name", schema, "-q"]
    assert run_cli(*base).code == 0
    assert run_cli(*base).code == 0
    assert sql(f'SELECT count(*) FROM "{schema}".a')[0][0] == 4
    assert run_cli(*base, "--if-exists", "truncate").code == 0
    assert sql(f'SELECT count(*) FROM "{schema}".a')[0][0] == 2
    failed = run_cli(*base, "--if-exists", "fail")
    assert failed.code == 5 and "already exists" in failed.error_line
    write_file("b.csv", "y\nz\n")
    assert (
        run_cli(
            "import",
            "b.csv",
            "--table",
            "a",
            "--to",
            dsn,
            "--schema-name",
            schema,
            "--if-exists",
            "replace",
            "-q",
        ).code
        == 0
    )
    assert [tuple(r) for r in sql(f'SELECT * FROM "{schema}".a')] == [("z",)]


def test_appending_to_a_table_of_other_types_falls_back_to_text(pg, run_cli, write_file):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".n (id integer, v numeric, at timestamptz)')
    write_file("n.csv", "id,v,at\n1,1.5,2024-01-01 00:00:00\n")
    result = run_cli("import", "n.csv", "--to", dsn, "--schema-name", schema, "-q")
    assert result.code == 0, result.stderr + result.stdout
    assert [tuple(r)[:2] for r in sql(f'SELECT * FROM "{schema}".n')] == [(1, Decimal("1.5"))]


@pytest.mark.parametrize("method", ["copy", "insert"])
def test_upsert(pg, run_cli, write_file, method: str):
    dsn, schema, sql = pg
    write_file("u.csv", "id,v\n1,a\n2,b\n")
    base = ["--to", dsn, "--schema-name", schema, "--table", "u", "--pg-method", method, "-q"]
    assert run_cli("import", "u.csv", "--key", "id", "--on-conflict", "nothing", *base).code == 0
    write_file("u2.csv", "id,v\n2,B\n3,c\n")
    assert run_cli("import", "u2.csv", "--key", "id", "--on-conflict", "nothing", *base).code == 0
    assert [tuple(r) for r in sql(f'SELECT * FROM "{schema}".u ORDER BY id')] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert run_cli("import", "u2.csv", "--key", "id", "--on-conflict", "update", *base).code == 0
    assert [tuple(r) for r in sql(f'SELECT * FROM "{schema}".u ORDER BY id')] == [
        (1, "a"),
        (2, "B"),
        (3, "c"),
    ]


def test_bad_rows_are_bisected_into_the_bad_records_file(pg, run_cli, write_file, tmp_path):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".b (id bigint PRIMARY KEY, qty bigint CHECK (qty >= 0))')
    rows = "".join(f"{i},{-1 if i in (17, 123, 124) else i}\n" for i in range(300))
    write_file("b.csv", "id,qty\n" + rows + "5,5\n")  # and one duplicate key
    result = run_cli(
        "import",
        "b.csv",
        "--to",
        dsn,
        "--schema-name",
        schema,
        "--batch-size",
        "100",
        "-c",
        "1",
        "--json",
        "-",
        "-q",  # one writer: the first "5" commits first
    )
    assert result.code == 1
    summary = json.loads(result.stdout)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (297, 4)
    with (tmp_path / "b.bad-records.csv").open(newline="") as fh:
        bad = {int(r["line"]): r for r in csv.DictReader(fh)}
    assert sorted(bad) == [19, 125, 126, 302]
    assert "violates check constraint" in bad[19]["reason"] and bad[19]["record"] == "17,-1"
    assert "duplicate key value" in bad[302]["reason"]
    assert sql(f'SELECT count(*) FROM "{schema}".b')[0][0] == 297


def test_insert_method(pg, run_cli, tmp_path):
    dsn, schema, sql = pg
    _write_tricky_csv(tmp_path / "t.csv", rows=60)
    result = run_cli(
        "import",
        "t.csv",
        "--to",
        dsn,
        "--schema-name",
        schema,
        "--pg-method",
        "insert",
        "--type",
        "text=string",
        "-q",
    )
    assert result.code == 0, result.stderr
    texts = [r[0] for r in sql(f'SELECT text FROM "{schema}".t ORDER BY id')]
    assert texts == [TRICKY[i % len(TRICKY)] for i in range(60)]


def test_pg_environment_variables(pg, run_cli, write_file):
    dsn, schema, sql = pg
    from urllib.parse import urlsplit

    parts = urlsplit(dsn)
    env = {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": parts.path.lstrip("/"),
    }
    write_file("e.csv", "x\n1\n")
    result = run_cli(
        "import", "e.csv", "--to", "postgresql://", "--schema-name", schema, "-q", env=env
    )
    assert result.code == 0, result.stderr
    assert sql(f'SELECT x FROM "{schema}".e')[0][0] == 1


def test_unreachable_server(run_cli, write_file):
    write_file("e.csv", "x\n1\n")
    result = run_cli("import", "e.csv", "--to", "postgresql://u:s3cret-pw@127.0.0.1:9/db")
    assert result.code == 5
    assert result.error_line.startswith("bulkload: error: postgresql://u:***@127.0.0.1:9/db: ")
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_a_server_that_never_answers_is_given_up_after_timeout(run_cli, write_file):
    """A listener that completes the TCP handshake (the kernel does, from its backlog)
    and never says a word: --timeout bounds the connect (asyncpg's own bound is 60 s),
    and the error is one line naming the address."""
    write_file("e.csv", "x\n1\n")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = run_cli("import", "e.csv", "--to", f"postgresql://127.0.0.1:{port}/db",
                         "--timeout", "3s", "-q")  # fmt: skip
        took = time.monotonic() - started
    assert result.code == 5, result.stderr
    assert result.stderr == (
        f"bulkload: error: postgresql://127.0.0.1:{port}/db: no answer from "
        f"127.0.0.1:{port} within 3 s (--timeout)\n"
    )
    assert took < 30


def test_a_refused_connection_is_one_line_naming_the_address(run_cli, write_file):
    write_file("e.csv", "x\n1\n")
    port = free_port()
    result = run_cli("import", "e.csv", "--to", f"postgresql://127.0.0.1:{port}/db", "-q")
    assert result.code == 5, result.stderr
    assert result.stderr == (
        f"bulkload: error: postgresql://127.0.0.1:{port}/db: cannot connect to "
        f"127.0.0.1:{port}: Connection refused\n"
    )


def test_password_never_shown(pg, run_cli, write_file, tmp_path):
    dsn, schema, _ = pg
    secret = "hunter2-secret"
    with_password = dsn.replace("postgres@", f"postgres:{secret}@", 1)  # trust auth ignores it
    write_file("p.csv", "x\n1\nbad\n")
    result = run_cli(
        "import",
        "p.csv",
        "--to",
        with_password,
        "--schema-name",
        schema,
        "--type",
        "x=int",
        "--progress",
        "plain",
        "--json",
        "s.json",
        "--bad-records",
        "bad.csv",
    )
    assert result.code == 1, result.stderr
    shown = result.stdout + result.stderr + (tmp_path / "s.json").read_text()
    shown += (tmp_path / "bad.csv").read_text()
    assert secret not in shown
    assert "postgres:***@" in result.stdout


def _import_command(dsn: str, schema: str, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "bulkload", "import", "k.csv", "--to", dsn),
        *("--schema-name", schema, "--batch-size", "250", "--checkpoint", "k.ckpt", "-q"),
        *extra,
    ]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}


def _start_slow_import(dsn: str, schema: str, tmp_path: Path, rows: int) -> subprocess.Popen[str]:
    (tmp_path / "k.csv").write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(rows)))
    return subprocess.Popen(
        _import_command(
            dsn, schema, "--rate", "6000", "-c", "3", "--retry-max-wait", "0.2", "--json", "s.json"
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _wait_rows(sql, schema: str, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if sql(f'SELECT count(*) FROM "{schema}".k')[0][0] >= at_least:
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("the import made no progress")


@contextlib.contextmanager
def _database_of_its_own(server_dsn: str, sql) -> Iterator[tuple[str, Any]]:
    """A fresh database on the test server, dropped afterwards: (its dsn, run_sql in it).
    Connections can then be told apart from other tests' (xdist workers share the server)."""
    import uuid
    from urllib.parse import urlsplit

    import asyncpg

    name = f"k_{uuid.uuid4().hex[:10]}"
    dsn = urlsplit(server_dsn)._replace(path=f"/{name}").geturl()

    def sql_in(query: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(dsn)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return event_loop.run(go())

    sql(f'CREATE DATABASE "{name}"')
    try:
        yield dsn, sql_in
    finally:
        sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_connections_killed_mid_import_finish_exactly_once(pg, tmp_path):
    server_dsn, schema, server_sql = pg
    with _database_of_its_own(server_dsn, server_sql) as (dsn, sql):
        _kill_connections_mid_import(dsn, schema, sql, tmp_path)


def _kill_connections_mid_import(dsn: str, schema: str, sql, tmp_path: Path) -> None:
    rows = 15_000
    proc = _start_slow_import(dsn, schema, tmp_path, rows)
    killed = 0
    for threshold in (2000, 5000, 8000):
        _wait_rows(sql, schema, threshold)
        # kill for a moment, so some kills land mid-COPY and some on idle connections;
        # only this import's: other tests' connections are in other databases
        until = time.monotonic() + 0.3
        while time.monotonic() < until:
            killed += len(
                sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'bulkload' AND datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            )
            time.sleep(0.01)
    assert killed >= 3
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rows_loaded"] == rows
    ids = [r[0] for r in sql(f'SELECT id FROM "{schema}".k ORDER BY id')]
    assert ids == list(range(rows))  # no loss, no duplicate
    # the retries name what happened to the connection, not a failure to drop it
    causes = summary["retry_causes"]
    assert not any("released back to the pool" in cause for cause in causes), causes


def test_kill_9_then_resume_exactly_once(pg, tmp_path):
    dsn, schema, sql = pg
    rows = 12_000
    proc = _start_slow_import(dsn, schema, tmp_path, rows)
    _wait_rows(sql, schema, 3000)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    loaded = sql(f'SELECT count(*) FROM "{schema}".k')[0][0]
    assert 0 < loaded < rows
    resumed = subprocess.run(
        _import_command(dsn, schema, "--resume"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert resumed.returncode == 0, resumed.stderr
    table = [tuple(r) for r in sql(f'SELECT id, v FROM "{schema}".k ORDER BY id')]
    assert table == [(i, f"v{i}") for i in range(rows)]
    recorded = sql(f'SELECT sum(row_count) FROM "{schema}"._bulkload_checkpoints')[0][0]
    assert recorded == rows


def test_error_classification():
    import asyncpg

    from bulkload.backends.base import ErrorKind
    from bulkload.backends.postgresql import PostgresBackend
    from bulkload.config import TargetOptions

    backend = PostgresBackend("postgresql://x@127.0.0.1/db", TargetOptions())

    def with_state(code: str) -> Exception:
        error = asyncpg.PostgresError("x")
        error.sqlstate = code  # type: ignore[attr-defined]
        return error

    transient = ["08006", "57P01", "40001", "40P01", "53300", "55P03"]
    permanent = ["22P02", "22003", "23505", "23514"]
    fatal = ["42P01", "28P01", "42501"]
    assert {backend.classify(with_state(c)) for c in transient} == {ErrorKind.TRANSIENT}
    assert {backend.classify(with_state(c)) for c in permanent} == {ErrorKind.PERMANENT}
    assert {backend.classify(with_state(c)) for c in fatal} == {ErrorKind.FATAL}
    assert backend.classify(ConnectionResetError()) is ErrorKind.TRANSIENT
    assert backend.classify(asyncpg.exceptions.InternalClientError("state")) is ErrorKind.TRANSIENT


def test_forget_checkpoints(pg, run_cli, write_file):
    dsn, schema, sql = pg
    write_file("f.csv", "x\n" + "".join(f"{i}\n" for i in range(30)))
    base = ["--to", dsn, "--schema-name", schema]
    assert (
        run_cli("import", "f.csv", *base, "--batch-size", "10", "--checkpoint", "f.ckpt", "-q").code
        == 0
    )
    assert sql(f'SELECT count(*) FROM "{schema}"._bulkload_checkpoints')[0][0] == 3
    result = run_cli("forget-checkpoints", *base, "--table", "f")
    assert result.code == 0 and "removed 3 checkpoint key(s)" in result.stdout
    assert sql("SELECT to_regclass($1)", f'"{schema}"._bulkload_checkpoints')[0][0] is None


# PostgreSQL cuts names to 63 bytes without a word; bulkload refuses them instead.
LONG = "measurement_from_the_north_eastern_sensor_array_in_celsius_degrees"  # 66 bytes


def _table_exists(sql, schema: str, table: str) -> bool:
    return bool(sql("SELECT to_regclass($1) IS NOT NULL", f'"{schema}"."{table}"')[0][0])


def test_column_name_too_long_is_refused_and_rename_fixes_it(pg, run_cli, write_file):
    dsn, schema, sql = pg
    write_file("long.csv", f"id,{LONG}\n1,20.5\n")
    base = ("import", "long.csv", "--to", dsn, "--schema-name", schema, "-q")
    result = run_cli(*base)
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: column name(s) longer than PostgreSQL's 63 bytes (it would cut them "
        f"short): {LONG!r}; shorten them with --rename old=new"
    )
    assert not _table_exists(sql, schema, "long")
    renamed = (*base, "--rename", f"{LONG}=north_east_c")
    assert run_cli(*renamed).code == 0
    assert run_cli(*renamed).code == 0  # the second run appends to the same columns
    assert sql(f'SELECT id, north_east_c FROM "{schema}".long') == [(1, 20.5), (1, 20.5)]


def test_long_names_sharing_their_first_63_bytes_are_both_named(pg, run_cli, write_file):
    dsn, schema, sql = pg
    first, second = LONG + "_min", LONG + "_max"
    write_file("twins.csv", f"{first},{second}\n1,2\n")
    result = run_cli("import", "twins.csv", "--to", dsn, "--schema-name", schema)
    assert result.code == 3
    assert repr(first) in result.error_line and repr(second) in result.error_line
    assert not _table_exists(sql, schema, "twins")


def test_table_and_schema_names_too_long_are_refused(pg, run_cli, write_file):
    dsn, schema, sql = pg
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", dsn, "--schema-name", schema, "--table", LONG)
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: table name {LONG!r} is 66 bytes")
    assert "--table" in result.error_line
    long_schema = "s" * 64
    result = run_cli("import", "a.csv", "--to", dsn, "--schema-name", long_schema)
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: --schema-name {long_schema!r} is 64")
    assert not sql("SELECT 1 FROM pg_namespace WHERE nspname = $1", long_schema[:63])
