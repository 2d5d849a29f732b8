"""Phase times: per-thread CPU and wall counters of a real import, off by default."""

from __future__ import annotations

import json
import threading

import pytest

from bulkload.phase_times import ENV_VAR, PhaseTimes
from tests.conftest import read_table

pytestmark = pytest.mark.timeout(120)


def _orders(rows: int) -> str:
    lines = ["id,name,price,day"]
    lines += [f"{i},name {i},{i}.5,2024-01-{i % 28 + 1:02d}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_an_import_writes_each_threads_phase_times(run_cli_subprocess, write_file, tmp_path):
    source = write_file("orders.csv", _orders(2500))
    report = tmp_path / "phases.json"
    result = run_cli_subprocess(
        "import",
        str(source),
        "--to",
        "sqlite:///out.db",
        "--batch-size",
        "1000",
        "--quiet",
        env={ENV_VAR: str(report)},
    )
    assert result.code == 0, result.stderr
    assert len(read_table(tmp_path / "out.db", "orders")) == 2500

    data = json.loads(report.read_text())
    phases = {(p["thread"], p["phase"]): p for p in data["phases"]}
    by_phase = {phase: thread for thread, phase in phases}
    # 3 batches: each is typed and encoded on the reader thread, written on SQLite's
    assert {p: phases[by_phase[p], p]["count"] for p in ("type", "encode", "write")} == {
        "type": 3,
        "encode": 3,
        "write": 3,
    }
    assert by_phase["type"] == by_phase["encode"] == by_phase["read/parse"]
    assert by_phase["write"].startswith("sqlite-writer")
    assert by_phase["event loop: engine, driver"] == "MainThread"
    for entry in data["phases"]:
        assert entry["cpu"] >= 0 and 0 <= entry["wall"] <= data["wall"]
    for thread, span in data["threads"].items():
        assert 0 <= span["start"] <= span["end"] <= data["wall"], thread


def test_off_by_default_nothing_is_written(run_cli_subprocess, write_file, tmp_path):
    source = write_file("orders.csv", _orders(10))
    result = run_cli_subprocess("import", str(source), "--to", "sqlite:///out.db", "--quiet")
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv", "out.db"]


def test_counters_add_up_per_thread_and_phase():
    times = PhaseTimes()
    with times.phase("ignored"):  # not enabled: nothing is counted
        pass
    assert times.snapshot()["phases"] == []
    times.enable()

    def work() -> None:
        for _ in range(3):
            with times.phase("type"):
                sum(range(10_000))

    thread = threading.Thread(target=work, name="reader")
    thread.start()
    thread.join()
    with times.phase("write"):
        pass
    phases = {(p["thread"], p["phase"]): p["count"] for p in times.snapshot()["phases"]}
    assert phases == {("reader", "type"): 3, (threading.current_thread().name, "write"): 1}


def test_a_phase_that_raises_is_counted_and_the_error_goes_on():
    times = PhaseTimes()
    times.enable()
    with pytest.raises(ValueError), times.phase("parse"):
        raise ValueError("bad row")
    assert [p["count"] for p in times.snapshot()["phases"]] == [1]


def test_an_unwritable_report_path_is_one_warning_not_a_traceback(
    run_cli_subprocess, write_file, tmp_path
):
    source = write_file("orders.csv", _orders(10))
    report = tmp_path / "no-such-dir" / "phases.json"
    result = run_cli_subprocess(
        "import", str(source), "--to", "sqlite:///out.db", "--quiet", env={ENV_VAR: str(report)}
    )
    assert result.code == 0, result.stderr
    assert result.stderr.strip() == (
        f"bulkload: warning: {ENV_VAR}: cannot write {report}: No such file or directory"
    )
    assert len(read_table(tmp_path / "out.db", "orders")) == 10
