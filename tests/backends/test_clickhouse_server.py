"""The clickhouse preset against a real ClickHouse server (Debian's clickhouse-server,
started here on free ports in a scratch directory; skipped where it is not installed,
a failure under CI=true). The fakes in test_http_presets.py cover the API's corners; this
checks that a real server takes what the preset sends: its CREATE TABLE, both insert
formats, NULLs, and a row it cannot parse (which an old server answers with a 500)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.fixtures import dying_with_this_process, free_port, stop

pytestmark = [pytest.mark.xdist_group("clickhouse"), pytest.mark.timeout(120)]

SERVER_CANDIDATES = ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse")


class ClickHouse:
    def __init__(self, url: str):
        self.url = url

    def query(self, sql: str) -> str:
        request = urllib.request.Request(self.url, data=sql.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            text: str = answer.read().decode()
        return text

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.query(f"{sql} FORMAT JSONEachRow").splitlines()]


def _server_binary() -> list[str] | None:
    for candidate in SERVER_CANDIDATES:
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return [found, "server"] if found.endswith("/clickhouse") else [found]
    return None


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouse]:
    binary = _server_binary()
    config = Path("/etc/clickhouse-server/config.xml")
    if binary is None or not config.exists():
        reason = "no ClickHouse server: apt-get install clickhouse-server"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("clickhouse")
    http_port = free_port()
    overrides = {
        "http_port": http_port,
        "tcp_port": free_port(),
        "interserver_http_port": free_port(),
        "listen_host": "127.0.0.1",
        "path": f"{base}/data/",
        "tmp_path": f"{base}/tmp/",
        "user_files_path": f"{base}/user_files/",
        "format_schema_path": f"{base}/format_schemas/",
        "logger.log": f"{base}/server.log",
        "logger.errorlog": f"{base}/error.log",
    }
    command = [
        *binary,
        f"--config-file={config}",
        "--",
        *(f"--{k}={v}" for k, v in overrides.items()),
    ]
    output = (base / "stdout").open("wb")
    process = subprocess.Popen(
        dying_with_this_process(command), cwd=base, stdout=output, stderr=subprocess.STDOUT
    )
    server = ClickHouse(f"http://127.0.0.1:{http_port}/")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.query("SELECT 1")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (base / "error.log").read_text() if (base / "error.log").exists() else ""
                    pytest.fail(f"ClickHouse did not start: {log[-2000:]}")
                time.sleep(0.2)
        yield server
    finally:
        stop(process, timeout=30)
        output.close()


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    lines = ["id,name,score"] + [f"{i},name {i},{i / 4}" for i in range(1, 501)]
    lines[7] = "7,,1.75"  # an empty field: NULL
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("body_format", ["ndjson", "csv"])
def test_every_row_reaches_a_real_clickhouse_once(
    clickhouse: ClickHouse, run_cli: Any, tmp_path: Path, body_format: str
) -> None:
    table = f"events_{body_format}"
    result = run_cli(
        "import", str(_csv(tmp_path)), "--to", clickhouse.url, "--http-preset", "clickhouse",
        "--table", table, "--http-format", body_format, "--batch-size", "64",
        "--if-exists", "replace", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["rows_loaded"] == 500 and summary["rows_in_doubt"] == 0
    (held,) = clickhouse.rows(
        f"SELECT count() AS n, uniqExact(id) AS ids, sum(id) AS total, "
        f"countIf(isNull(name)) AS nulls, sum(score) AS scores FROM {table}"
    )
    # 64-bit integers come back quoted (output_format_json_quote_64bit_integers)
    assert int(held["n"]) == int(held["ids"]) == 500
    assert int(held["total"]) == 500 * 501 // 2
    assert int(held["nulls"]) == 1
    assert held["scores"] == pytest.approx(sum(i / 4 for i in range(1, 501)))
    created = clickhouse.query(f"SHOW CREATE TABLE {table}")
    assert "Nullable(Int64)" in created and "Nullable(Float64)" in created
    assert "MergeTree" in created


@pytest.mark.parametrize("body_format", ["ndjson", "csv"])
def test_a_row_clickhouse_cannot_parse_is_rejected_and_the_rest_loaded(
    clickhouse: ClickHouse, run_cli: Any, tmp_path: Path, body_format: str
) -> None:
    """A table whose id is a plain Int64: 'oops' is refused by the server (HTTP 500 from
    an old ClickHouse, 400 from a new one); bisection isolates it, nothing is in doubt."""
    table = f"strict_{body_format}"
    clickhouse.query(f"DROP TABLE IF EXISTS {table}")
    clickhouse.query(f"CREATE TABLE {table} (id Int64, name String) ENGINE = MergeTree ORDER BY id")
    source = tmp_path / "ids.csv"
    source.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, 30)) + "oops,bad\n")
    result = run_cli(
        "import", str(source), "--to", clickhouse.url, "--http-preset", "clickhouse",
        "--table", table, "--http-format", body_format, "--batch-size", "100",
        "--retries", "1", "--bad-records", "bad.csv", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 1, result.stderr  # rows were rejected
    summary = json.loads((tmp_path / "run.json").read_text())
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (29, 1)
    assert summary["rows_in_doubt"] == 0 and summary["retries"] == 0
    held = clickhouse.rows(f"SELECT id FROM {table} ORDER BY id")
    assert [int(row["id"]) for row in held] == list(range(1, 30))
    bad = (tmp_path / "bad.csv").read_text()
    assert "ids.csv,31," in bad and "Cannot parse" in bad


def test_if_exists_fail_refuses_a_real_table(
    clickhouse: ClickHouse, run_cli: Any, tmp_path: Path
) -> None:
    clickhouse.query("CREATE TABLE IF NOT EXISTS kept (id Int64) ENGINE = MergeTree ORDER BY id")
    result = run_cli(
        "import", str(_csv(tmp_path)), "--to", clickhouse.url, "--http-preset", "clickhouse",
        "--table", "kept", "--if-exists", "fail",
    )  # fmt: skip
    assert result.code != 0 and "table 'kept' exists" in result.stderr
    assert clickhouse.query("SELECT count() FROM kept").strip() == "0"


def test_the_server_url_may_carry_a_database(clickhouse: ClickHouse, run_cli: Any, tmp_path: Path):
    clickhouse.query("CREATE DATABASE IF NOT EXISTS shop")
    url = clickhouse.url + "?" + urllib.parse.urlencode({"database": "shop"})
    result = run_cli(
        "import", str(_csv(tmp_path)), "--to", url, "--http-preset", "clickhouse",
        "--table", "orders", "--if-exists", "replace",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert clickhouse.query("SELECT count() FROM shop.orders").strip() == "500"


def test_csv_into_a_users_table_goes_by_name_and_null_takes_the_default(
    clickhouse: ClickHouse, run_cli: Any, tmp_path: Path
) -> None:
    """A table of the user's: columns in another order than the file's (an old server
    fills CSVWithNames by position unless the INSERT names them), and columns that cannot
    hold NULL (they get their default, not a literal \\N, nor a refused row)."""
    clickhouse.query("DROP TABLE IF EXISTS theirs")
    clickhouse.query(
        "CREATE TABLE theirs (b String, a Int64, n Int64, maybe Nullable(String)) "
        "ENGINE = MergeTree ORDER BY a"
    )
    source = tmp_path / "theirs.csv"
    source.write_text("a,b,n,maybe\n1,x,5,y\n2,,,\n")
    result = run_cli(
        "import", str(source), "--to", clickhouse.url, "--http-preset", "clickhouse",
        "--table", "theirs", "--http-format", "csv", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    held = clickhouse.rows("SELECT a, b, n, maybe FROM theirs ORDER BY a")
    assert [(int(r["a"]), r["b"], int(r["n"]), r["maybe"]) for r in held] == [
        (1, "x", 5, "y"),
        (2, "", 0, None),
    ]


def test_a_request_the_server_can_never_take_stops_the_run_at_once(
    clickhouse: ClickHouse, run_cli: Any, tmp_path: Path
) -> None:
    """An old server does not know zstd bodies (Code: 89) and says 500: not retried."""
    result = run_cli(
        "import", str(_csv(tmp_path)), "--to", clickhouse.url, "--http-preset", "clickhouse",
        "--table", "zstd_bodies", "--http-compression", "zstd", "--json", "run.json",
    )  # fmt: skip
    summary = json.loads((tmp_path / "run.json").read_text())
    if result.code == 0:  # a newer server reads zstd bodies
        assert summary["rows_loaded"] == 500
        return
    assert result.code == 5 and "Code: 89" in result.stderr, result.stderr
    assert summary["retries"] == 0 and summary["rows_in_doubt"] == 0
