"""A database file that does not exist yet is built aside and renamed into place when
the import ends: never seen half-built, synced before it gets its name, and never put
over a database another process created meanwhile."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from bulkload import event_loop
from bulkload.backends.base import TableSpec
from bulkload.backends.sqlite import SQLiteBackend
from bulkload.backends.sqlite_options import SQLiteOptions
from bulkload.config import TargetOptions
from bulkload.errors import TargetError
from bulkload.options import build_import_config
from tests.conftest import read_table

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _batch(first: int, count: int) -> pa.RecordBatch:
    ids = list(range(first, first + count))
    return pa.record_batch([pa.array(ids), pa.array([f"n{i}" for i in ids])], schema=SCHEMA)


def _backend(path: Path, *, aside: bool = True, wal: bool = True) -> SQLiteBackend:
    options = TargetOptions(
        url=f"sqlite:///{path}", build_new_aside=aside, backends={"sqlite": SQLiteOptions(wal=wal)}
    )
    return SQLiteBackend(options.url, options)


def _hidden_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_import_builds_a_new_file_aside_and_only_then_names_it(tmp_path: Path):
    db = tmp_path / "new.db"
    backend = _backend(db)

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "fail"))
        for first in (0, 100):
            await backend.write(backend.encode(_batch(first, 100)))
        assert not db.exists()  # nobody sees it half-built
        assert len(_hidden_files(tmp_path)) == 1
        await backend.close()

    event_loop.run(load())
    assert _hidden_files(tmp_path) == []  # the temporary name is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]  # no journal left
    assert [row[0] for row in read_table(db, "t")] == list(range(200))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_existing_file_is_written_in_place(tmp_path: Path):
    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # an empty database: exists, so no building aside
    backend = _backend(db)

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "fail"))
        await backend.write(backend.encode(_batch(0, 10)))
        assert len(read_table(db, "t")) == 10  # committed where readers see it
        assert _hidden_files(tmp_path) == []
        await backend.close()

    event_loop.run(load())


def test_a_database_created_meanwhile_gets_the_rows_added(tmp_path: Path):
    db = tmp_path / "raced.db"
    backend = _backend(db)

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "append"))
        await backend.write(backend.encode(_batch(0, 50)))
        with sqlite3.connect(db) as other:  # another process creates it, with rows
            other.execute("CREATE TABLE t (id INTEGER, name TEXT)")
            other.execute("INSERT INTO t VALUES (-1, 'theirs')")
            other.execute("CREATE TABLE kept (x)")
        await backend.close()

    event_loop.run(load())
    rows = read_table(db, "t")
    assert sorted(row[0] for row in rows) == [-1, *range(50)]
    assert _hidden_files(tmp_path) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone()[0] == 0


def test_rows_that_cannot_join_the_raced_database_are_kept_and_named(tmp_path: Path):
    db = tmp_path / "raced.db"
    backend = _backend(db)

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "fail"))
        await backend.write(backend.encode(_batch(0, 5)))
        with sqlite3.connect(db) as other:
            other.execute("CREATE TABLE t (id INTEGER)")
        await backend.close()

    with pytest.raises(TargetError, match="created by another process") as raised:
        event_loop.run(load())
    kept = Path(str(raised.value).rsplit("they are in ", 1)[1])
    assert kept.parent == tmp_path and kept.exists()
    assert len(read_table(kept, "t")) == 5  # nothing lost: the rows are where it says
    assert read_table(db, "t") == []  # and the other database is left as it was


def test_a_failed_open_leaves_no_file_behind(tmp_path: Path):
    db = tmp_path / "bad.db"
    backend = _backend(db)
    bad = pa.schema([("id", pa.int64()), ("ID", pa.int64())])  # duplicate column in SQLite

    async def load() -> None:
        try:
            await backend.open(TableSpec("t", bad, "fail"))
        finally:
            await backend.close()

    with pytest.raises(TargetError):
        event_loop.run(load())
    assert list(tmp_path.iterdir()) == []


def test_no_wal_builds_aside_too_and_leaves_the_default_journal(tmp_path: Path):
    db = tmp_path / "n.db"
    backend = _backend(db, wal=False)

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "fail"))
        await backend.write(backend.encode(_batch(0, 3)))
        assert not db.exists()
        await backend.close()

    event_loop.run(load())
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert len(read_table(db, "t")) == 3


def test_import_builds_aside_unless_progress_is_checkpointed_in_the_target():
    plain = build_import_config({"paths": ("a.csv",)})
    checkpointed = build_import_config({"paths": ("a.csv",), "checkpoint": "c.json"})
    assert plain.target.build_new_aside
    assert not checkpointed.target.build_new_aside
    assert not TargetOptions().build_new_aside  # the library's and bench's default


def test_cli_import_into_a_new_file_cut_short_by_a_bad_source_keeps_its_rows(
    run_cli, write_file, tmp_path: Path
):
    # The file ends inside a quoted field, past the first read block: the rows before the
    # damage load, the run fails, and the new database must still appear with them.
    good = 150_000  # more than one read block
    lines = "".join(f"{i},row{i}\n" for i in range(good))
    write_file("a.csv", f'x,y\n{lines}{good},"unterminated\n')
    result = run_cli("import", "a.csv", "--to", "sqlite:///cut.db", "-q")
    assert result.code == 3, result.stderr
    assert "never closed" in result.error_line
    loaded = int(re.search(r"\(([\d,]+) rows were loaded", result.error_line)[1].replace(",", ""))
    assert loaded > 100_000
    assert [row[0] for row in read_table(tmp_path / "cut.db", "a")] == list(range(loaded))
    assert _hidden_files(tmp_path) == []


def test_files_left_by_crashed_builds_on_this_host_are_removed(tmp_path: Path):
    import subprocess

    from bulkload.backends.sqlite import _HOST

    ended = subprocess.Popen(["true"])
    ended.wait()  # a process id nobody holds now
    crashed = tmp_path / f".new.db.bulkload-{_HOST}-{ended.pid}.tmp"
    alive = tmp_path / f".new.db.bulkload-{_HOST}-{os.getppid()}.tmp"  # a build running
    elsewhere = tmp_path / f".new.db.bulkload-otherhost-{ended.pid}.tmp"  # another host's
    for path in (crashed, alive, elsewhere):
        path.write_bytes(b"half a database")
    backend = _backend(tmp_path / "new.db")

    async def load() -> None:
        await backend.open(TableSpec("t", SCHEMA, "fail"))
        await backend.write(backend.encode(_batch(0, 3)))
        await backend.close()

    event_loop.run(load())
    assert not crashed.exists()
    assert alive.exists() and elsewhere.exists()
    assert len(read_table(tmp_path / "new.db", "t")) == 3
