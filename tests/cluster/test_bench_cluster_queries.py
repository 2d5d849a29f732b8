"""``bulkload bench --cluster`` with queries: read, mixed and HTTP request sweeps on a
LocalCluster's 2 worker processes, against a real SQLite file, the test PostgreSQL
server and the real ingest server process. The merged level is the workers' queries
added, per operation, and what the data implies (a key that exists returns its row, a
missing one none; every row written is in the table)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sqlite_orders
from tests.servers.fixtures import IngestServer, ingest, ingest_process

pytest.importorskip("distributed")

__all__ = ["ingest", "ingest_process"]  # the fixtures, used by name

pytestmark = pytest.mark.timeout(240)

# a warm-up: each worker opens its connections and prepares its queries per level, and a
# loaded machine's first queries stall (a level of 0.6 s without one saw no hit at all)
CLUSTER = ("--cluster", "local:2", "--progress", "off", "--warmup", "0.3s", "--duration", "1s")
KEYS = 2000
HIT = "name=hit,weight=3:SELECT name FROM {table} WHERE id = :id"
MISS = "name=miss,weight=1:SELECT name FROM {table} WHERE id = :id + 100000"


def saved(tmp_path: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((tmp_path / "run.json").read_text())
    return found


@pytest.fixture
def orders_db(tmp_path: Path) -> Path:
    return sqlite_orders(tmp_path / "orders.db", KEYS)


def _each_level_is_its_queries_added(run: dict[str, Any]) -> None:
    cluster = run["machine"]["cluster"]
    assert len(cluster["workers"]) == 2
    for level, measured in zip(run["levels"], cluster["levels"], strict=True):
        hit, miss = level["operations"]["hit"], level["operations"]["miss"]
        assert level["kind"] == "query" and level["errors"] == 0
        assert level["batches"] == hit["count"] + miss["count"]  # queries answered
        assert level["batches"] == sum(w["batches"] for w in measured["workers"])
        assert all(w["batches"] > 0 for w in measured["workers"])  # both workers queried
        assert hit["rows"] == hit["count"] > 20 and miss["rows"] == 0 == miss["errors"]
        assert level["rows"] == hit["rows"]
        assert 1.5 < hit["count"] / miss["count"] < 6.0  # weights 3:1, loosely: few queries
        assert hit["latency_hdr"] and miss["latency_hdr"]


def test_a_sqlite_query_set_on_two_workers(run_cli_subprocess, orders_db, tmp_path: Path):
    result = run_cli_subprocess(
        "bench", "--to", f"sqlite:///{orders_db}", *CLUSTER,
        "--query", HIT.format(table="orders"), "--query", MISS.format(table="orders"),
        "--params-synthetic", f"id=uniform(1,{KEYS})", "--sweep", "2,4",
        "--json", "run.json", timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run = saved(tmp_path)
    assert [level["concurrency"] for level in run["levels"]] == [2, 4]
    _each_level_is_its_queries_added(run)
    assert "Traceback" not in result.stderr


def test_a_mixed_sqlite_run_on_two_workers_writes_every_row_it_counts(
    run_cli_subprocess, orders_db, tmp_path: Path
):
    result = run_cli_subprocess(
        "bench", "--to", f"sqlite:///{orders_db}", *CLUSTER,
        "--synthetic", "rows=40000,columns=3", "--table", "loaded", "--batch-size", "50",
        "--query", HIT.format(table="orders"), "--params-synthetic", f"id=uniform(1,{KEYS})",
        "--mix", "write=1,read=3", "--sweep", "2,4", "--json", "run.json", timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run = saved(tmp_path)
    with sqlite3.connect(orders_db) as conn:
        held = conn.execute("SELECT count(*) FROM loaded").fetchone()[0]
    measured = sum(level["operations"]["write"]["rows"] for level in run["levels"])
    assert held == run["rows_written"] >= measured > 0  # the warm-ups' rows too
    for level in run["levels"]:
        write, hit = level["operations"]["write"], level["operations"]["hit"]
        assert level["kind"] == "mixed" and hit["rows"] == hit["count"] > 20
        assert level["batches"] == write["count"] + hit["count"]
        # write=1,read=3: each worker spreads its picks evenly, so even a loaded machine's
        # short level holds the ratio (a seeded random draw, alike in every worker and
        # level, measured 1.3 to 8 here: its first 100 picks held 12 writes, not 25)
        assert 2.5 < hit["count"] / write["count"] < 3.6


@pytest.mark.postgres
def test_a_postgresql_query_set_on_two_workers_hides_the_password(
    run_cli_subprocess, tmp_path: Path, pg
):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".orders (id int PRIMARY KEY, name text)')
    sql(f"INSERT INTO \"{schema}\".orders SELECT i, 'n' || i FROM generate_series(1, {KEYS}) i")
    secret_dsn = dsn.replace("postgres@", "postgres:s3cr3t-pw@")  # trust auth ignores it
    assert "s3cr3t-pw" in secret_dsn
    table = f'"{schema}".orders'
    result = run_cli_subprocess(
        "bench", "--to", secret_dsn, *CLUSTER,
        "--query", HIT.format(table=table), "--query", MISS.format(table=table),
        "--params-synthetic", f"id=uniform(1,{KEYS})", "--sweep", "2,4",
        "--json", "run.json", timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    _each_level_is_its_queries_added(saved(tmp_path))
    everything = result.stdout + result.stderr + (tmp_path / "run.json").read_text()
    assert "s3cr3t-pw" not in everything


def test_http_requests_and_their_headers_on_two_workers(
    run_cli_subprocess, ingest: IngestServer, tmp_path: Path
):
    result = run_cli_subprocess(
        "bench", "--to", ingest.url, *CLUSTER,
        "--request", "name=order:GET /orders/{id}", "--ok-status", "404",
        "--request-header", "X-Id: {id}", "--request-header", "Authorization: Bearer ${TOKEN}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "2", "--json", "run.json",
        env={"TOKEN": "t0ken-of-the-workers"}, timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (level,) = saved(tmp_path)["levels"]
    assert level["operations"]["order"]["count"] > 20 and level["errors"] == 0
    gets = ingest.state()["gets"]
    assert len(gets) > 20
    for get in gets:
        assert get["headers"]["X-Id"] == get["path"].rsplit("/", 1)[1]
        assert get["headers"]["Authorization"] == "Bearer t0ken-of-the-workers"
    assert "t0ken" not in result.stdout + result.stderr + (tmp_path / "run.json").read_text()
