"""``bulkload bench`` end to end: the real CLI, real targets, real signals."""

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

QUICK = ("--warmup", "0.2s", "--duration", "0.6s")


def test_a_sweep_into_sqlite_reports_and_saves_what_it_wrote(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", "--synthetic", "rows=20000,columns=5,seed=3", "--to", "sqlite:///b.db",
        "--sweep", "1,2", "--batch-size", "500", *QUICK, "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "recommended:" in result.stdout and "rows/s" in result.stdout
    saved = json.loads((tmp_path / "run.json").read_text())
    with sqlite3.connect(tmp_path / "b.db") as conn:
        held = conn.execute("SELECT count(*) FROM bulkload_bench").fetchone()[0]
    assert held == saved["rows_written"] == sum(lvl["rows_written"] for lvl in saved["levels"])
    assert saved["kind"] == "bulkload-bench" and saved["schema_version"] == 1
    assert saved["command"][:2] == ["bulkload", "bench"]
    assert saved["machine"]["cores"] == os.cpu_count()
    assert [lvl["concurrency"] for lvl in saved["levels"]] == [1, 2]
    for level in saved["levels"]:
        assert set(level["latency_ms"]) >= {"p50", "p90", "p99", "p999", "max", "mean", "stdev"}
        assert level["latency_hdr"] and level["rows_per_s"] > 0 and level["in_flight_max"] >= 1
    assert saved["recommended_concurrency"] in (1, 2)
    assert any("growing table" in w for w in saved["warnings"])


def test_the_terminal_counts_errors_as_the_json_and_the_gates_do(run_cli, tmp_path: Path):
    # failed attempts, retried ones included: a terminal showing failed batches only
    # said "errors 0" for a run whose --threshold errors<1 then failed
    result = run_cli(
        "bench", "--synthetic", "rows=20000,columns=3", "--to",
        "sim://?latency=1ms&error_rate=0.1&seed=3", "--sweep", "4", "--batch-size", "10",
        *QUICK, "--json", "run.json", "--retry-max-wait", "0",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    assert level["errors"] > 0 and level["batches_failed"] == 0  # every one retried
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("★"))
    errors, retries, _cpu = row.split()[-3:]  # the table's last three columns
    assert (errors, retries) == (f"{level['errors']:,}", f"{level['retries']:,}"), row


def test_the_open_model_from_the_command_line(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", "--synthetic", "rows=5000,columns=3", "--to", "sim://?latency=2ms",
        "--sweep-rate", "100,400", "--concurrency", "4", "--batch-size", "10", *QUICK,
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["model"] == "open"
    rates = [lvl["rate"] for lvl in saved["levels"]]
    assert rates == [100.0, 400.0]
    for level in saved["levels"]:
        # the schedule is kept: every send due in the window started, or (a loaded
        # machine's stall at its end) was counted as missed
        due = level["rate"] * level["elapsed_s"]
        assert level["batches"] + level["sends_missed"] == pytest.approx(due, rel=0.1, abs=2)
        assert level["batches_per_s"] > 0.5 * level["rate"]
        assert level["service_time_ms"]["p50"] >= 2.0
    # Which one depends on the load here; on a machine too busy to keep even 100 writes/s
    # on schedule, none, and then the levels must show why.
    if saved["recommended_rate"] is None:
        # (followed by what the rates fell short on)
        assert saved["recommendation"].startswith("no arrival rate was sustained")
        assert all(
            lvl["sends_missed"] or lvl["sends_delayed"] or lvl["batches_per_s"] < lvl["rate"] * 0.95
            for lvl in saved["levels"]
        )
    else:
        assert saved["recommended_rate"] in (100.0, 400.0)


def test_an_unreachable_target_is_one_line_exit_5_and_still_saved(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", "--synthetic", "rows=1000", "--to",
        "postgresql://loader:sekret@127.0.0.1:1/db", "--sweep", "1", *QUICK,
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 5, result.stderr
    assert result.error_line.startswith("bulkload: error: postgresql://loader:***@127.0.0.1:1")
    saved = (tmp_path / "run.json").read_text()
    assert "sekret" not in saved + result.stdout + result.stderr
    assert json.loads(saved)["outcome"] == "failed"


def test_ctrl_c_keeps_the_finished_levels_and_exits_4(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bulkload", "bench", "--synthetic", "rows=5000",
            "--to", "sim://?latency=2ms", "--sweep", "1,2,4,8,16", "--warmup", "0.1s",
            "--duration", "1s", "--json", "run.json", "--progress", "plain",
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until two levels are done
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("level 2/"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, "".join(seen) + err
    assert "Traceback" not in err
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["outcome"] == "interrupted"
    done = [lvl["concurrency"] for lvl in saved["levels"]]
    assert done[:2] == [1, 2] and len(done) < 5
    assert all(lvl["outcome"] == "completed" for lvl in saved["levels"])
    assert "interrupted" in out
    assert f"(from a partial sweep: {len(done)} of 5 levels)" in saved["recommendation"]


def test_bench_reads_files_and_cycles_them(run_cli, write_file, tmp_path: Path):
    write_file("d.csv", "id,name\n" + "".join(f"{i},n{i}\n" for i in range(50)))
    result = run_cli(
        "bench", "d.csv", "--to", "sqlite:///b.db", "--sweep", "1", "--batch-size", "10",
        "--warmup", "0s", "--batches", "40", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    (level,) = saved["levels"]
    assert level["batches"] == 40  # 40 writes of 10 rows from a 50-row file: cycled
    with sqlite3.connect(tmp_path / "b.db") as conn:
        assert conn.execute("SELECT count(*) FROM d").fetchone()[0] == saved["rows_written"]


def test_cluster_and_processes_are_not_combined(run_cli):
    result = run_cli(
        "bench", "--synthetic", "rows=100", "--to", "null://", "--cluster", "local:2",
        "--processes", "2",
    )  # fmt: skip
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --cluster and --processes cannot be combined: give one of them"
    )


def test_a_huge_level_on_a_target_that_answers_at_once_ends_in_the_time_asked(run_cli, tmp_path):
    """-c 100,000 on null://: writers start on demand (another while nearly all are in a
    write), so the two a target answering without suspending can use serve it, and the
    level ends in about its warm-up and window. Before, 100,000 writers taking turns of
    64 writes each kept the clock from running for minutes."""
    started = time.monotonic()
    result = run_cli(
        "bench", "--synthetic", "rows=2000,columns=2", "--to", "null://", "--sweep", "100000",
        "--batch-size", "10", "--warmup", "0.5s", "--duration", "0.3s", "--json", "run.json",
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.code == 0, result.stderr
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    assert level["outcome"] == "completed" and level["batches"] > 0
    assert level["in_flight_max"] <= 3
    assert took < 20  # 0.8 s asked; before: minutes
