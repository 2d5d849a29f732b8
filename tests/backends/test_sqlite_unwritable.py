"""A SQLite location the process may not write: one line naming the path and what is not
writable (SQLite itself says "failed to allocate memory" or "attempt to write a readonly
database"), exit 5, and nothing half-created.

The locations are made unwritable with permission bits, and the CLI runs with
``obey_permissions``: as root (the usual CI container) it runs without
CAP_DAC_OVERRIDE, so the kernel refuses the writes as it would for any user."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import permission_bits_apply, read_table


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[list[Path]]:
    """Paths to chmod read-only; their modes are restored so tmp_path can be removed."""
    if not permission_bits_apply(tmp_path):
        pytest.skip("running as root without CAP_SETPCAP: permission bits cannot apply")
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.chmod(0o755)


def _database(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE a (x INTEGER)")
    return path


def test_directory_not_writable(run_cli, write_file, tmp_path: Path, locked):
    write_file("a.csv", "x\n1\n")
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o555)
    locked.append(directory)
    result = run_cli("import", "a.csv", "--to", "sqlite:///ro/x.db", obey_permissions=True)
    assert result.code == 5
    assert result.error_line == (
        f"bulkload: error: sqlite:///ro/x.db: directory {directory} is not writable "
        "(the database file cannot be created there)"
    )
    assert list(directory.iterdir()) == []


def test_database_file_read_only(run_cli, write_file, tmp_path: Path, locked):
    write_file("a.csv", "x\n1\n")
    database = _database(tmp_path / "ro.db")
    database.chmod(0o444)
    locked.append(database)
    result = run_cli("import", "a.csv", "--to", "sqlite:///ro.db", obey_permissions=True)
    assert result.code == 5
    assert result.error_line == "bulkload: error: sqlite:///ro.db: database file ro.db is read-only"
    assert read_table(database, "a") == []


def test_wal_needs_a_writable_directory_and_no_wal_does_not(
    run_cli, write_file, tmp_path: Path, locked
):
    write_file("a.csv", "x\n1\n")
    directory = tmp_path / "ro"
    directory.mkdir()
    database = _database(directory / "w.db")
    directory.chmod(0o555)
    locked.append(directory)
    result = run_cli("import", "a.csv", "--to", "sqlite:///ro/w.db", obey_permissions=True)
    assert result.code == 5
    assert f"directory {directory} is not writable" in result.error_line
    assert "--no-wal" in result.error_line
    result = run_cli(
        "import", "a.csv", "--to", "sqlite:///ro/w.db", "--no-wal", "-q", obey_permissions=True
    )
    assert result.code == 0, result.stderr
    assert read_table(database, "a") == [(1,)]
