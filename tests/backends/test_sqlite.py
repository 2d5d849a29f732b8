"""The SQLite backend against real database files: types, exact round trips, identifiers,
--if-exists and journal modes."""

from __future__ import annotations

import contextlib
import math
import random
import sqlite3
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bulkload
from bulkload import event_loop
from bulkload.backends.sqlite import SQLiteBackend
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine import Engine
from bulkload.errors import UsageError
from bulkload.options import build_import_config
from bulkload.sources import BatchSource
from bulkload.stats import RunStats
from tests.conftest import column_types, read_table

TRICKY_TEXT = [
    "plain",
    "with, comma",
    'with "quotes"',
    "multi\nline\nvalue",
    "crlf\r\ninside",
    "ünïcödé ✓ 日本語 😀",
    "  leading and trailing  ",
    "",
    "NULL",
    "'; DROP TABLE t; --",
]


def test_types_are_inferred_and_mapped(run_cli, write_file, tmp_path: Path):
    write_file(
        "t.csv",
        "i,f,b,d,ts,tz,s,z\n"
        "1,1.5,true,2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05Z,x,007\n"
        "-2,2,FALSE,2024-12-31,2024-12-31T23:59:59.250000,2024-06-01T00:00:00+02:00,y,010\n",
    )
    result = run_cli("import", "t.csv", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert column_types(tmp_path / "o.db", "t") == {
        "i": "INTEGER",
        "f": "REAL",
        "b": "BOOLEAN",
        "d": "DATE",
        "ts": "TIMESTAMP",
        "tz": "TIMESTAMP",
        "s": "TEXT",
        "z": "TEXT",
    }
    assert read_table(tmp_path / "o.db", "t") == [
        (1, 1.5, 1, "2024-01-02", "2024-01-02 03:04:05", "2024-01-02 03:04:05Z", "x", "007"),
        (
            -2,
            2.0,
            0,
            "2024-12-31",
            "2024-12-31 23:59:59.250000",
            "2024-05-31 22:00:00Z",
            "y",
            "010",
        ),
    ]


def test_values_round_trip_exactly(run_cli, write_file, tmp_path: Path):
    rng = random.Random(42)
    rows = []
    for i in range(3000):
        text = TRICKY_TEXT[i % len(TRICKY_TEXT)]
        number = rng.uniform(-1e12, 1e12) if i % 7 else None
        big = rng.randint(-(2**63), 2**63 - 1)
        rows.append((i, text, number, big))
    # Text is always quoted (so "" stays an empty string and "NULL" stays text); a null
    # number is a bare empty field.
    lines = ["id,text,number,big"]
    for i, text, number, big in rows:
        quoted = '"' + text.replace('"', '""') + '"'
        lines.append(f"{i},{quoted},{'' if number is None else repr(number)},{big}")
    write_file("r.csv", "\n".join(lines) + "\n")
    result = run_cli(
        "import",
        "r.csv",
        "--to",
        "sqlite:///o.db",
        "--type",
        "text=string",
        "--batch-size",
        "700",
        "-q",
    )
    assert result.code == 0, result.stderr
    loaded = read_table(tmp_path / "o.db", "r")
    assert len(loaded) == len(rows)
    for got, want in zip(loaded, rows, strict=True):
        assert got[0] == want[0]
        assert got[1] == want[1], (got, want)
        if want[2] is None:
            assert got[2] is None
        else:
            assert got[2] == want[2] and not math.isnan(got[2])
        assert got[3] == want[3]


def test_awkward_identifiers_are_quoted(run_cli, write_file, tmp_path: Path):
    write_file(
        "weird table.csv",
        '"select","first name","we""ird, name","from",""\n1,a,b,c,d\n',
    )
    result = run_cli("import", "weird table.csv", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    with sqlite3.connect(tmp_path / "o.db") as conn:
        names = [r[1] for r in conn.execute('PRAGMA table_info("weird table")')]
        assert names == ["select", "first name", 'we"ird, name', "from", "column_5"]
        assert conn.execute('SELECT "we""ird, name" FROM "weird table"').fetchall() == [("b",)]


def test_table_name_cannot_inject_sql(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    evil = 't"; DROP TABLE keep; --'
    with sqlite3.connect(tmp_path / "o.db") as conn:
        conn.execute("CREATE TABLE keep (v)")
    result = run_cli("import", "a.csv", "--table", evil, "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    with sqlite3.connect(tmp_path / "o.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"keep", evil}


def test_if_exists_modes(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n2\n")
    db = ["--to", "sqlite:///o.db", "-q"]
    assert run_cli("import", "a.csv", *db).code == 0
    assert run_cli("import", "a.csv", *db).code == 0  # append is the default
    assert read_table(tmp_path / "o.db", "a") == [(1,), (2,), (1,), (2,)]
    assert run_cli("import", "a.csv", "--if-exists", "truncate", *db).code == 0
    assert read_table(tmp_path / "o.db", "a") == [(1,), (2,)]
    failed = run_cli("import", "a.csv", "--if-exists", "fail", *db)
    assert failed.code == 5 and "already exists" in failed.error_line
    write_file("a2.csv", "y\nz\n")
    mismatch = run_cli("import", "a2.csv", "--table", "a", *db)
    assert mismatch.code == 5 and "without column(s) y" in mismatch.error_line
    assert run_cli("import", "a2.csv", "--table", "a", "--if-exists", "replace", *db).code == 0
    assert read_table(tmp_path / "o.db", "a") == [("z",)]


def test_wal_is_default_and_no_wal_turns_it_off(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    assert run_cli("import", "a.csv", "--to", "sqlite:///w.db", "-q").code == 0
    assert run_cli("import", "a.csv", "--to", "sqlite:///n.db", "--no-wal", "-q").code == 0
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with sqlite3.connect(tmp_path / "n.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert read_table(tmp_path / "n.db", "a") == [(1,)]


def test_parquet_round_trip(run_cli, tmp_path: Path):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "price": pa.array([1.25, None, -3.5], pa.float32()),
            "name": pa.array(["a", "b, c", None], pa.large_string()),
            "day": pa.array([date(2024, 1, 1), None, date(1999, 12, 31)]),
            "at": pa.array([datetime(2024, 1, 1, 12), None, datetime(2024, 1, 1, 12, 0, 1, 5)]),
            "flag": pa.array([True, None, False]),
            "cat": pa.array(["x", "y", "x"]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet", row_group_size=2)
    result = run_cli("import", "events.parquet", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "events") == [
        (1, 1.25, "a", "2024-01-01", "2024-01-01 12:00:00", 1, "x"),
        (2, None, "b, c", None, None, None, "y"),
        (3, -3.5, None, "1999-12-31", "2024-01-01 12:00:01.000005", 0, "x"),
    ]


def test_csv_and_parquet_in_one_call(run_cli, write_file, tmp_path: Path):
    pq.write_table(pa.table({"id": [3, 4], "v": ["c", "d"]}), tmp_path / "b.parquet")
    write_file("a.csv", "id,v\n1,a\n2,b\n")
    result = run_cli("import", "a.csv", "b.parquet", "--table", "m", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "m") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_a_file_that_is_not_a_database_is_a_target_error(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    write_file("notes.db", "plain text, not SQLite\n" * 100)
    (tmp_path / "dir.db").mkdir()
    result = run_cli("import", "a.csv", "--to", "sqlite:///notes.db")
    assert result.code == 5
    assert result.error_line == "bulkload: error: sqlite:///notes.db: file is not a database"
    result = run_cli("import", "a.csv", "--to", "sqlite:///dir.db")
    assert result.code == 5 and "dir.db is a directory, not a database" in result.error_line


def test_missing_directory_is_a_target_error(run_cli, write_file):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", "sqlite:///no/such/dir/o.db")
    assert result.code == 5
    assert "does not exist" in result.error_line


def test_a_locked_database_is_retried_until_the_lock_goes(tmp_path: Path):
    db = tmp_path / "o.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER)")
    holder = subprocess.Popen(  # another process holds the write lock for a while
        [
            sys.executable,
            "-c",
            f"import sqlite3, time; c = sqlite3.connect(r'{db}', isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(1.0)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        backend = SQLiteBackend(f"sqlite:///{db}", TargetOptions())
        backend.busy_timeout_ms = 100
        (tmp_path / "t.csv").write_text("id\n1\n2\n3\n")
        config = build_import_config({"paths": [str(tmp_path / "t.csv")]})
        stats = RunStats()
        engine = Engine(backend, EngineOptions(retries=30, retry_max_wait=0.1), stats)
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        event_loop.run(engine.run(BatchSource(config.source), "t", "append"))
    finally:
        holder.wait()
    assert stats.rows_loaded == 3
    assert read_table(db, "t") == [(1,), (2,), (3,)]
    assert stats.retries >= 1 and set(stats.retry_causes) == {"database is locked"}


def test_library_batches_of_any_flat_arrow_type_are_stored(tmp_path: Path):
    batch = pa.RecordBatch.from_pydict(
        {
            "blob": pa.array([b"\x00\x01", None], pa.binary()),
            "at": pa.array([time(1, 2, 3), None], pa.time64("us")),
            "big": pa.array([2**63 - 1, 0], pa.uint64()),
            "cat": pa.array(["x", "y"]).dictionary_encode(),
            "money": pa.array([Decimal("12.50"), Decimal("-0.01")], pa.decimal128(5, 2)),
            "took": pa.array([timedelta(seconds=5), None], pa.duration("ms")),
            "small": pa.array([1.5, None], pa.float16()),
        }
    )
    db = tmp_path / "o.db"
    assert bulkload.execute_concurrent(f"sqlite:///{db}", [batch], table="t") == [(True, 2)]
    assert read_table(db, "t") == [
        (b"\x00\x01", "01:02:03.000000", 2**63 - 1, "x", "12.50", 5000, 1.5),
        (None, None, 0, "y", "-0.01", None, None),
    ]


def test_nested_columns_are_refused_up_front(tmp_path: Path):
    batch = pa.RecordBatch.from_pydict({"id": [1], "tags": [["a", "b"]]})
    with pytest.raises(UsageError, match="'tags' has type list<item: string>"):
        bulkload.execute_concurrent(f"sqlite:///{tmp_path / 'o.db'}", [batch], table="t")
