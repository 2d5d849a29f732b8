"""The targets the resume tests load into (a SQLite file, the PostgreSQL server, the
HTTP ingest server's ClickHouse API), and what they hold: the table's ids, the
bookkeeping rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.servers.fixtures import IngestServer


class Target:
    """Where a case loads: the --to options, and the ids the table holds."""

    def __init__(self, kind: str, request: pytest.FixtureRequest):
        self.kind = kind
        if kind == "sqlite":
            self.options: tuple[str, ...] = ("--to", "sqlite:///t.db")
            self._db = Path(request.getfixturevalue("tmp_path")) / "t.db"
        elif kind == "postgresql":
            dsn, schema, self._sql = request.getfixturevalue("pg")
            self._schema = schema
            self.options = ("--to", dsn, "--schema-name", schema)
        else:
            ingest: IngestServer = request.getfixturevalue("ingest")
            self._ingest = ingest
            self.options = ("--to", ingest.url, "--http-preset", "clickhouse")

    def ids(self) -> list[int]:
        if self.kind == "sqlite":
            with sqlite3.connect(self._db) as conn:
                return sorted(r[0] for r in conn.execute("SELECT id FROM events"))
        if self.kind == "postgresql":
            return sorted(r[0] for r in self._sql(f'SELECT id FROM "{self._schema}".events'))
        return sorted(int(row["id"]) for row in self._ingest.state()["tables"]["events"]["rows"])

    def bookkeeping(self, query: str) -> list[Any]:
        """``query`` with ``{t}`` naming the bookkeeping table (SQL targets)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self._db) as conn:
                return conn.execute(query.format(t="_bulkload_checkpoints")).fetchall()
        return list(self._sql(query.format(t=f'"{self._schema}"._bulkload_checkpoints')))

    def drop(self) -> None:
        """The table gone (the ingest server forgets everything)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self._db) as conn:
                conn.execute("DROP TABLE events")
        elif self.kind == "postgresql":
            self._sql(f'DROP TABLE "{self._schema}".events')
        else:
            self._ingest.reset()
