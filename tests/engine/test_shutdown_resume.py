"""Signals, checkpoints and resume, on real processes and real SQLite files.

The import is slowed down with --rate so there is time to interrupt it mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ChildOutput

ROWS = 20_000


def _source(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("id,payload\n" + "".join(f"{i},row {i}\n" for i in range(ROWS)))
    return path


def _command(json_name: str, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "bulkload", "import", "events.csv", "--to", "sqlite:///o.db"),
        *("--batch-size", "200", "--checkpoint", "events.ckpt", "--json", json_name, "-q"),
        *extra,
    ]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command("s.json", *extra),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _wait_for_rows(db: Path, at_least: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                if conn.execute("SELECT count(*) FROM events").fetchone()[0] >= at_least:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{db} never reached {at_least} rows")


def _ids(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")]


def _resume(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command("r.json", "--resume"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )


def test_sigint_drains_writes_checkpoint_and_exits_4(tmp_path: Path):
    _source(tmp_path)
    proc = _start(tmp_path, "--rate", "4000")
    _wait_for_rows(tmp_path / "o.db", 2000)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert "stopping: finishing the batches in flight" in err and "Traceback" not in err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["outcome"] == "interrupted"
    loaded = summary["rows_loaded"]
    assert 0 < loaded < ROWS and summary["rows_unfinished"] == 0
    assert summary["rows_read"] == loaded  # queued batches were not taken: nothing half-done
    assert len(_ids(tmp_path / "o.db")) == loaded
    checkpoint = json.loads((tmp_path / "events.ckpt").read_text())
    committed = sum(c for _, _, c in next(iter(checkpoint["sources"].values()))["committed"])
    assert committed == loaded

    resumed = _resume(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    second = json.loads((tmp_path / "r.json").read_text())
    assert second["rows_skipped"] == loaded and second["rows_loaded"] == ROWS - loaded
    assert _ids(tmp_path / "o.db") == list(range(ROWS))


def test_second_sigint_aborts_at_once(tmp_path: Path):
    _source(tmp_path)
    # The first batch goes at once, the next is due 5 s later: a drain would wait for it,
    # so the second signal surely comes mid-drain, and an abort is told from a drain.
    # (At 1000 rows/s SQLite's one writer drained within 0.1 s, and the second signal
    # sometimes hit a process already exiting.)
    proc = _start(tmp_path, "--rate", "100", "--batch-size", "500")  # the last value wins
    output = ChildOutput(proc)
    _wait_for_rows(tmp_path / "o.db", 500)
    proc.send_signal(signal.SIGINT)
    output.wait_for("stopping: finishing the batches in flight")  # the first was handled
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = output.finish(timeout=10)
    assert proc.returncode == 4 and "Traceback" not in err
    assert time.monotonic() - started < 3
    # what the table holds is exactly what the checkpoint table says was committed
    with sqlite3.connect(tmp_path / "o.db") as conn:
        recorded = conn.execute("SELECT sum(row_count) FROM _bulkload_checkpoints").fetchone()[0]
    assert recorded == len(_ids(tmp_path / "o.db"))


def test_kill_9_then_resume_loads_every_row_exactly_once(tmp_path: Path):
    _source(tmp_path)
    proc = _start(tmp_path, "--rate", "5000")
    _wait_for_rows(tmp_path / "o.db", 3000)
    proc.kill()  # SIGKILL: no handler, no drain, no final checkpoint save
    proc.wait(timeout=10)
    before = _ids(tmp_path / "o.db")
    assert 0 < len(before) < ROWS

    resumed = _resume(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["rows_skipped"] == len(before)
    # the resumed run's summary adds up (rows of skipped batches were once subtracted
    # from the next batch's rows read: -420,000 read, "-680,000 not finished")
    assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_rejected"]
    assert summary["rows_loaded"] + summary["rows_skipped"] == ROWS
    # row for row: every source row once, none twice, none invented
    with sqlite3.connect(tmp_path / "o.db") as conn:
        table = conn.execute("SELECT id, payload FROM events ORDER BY id").fetchall()
    assert table == [(i, f"row {i}") for i in range(ROWS)]


def test_resume_refuses_a_changed_file(tmp_path: Path):
    source = _source(tmp_path)
    proc = _start(tmp_path, "--limit", "1000")
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    with source.open("a") as fh:
        fh.write("999999,appended\n")
    resumed = _resume(tmp_path)
    assert resumed.returncode == 3
    assert "events.csv changed since the checkpoint was written" in resumed.stderr


def test_resume_needs_the_same_batch_size(tmp_path: Path):
    _source(tmp_path)
    proc = _start(tmp_path, "--limit", "1000")
    proc.communicate(timeout=30)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkload",
            "import",
            "events.csv",
            "--to",
            "sqlite:///o.db",
            "--batch-size",
            "300",
            "--checkpoint",
            "events.ckpt",
            "--resume",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3 and "resume with the same batch size" in result.stderr


def test_forget_checkpoints_removes_the_bookkeeping(tmp_path: Path):
    _source(tmp_path)
    proc = _start(tmp_path, "--limit", "1000")
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert (
            conn.execute("SELECT sum(row_count) FROM _bulkload_checkpoints").fetchone()[0] == 1000
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkload",
            "forget-checkpoints",
            "--to",
            "sqlite:///o.db",
            "--table",
            "events",
            "--checkpoint",
            "events.ckpt",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "removed 5 checkpoint key(s) of table 'events'" in result.stdout
    assert not (tmp_path / "events.ckpt").exists()
    with sqlite3.connect(tmp_path / "o.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"events"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_after_the_first_never_kill_the_process(tmp_path: Path, sig: signal.Signals):
    """SIGTERM works as Ctrl-C: the first drains, the second aborts, and any that come
    while the summary and JSON are written are ignored: always exit 4, the JSON whole
    (a second SIGTERM 50 ms after the first used to end the process with 143)."""
    _source(tmp_path)
    proc = _start(tmp_path, "--rate", "100", "--batch-size", "500")
    _wait_for_rows(tmp_path / "o.db", 500)
    proc.send_signal(sig)
    time.sleep(0.05)
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(sig)  # a storm, through the abort and the writing of the summary
        time.sleep(0.01)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 4, err
    assert "Traceback" not in err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_rejected"]
