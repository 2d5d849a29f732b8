"""A write that never answers (or answers late) holds one writer, not the run: the other
writers keep the target busy, for every scheduler (the import engine, AsyncLoader,
execute_concurrent), against the real HTTP ingest server and a real PostgreSQL whose
trigger sleeps on chosen rows.

The HTTP tests guard the engine (a writer started only when another took a batch left
the stalled run with one). The PostgreSQL ones pass without that fix (connecting takes
long enough for batches to queue, and writers start for them): they guard the backend's
pool, sized to the concurrency (a pool of one connection fails both)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest

import bulkload
from bulkload.config import EngineOptions
from tests.conftest import RunCli
from tests.servers.fixtures import IngestServer, ingest, ingest_process

__all__ = ["ingest", "ingest_process"]  # the fixtures, used by the tests here

STALL_S = 4.0  # each stalled write; the tests' bounds are fractions of N x this


def _csv(path: Path, rows: int) -> None:
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(rows)))


def test_a_request_that_never_answers_does_not_stop_the_others(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path
):
    """The first request hangs past --timeout: the other nine batches load meanwhile
    (before the fix: a writer started only when another took a batch, so none came to
    help and the run loaded nothing)."""
    _csv(tmp_path / "h.csv", 1000)
    ingest.control(script=[{"stall": 60}])
    result = run_cli(
        *("import", "h.csv", "--to", f"{ingest.url}/ingest", "--batch-size", "100"),
        *("-c", "8", "--timeout", "5s", "--retries", "0", "--json", "out.json", "-q"),
    )
    summary = json.loads((tmp_path / "out.json").read_text())
    assert result.code == 2, result.stderr  # the stuck batch gave up: its rows are in doubt
    assert "timed out after 5 s" in result.error_line
    assert summary["rows_loaded"] == 900
    assert summary["rows_in_doubt"] == 100
    assert len(ingest.state()["rows"]) == 900


def test_slow_writes_are_served_by_every_writer(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path
):
    """Eight slow requests are in flight at once with -c 8: the concurrency asked for is
    the concurrency used (in sequence they would take 8 x STALL_S)."""
    _csv(tmp_path / "h.csv", 2000)
    ingest.control(script=[{"stall": STALL_S}] * 8)
    result = run_cli(
        *("import", "h.csv", "--to", f"{ingest.url}/ingest", "--batch-size", "100"),
        *("-c", "8", "--json", "-", "-q"),
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows_loaded"] == 2000
    assert summary["in_flight_max"] == 8
    assert summary["elapsed_s"] < 4 * STALL_S


def _slow_rows(sql, schema: str, ids: str, seconds: float) -> None:
    """Table h, whose trigger sleeps ``seconds`` on each row with an id in ``ids``."""
    sql(f'CREATE TABLE "{schema}".h (id bigint, name text)')
    sql(
        f'CREATE FUNCTION "{schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ '
        f"BEGIN IF NEW.id IN ({ids}) THEN PERFORM pg_sleep({seconds}); END IF; "
        f"RETURN NEW; END $$"
    )
    sql(
        f'CREATE TRIGGER slow BEFORE INSERT ON "{schema}".h '
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".slow()'
    )


@pytest.mark.postgres
def test_postgresql_a_write_stuck_in_a_trigger_does_not_stop_the_others(
    pg, run_cli: RunCli, tmp_path: Path
):
    """The first batch's first row sleeps past --timeout: the other batches load."""
    dsn, schema, sql = pg
    _slow_rows(sql, schema, "0", 3 * STALL_S)
    _csv(tmp_path / "h.csv", 1000)
    result = run_cli(
        *("import", "h.csv", "--to", dsn, "--schema-name", schema, "--batch-size", "100"),
        *("-c", "4", "--timeout", f"{STALL_S}s", "--retries", "0", "--json", "out.json"),
        "-q",
    )
    # the server sleeps on after the client gave up: end it, not the schema's drop
    sql(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
        "WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        f'%"{schema}"%',
    )
    summary = json.loads((tmp_path / "out.json").read_text())
    assert result.code == 2, result.stderr
    assert summary["rows_loaded"] == 900
    assert sql(f'SELECT count(*) FROM "{schema}".h')[0][0] == 900


@pytest.mark.postgres
def test_postgresql_rows_that_sleep_in_a_trigger_keep_every_writer_busy(
    pg, run_cli: RunCli, tmp_path: Path
):
    """The first row of each of the first four batches sleeps in a trigger: four writes
    wait at once (-c 4), and the rest load as they end."""
    dsn, schema, sql = pg
    _slow_rows(sql, schema, "0, 100, 200, 300", STALL_S)
    _csv(tmp_path / "h.csv", 1000)
    result = run_cli(
        *("import", "h.csv", "--to", dsn, "--schema-name", schema, "--batch-size", "100"),
        *("-c", "4", "--json", "-", "-q"),
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows_loaded"] == 1000
    assert summary["in_flight_max"] == 4
    assert summary["elapsed_s"] < 3 * STALL_S  # in sequence: 4 x STALL_S
    assert sql(f'SELECT count(*) FROM "{schema}".h')[0][0] == 1000


def test_async_loader_keeps_its_concurrency_while_writes_stall(ingest: IngestServer):
    ingest.control(script=[{"stall": STALL_S}] * 4)
    started = time.monotonic()
    with bulkload.AsyncLoader(
        f"{ingest.url}/ingest", "t", concurrency=4, batch_size=10, flush_interval=None
    ) as loader:
        for i in range(80):
            loader.add({"id": i})
    assert time.monotonic() - started < 3 * STALL_S  # in sequence: 4 x STALL_S
    assert len(ingest.state()["rows"]) == 80


def test_execute_concurrent_keeps_its_concurrency_while_writes_stall(ingest: IngestServer):
    ingest.control(script=[{"stall": STALL_S}] * 4)
    batches = [
        pa.RecordBatch.from_pydict({"id": list(range(i * 10, i * 10 + 10))}) for i in range(8)
    ]
    started = time.monotonic()
    results = bulkload.execute_concurrent(
        f"{ingest.url}/ingest", batches, concurrency=4, table="t", options=EngineOptions()
    )
    assert time.monotonic() - started < 3 * STALL_S  # in sequence: 4 x STALL_S
    assert isinstance(results, list) and all(r.success for r in results)
    assert len(ingest.state()["rows"]) == 80
