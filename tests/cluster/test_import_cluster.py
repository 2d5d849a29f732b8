"""``bulkload import --cluster local:2``: several files loaded by 2 worker processes hold
exactly the source rows, also when a worker process is killed mid-import (with
--checkpoint, Dask re-runs its task, which skips what its batches committed)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("distributed")

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

FILES, ROWS_PER_FILE = 4, 5000


def write_files(directory: Path) -> None:
    for number in range(FILES):
        lines = ["id,name,value"]
        for row in range(ROWS_PER_FILE):
            key = number * ROWS_PER_FILE + row
            lines.append(f"{key},n{key},{key * 0.5}")
        (directory / f"part{number}.csv").write_text("\n".join(lines) + "\n")


def held(sql, schema: str) -> tuple[int, int]:
    count, distinct = sql(f'SELECT count(*), count(DISTINCT id) FROM "{schema}".events')[0]
    return count, distinct


def test_several_files_hold_exactly_the_source_rows(run_cli_subprocess, tmp_path: Path, pg):
    dsn, schema, sql = pg
    write_files(tmp_path)
    (tmp_path / "bad.csv").write_text("id,name,value\n999999,x,not-a-number\n")
    result = run_cli_subprocess(
        "import", "part*.csv", "bad.csv", "--to", dsn, "--schema-name", schema, "--table",
        "events", "--type", "value=float", "--cluster", "local:2", "--batch-size", "500",
        "--progress", "off", "--json", "run.json", timeout=180,
    )  # fmt: skip
    assert result.code == 1, result.stderr  # one row rejected
    assert held(sql, schema) == (FILES * ROWS_PER_FILE, FILES * ROWS_PER_FILE)
    bad = (tmp_path / "events.bad-records.csv").read_text().splitlines()
    assert bad[0] == "source,line,reason,record" and len(bad) == 2
    assert bad[1].startswith("bad.csv,2,")


def test_a_worker_killed_mid_import_leaves_every_row_exactly_once(tmp_path: Path, pg):
    dsn, schema, sql = pg
    write_files(tmp_path)
    command = [
        sys.executable, "-m", "bulkload", "import", "part*.csv", "--to", dsn, "--schema-name",
        schema, "--table", "events", "--cluster", "local:2", "--batch-size", "250",
        "--checkpoint", "run.checkpoint.json", "--progress", "off",
        "--rate", "2500", "--concurrency", "2",  # ~2 s per file: time to kill a worker
    ]  # fmt: skip
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _loaded(sql, schema) < ROWS_PER_FILE + 1000:  # the second round is running
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        workers = [
            child
            for child in psutil.Process(run.pid).children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2
        workers[0].send_signal(signal.SIGKILL)
        _, err = run.communicate(timeout=150)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, err.decode()
    assert held(sql, schema) == (FILES * ROWS_PER_FILE, FILES * ROWS_PER_FILE)


def _loaded(sql, schema: str) -> int:
    try:
        return int(sql(f'SELECT count(*) FROM "{schema}".events')[0][0])
    except Exception:  # the table is not there yet
        return 0
