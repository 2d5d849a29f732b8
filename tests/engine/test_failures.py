"""Retries, bisection, the bad-records file and error limits, end to end with sim://."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bulkload.backends.sim import SimBackend
from tests.conftest import read_table

ROWS = "id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, 2001))


def test_transient_errors_are_retried_and_counted(run_cli, write_file):
    write_file("d.csv", ROWS)
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        "sim://?latency=1ms&error_rate=0.2&throttle_rate=0.1&seed=5",
        "--batch-size",
        "100",
        "-c",
        "4",
        "--retries",
        "20",
        "--retry-max-wait",
        "0.01",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows_loaded"] == 2000 and summary["rows_rejected"] == 0
    assert summary["retries"] == sum(summary["retry_causes"].values()) > 0
    assert set(summary["retry_causes"]) == {"503 service unavailable", "429 too many requests"}


def test_bisection_isolates_bad_rows_into_the_bad_records_file(run_cli, write_file, tmp_path: Path):
    write_file("d.csv", ROWS)
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        "sim://?latency=0ms&reject_rate=0.01&seed=9",
        "--batch-size",
        "500",
        "--bad-records",
        "bad/rejected.csv",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 1
    summary = json.loads(result.stdout)
    rejected = summary["rows_rejected"]
    assert 5 <= rejected <= 40
    assert summary["rows_loaded"] + rejected == summary["rows_read"] == 2000
    assert summary["bad_records"] == "bad/rejected.csv"
    with (tmp_path / "bad" / "rejected.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == rejected
    for row in rows:
        line = int(row["line"])
        assert row["record"] == f"{line - 1},name {line - 1}"  # the source row, verbatim
        assert row["source"] == "d.csv" and row["reason"].startswith("422")


def test_sqlite_constraint_rows_go_to_the_default_bad_records_file(
    run_cli, write_file, tmp_path: Path
):
    import sqlite3

    with sqlite3.connect(tmp_path / "o.db") as conn:
        conn.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'x'))")
    write_file("d.csv", "id,name\n1,a\n2,x\n3,c\n1,dup\n5,e\n")
    result = run_cli("import", "d.csv", "--to", "sqlite:///o.db", "-q")
    assert result.code == 1
    assert read_table(tmp_path / "o.db", "d") == [(1, "a"), (3, "c"), (5, "e")]
    bad = (tmp_path / "d.bad-records.csv").read_text()
    assert "d.csv,3,CHECK constraint failed" in bad and '"2,x"' in bad
    assert "d.csv,5,UNIQUE constraint failed: d.id" in bad
    assert "all rejected rows: d.bad-records.csv" in result.stdout


def test_no_bad_records_file_without_rejections(run_cli, write_file, tmp_path: Path):
    write_file("d.csv", ROWS)
    assert run_cli("import", "d.csv", "--to", "null://", "-q").code == 0
    assert not list(tmp_path.glob("*.bad-records.csv"))


def test_max_errors_count_aborts(run_cli, write_file):
    write_file("d.csv", "n\n" + "1\nx\n" * 50)
    result = run_cli("import", "d.csv", "--type", "n=int", "--to", "null://", "--max-errors", "10")
    assert result.code == 2
    assert "stopped: 11 rows rejected, more than --max-errors 10;" in result.error_line


def test_max_errors_percent(run_cli, write_file):
    write_file("d.csv", "n\n" + "1\n" * 98 + "x\nx\n")
    ok = run_cli("import", "d.csv", "--type", "n=int", "--to", "null://", "--max-errors", "2%")
    assert ok.code == 1
    over = run_cli("import", "d.csv", "--type", "n=int", "--to", "null://", "--max-errors", "1.5%")
    assert (
        over.code == 2
        and "stopped: 2.00% of 100 rows rejected, more than --max-errors 1.5%" in over.error_line
    )


def test_fail_fast(run_cli, write_file):
    write_file("d.csv", "n\n1\n2\nx\n4\n")
    result = run_cli("import", "d.csv", "--type", "n=int", "--to", "null://", "--fail-fast")
    assert result.code == 2
    assert result.error_line == (
        "bulkload: error: --fail-fast: d.csv:4: column 'n': cannot convert 'x' to int"
        " (load the column as --type n=string)"
    )


def test_timeout_counts_as_transient(run_cli, write_file):
    write_file("d.csv", "n\n1\n")
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        "sim://?latency=300ms",
        "--timeout",
        "0.05",
        "--retries",
        "2",
        "--retry-max-wait",
        "0.01",
    )
    assert result.code == 2
    assert "gave up after 2 retries: timed out after 0.05 s" in result.error_line


def test_connections_cap_the_in_flight_writes(run_cli, write_file, monkeypatch):
    servers: list[SimBackend] = []
    init = SimBackend.__init__

    def recording_init(self: SimBackend, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        servers.append(self)

    monkeypatch.setattr(SimBackend, "__init__", recording_init)
    write_file("d.csv", ROWS)
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        "sim://?latency=20ms",
        "--connections",
        "3",
        "--requests-per-connection",
        "2",
        "-c",
        "50",
        "--batch-size",
        "50",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["concurrency"] == 50 and summary["effective_concurrency"] == 6
    assert summary["in_flight_max"] == 6  # measured by the engine, not the setting
    # what the server saw: 40 writes of 20 ms, at most 6 at once, and 6 reached
    (server,) = servers
    assert server.batches_accepted == 40
    assert server.peak_active == 6


def test_parallel_readers_load_every_file(run_cli, write_file, tmp_path: Path):
    for part in range(4):
        write_file(
            f"parts/p{part}.csv", "id\n" + "".join(f"{part * 1000 + i}\n" for i in range(1000))
        )
    result = run_cli(
        "import",
        "parts",
        "--readers",
        "3",
        "--table",
        "p",
        "--batch-size",
        "100",
        "--to",
        "sqlite:///o.db",
        "-q",
    )
    assert result.code == 0, result.stderr
    ids = sorted(row[0] for row in read_table(tmp_path / "o.db", "p"))
    assert ids == list(range(4000))


def test_the_summary_reports_the_writes_really_in_flight(run_cli, write_file):
    """Writers start on demand: against a target that answers at once, -c 64 is served
    by a writer or two, and the JSON says how many were really in flight."""
    write_file("n.csv", "id\n" + "".join(f"{i}\n" for i in range(20_000)))
    result = run_cli(
        "import", "n.csv", "--to", "null://", "-c", "64", "--batch-size", "100",
        "--json", "-", "-q",
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["concurrency"] == 64
    assert 1 <= summary["in_flight_max"] < 64
