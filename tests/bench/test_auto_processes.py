"""bench --processes auto: the decision from measurements handed to it, the thread clock
the probe reads, and the real command against the real ingest server and SQLite."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bulkload.bench import auto_processes
from bulkload.bench.auto_processes import Decision, decide, decided
from bulkload.bench.probe import Probe, ThreadClock
from bulkload.config import BenchConfig
from bulkload.options import build_bench_config, build_import_config
from tests.conftest import ChildOutput
from tests.servers.fixtures import IngestServer

pytestmark = pytest.mark.timeout(180)

HTTP = "http://127.0.0.1:9/ingest"


def config(to: str = HTTP, **options: Any) -> BenchConfig:
    given = {"synthetic": "rows=10000,columns=3", "to": to, "processes": "auto"}
    if "sweep_rate" not in options:
        given["sweep"] = "8,64"
    given.update(options)
    return build_bench_config(given)


def probe(runnable: float | None = 0.97, busy: float = 0.8, **more: Any) -> Probe:
    return Probe(
        level="c=64 batch 10000",
        seconds=1.3,
        busy=busy,
        runnable=runnable,
        writes_per_s=4000.0,
        **more,
    )


def test_auto_is_parsed_and_stays_one_process_until_decided(monkeypatch):
    auto = config()
    assert auto.sweep.processes_auto and auto.sweep.processes == 1
    monkeypatch.setenv("BULKLOAD_PROCESSES", "auto")  # a variable or a profile says it too
    assert build_bench_config({"synthetic": "rows=10", "to": HTTP, "processes": "AUTO"})
    two = config(processes=2)
    assert not two.sweep.processes_auto and two.sweep.processes == 2


def test_auto_is_benchs_default_and_import_splits_only_when_asked():
    default = build_bench_config({"synthetic": "rows=10", "to": HTTP, "sweep": "8"})
    assert default.sweep.processes_auto and not default.sweep.processes_asked
    asked = build_bench_config({"synthetic": "rows=10", "to": HTTP, "processes": "auto"})
    assert asked.sweep.processes_auto and asked.sweep.processes_asked
    assert build_import_config({"paths": ["a.csv"], "to": HTTP}).processes == 1


def test_without_a_command_line_to_start_children_it_stays_one_process():
    """bench run as a library call (no argv): nothing to start children with."""
    decision = auto_processes.ProcessesProbe(config(), argv=()).outcome()
    assert decision is not None
    assert (decision.processes, decision.probe) == (1, None)
    assert decision.reason == "no command line to start worker processes with"


def test_a_saturated_loop_against_a_network_target_takes_every_core():
    decision = decide(config(), cores=4, probe=probe(runnable=0.97))
    assert decision.processes == 4
    assert decision.reason == (
        "one event loop is the limit: its thread wanted a core 97% of the time (on one "
        "80%) during a 1.3 s probe at c=64 batch 10000 against http:// (4,000 writes/s); "
        "4 cores available"
    )
    assert decision.line().startswith("bulkload: --processes auto: 4 processes: one event")
    chosen = decided(config(), decision)
    assert chosen.sweep.processes == 4 and not chosen.sweep.processes_auto
    saved = decision.to_dict()
    assert saved["requested"] == "auto" and saved["processes"] == 4 and saved["cores"] == 4
    assert saved["probe"]["runnable"] == 0.97


def test_a_loop_that_keeps_up_stays_one_process():
    decision = decide(config(to="postgresql://u@db/x"), cores=4, probe=probe(runnable=0.6))
    assert decision.processes == 1
    assert decision.reason.startswith("one event loop keeps up: its thread wanted a core 60%")
    assert decision.line().startswith("bulkload: --processes auto: 1 process: one event loop")
    assert decided(config(), decision).sweep.processes == 1


def test_the_threshold_is_ninety_percent_of_a_core():
    assert decide(config(), 2, probe(runnable=0.89, busy=0.5)).processes == 1
    assert decide(config(), 2, probe(runnable=0.90, busy=0.5)).processes == 2


def test_without_schedstat_the_cpu_time_alone_decides():
    assert decide(config(), 2, probe(runnable=None, busy=0.95)).processes == 2
    one = decide(config(), 2, probe(runnable=None, busy=0.5))
    assert one.processes == 1 and "its thread was on a core 50% of the time" in one.reason


def test_a_failed_probe_decides_nothing():
    decision = decide(config(), 2, probe(runnable=1.0, error="connection refused"))
    assert decision.processes == 1
    assert decision.reason == "the probe at c=64 batch 10000 failed (connection refused)"


@pytest.mark.parametrize(
    ("to", "scheme"),
    [("sqlite:///b.db", "sqlite"), ("null://", "null"), ("sim://?latency=1ms", "sim")],
)
def test_targets_in_this_process_are_never_split_nor_probed(to: str, scheme: str):
    chosen = config(to=to)
    assert not auto_processes.needs_probe(chosen, cores=8)
    decision = decide(chosen, cores=8, probe=None)
    assert decision.processes == 1 and decision.probe is None
    assert decision.reason.startswith(f"{scheme}:// is not a network target")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"sweep": "auto"}, "--sweep auto chooses its levels as it runs"),
        ({"shard": "1/2"}, "--shard runs one share already"),
        ({"cluster": "local:2"}, "--cluster splits the levels among its workers already"),
        ({"sweep": "1,64"}, "the smallest level is 1: nothing to split"),
        ({"synthetic": "rows=1"}, "--synthetic has 1 rows: nothing to split"),
        ({"if_exists": "fail"}, "--if-exists fail: the probe would create the table"),
        ({"if_exists": "replace"}, "--if-exists replace: each process would drop"),
        ({"threshold": ["p99<10ms"], "abort_on_fail": True}, "--abort-on-fail stops at"),
    ],
)
def test_what_cannot_be_split_is_one_process_without_a_probe(options, reason):
    chosen = config(**options)
    assert not auto_processes.needs_probe(chosen, cores=8)
    decision = decide(chosen, cores=8, probe=None)
    assert decision.processes == 1 and reason in decision.reason


def test_stdin_is_one_process():
    chosen = build_bench_config({"paths": ["-"], "to": HTTP, "processes": "auto"})
    assert "stdin" in decide(chosen, cores=8, probe=None).reason


def test_one_core_is_one_process():
    decision = decide(config(), cores=1, probe=None)
    assert decision.reason == "1 core available: nothing to split"


def test_processes_are_capped_by_the_smallest_level_and_the_open_models_cap():
    assert decide(config(sweep="3,64"), 8, probe()).processes == 3
    assert "the smallest level is 3" in decide(config(sweep="3,64"), 8, probe()).reason
    open_model = config(sweep_rate="100,400", concurrency=2)
    assert auto_processes.heaviest_level(open_model) == 400.0
    assert decide(open_model, 8, probe()).processes == 2
    assert auto_processes.heaviest_level(config()) == 64


def test_the_thread_clock_tells_a_spinning_thread_from_a_sleeping_one():
    def spin(seconds: float) -> float:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return 0.0

    results: dict[str, tuple[float, float, float | None]] = {}

    def measure(name: str, work: Any) -> None:
        clock = ThreadClock()
        work(0.4)
        results[name] = clock.shares()

    threads = [
        threading.Thread(target=measure, args=("spin", spin)),
        threading.Thread(target=measure, args=("sleep", time.sleep)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, busy, runnable = results["spin"]
    assert wall >= 0.4 and busy > 0.0
    if runnable is not None:  # Linux: on a core or waiting for one, whatever the load
        assert runnable >= 0.9
    _, busy, runnable = results["sleep"]
    assert busy < 0.2 and (runnable is None or runnable < 0.2)


# ------------------------------------------------------------------- the real command

RUN = ("--synthetic", "rows=4000,columns=3", "--batch-size", "20", "--warmup", "0")


def test_a_saturated_probe_splits_the_sweep_and_says_why(
    run_cli, ingest: IngestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The threshold is lowered so the (real) probe surely decides to split: what is
    tested is that the decision is measured, told, saved and carried out."""
    monkeypatch.setattr(auto_processes, "SATURATED", 0.0)
    monkeypatch.setattr(auto_processes, "available_cores", lambda: 2)
    result = run_cli(
        "bench", *RUN, "--to", f"{ingest.url}/ingest", "--sweep", "2,4", "--batches", "10",
        "--processes", "auto", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if "--processes auto" in ln]
    assert line.startswith("bulkload: --processes auto: 2 processes: one event loop is the limit")
    assert "probe at c=4 batch 20 against http://" in line and line.endswith("2 cores available")
    document = json.loads((tmp_path / "run.json").read_text())
    decision = document["processes_decision"]
    assert decision["processes"] == 2 and decision["reason"] in line
    assert decision["probe"]["level"] == "c=4 batch 20" and decision["probe"]["writes_per_s"] > 0
    assert document["processes"]["count"] == 2  # and it ran that way
    assert [child["exit_code"] for child in document["processes"]["children"]] == [0, 0]
    assert [level["batches"] for level in document["levels"]] == [10, 10]
    # the probe's rows reached the server too, besides the sweep's
    assert len(ingest.state()["rows"]) > document["rows_written"]


def test_a_probe_that_keeps_up_runs_one_process(
    run_cli, ingest: IngestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(auto_processes, "SATURATED", 1.01)  # never reached
    monkeypatch.setattr(auto_processes, "available_cores", lambda: 2)
    result = run_cli(
        "bench", *RUN, "--to", f"{ingest.url}/ingest", "--sweep", "2,4", "--batches", "10",
        "--processes", "auto", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "bulkload: --processes auto: 1 process: one event loop keeps up" in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["processes"] is None
    assert document["processes_decision"]["processes"] == 1
    assert document["processes_decision"]["probe"]["seconds"] > 0


def test_by_default_the_probe_decides_and_says_so_against_a_network_target(
    run_cli, ingest: IngestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(auto_processes, "SATURATED", 0.0)  # surely split, as in a real case
    monkeypatch.setattr(auto_processes, "available_cores", lambda: 2)
    result = run_cli(
        "bench", *RUN, "--to", f"{ingest.url}/ingest", "--sweep", "4", "--batches", "10",
        "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "bulkload: --processes auto: 2 processes: one event loop is the limit" in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["processes_decision"]["probe"]["writes_per_s"] > 0
    assert document["processes"]["count"] == 2


def test_a_target_the_probe_cannot_reach_is_reported_by_the_sweep_with_its_outputs(
    run_cli, tmp_path: Path
):
    """The probe's failure to open is no decision: one process, whose sweep meets the
    same error and ends as a failed sweep does (summary, JSON, exit 5)."""
    result = run_cli(
        "bench", *RUN, "--to", "http://127.0.0.1:1/ingest", "--sweep", "2,4",
        "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 5, result.stderr
    assert "--processes auto: 1 process: the probe at c=4 batch 20 failed (" in result.stderr
    assert "cannot connect to 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["outcome"] == "failed" and document["processes"] is None
    assert "cannot connect" in document["processes_decision"]["probe"]["error"]


def test_a_probe_that_fails_to_open_in_another_way_is_reported_by_the_sweep_too(
    run_cli, ingest: IngestServer, tmp_path: Path
):
    """Not only a TargetError: here the client certificate is not a certificate (an
    ssl.SSLError at open) — one process, whose sweep reports it with its outputs."""
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    https = ingest.url.replace("http://", "https://")
    result = run_cli(
        "bench", *RUN, "--to", f"{https}/ingest", "--sweep", "2,4", "--client-cert",
        "junk.pem", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert "--processes auto: 1 process: the probe at c=4 batch 20 failed (" in result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["outcome"] == "failed" and document["processes"] is None
    assert result.code != 0 and ingest.state()["rows"] == []


def test_by_default_a_run_that_cannot_split_says_nothing(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", *RUN, "--to", "sqlite:///b.db", "--sweep", "2,4", "--batches", "10",
        "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "--processes" not in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["processes"] is None
    assert document["processes_decision"]["reason"].startswith("sqlite:// is not a network")


def test_sqlite_is_never_probed_nor_split(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", *RUN, "--to", "sqlite:///b.db", "--sweep", "2,4", "--batches", "10",
        "--processes", "auto", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert (
        "bulkload: --processes auto: 1 process: sqlite:// is not a network target" in result.stderr
    )
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["processes"] is None
    assert document["processes_decision"]["probe"] is None
    with sqlite3.connect(tmp_path / "b.db") as conn:  # no probe wrote to it
        held = conn.execute("SELECT count(*) FROM bulkload_bench").fetchone()[0]
    assert held == document["rows_written"]


def test_quiet_keeps_the_line_off_the_terminal_not_out_of_the_json(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", *RUN, "--to", "null://", "--sweep", "2", "--batches", "5",
        "--processes", "auto", "--json", "run.json", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "--processes auto" not in result.stderr
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["processes_decision"]["reason"].startswith("null:// is not a network")


def test_a_bad_json_path_is_found_before_the_probe(run_cli, ingest: IngestServer, tmp_path: Path):
    result = run_cli(
        "bench", *RUN, "--to", f"{ingest.url}/ingest", "--sweep", "2", "--batches", "5",
        "--processes", "auto", "--json", "no/such/dir/run.json",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert ingest.state()["rows"] == []  # nothing was written


def test_a_decision_reads_back_from_a_saved_result():
    from bulkload.bench.result import SweepResult

    result = SweepResult(model="closed", target="http://h/", table="t")
    result.processes_decision = Decision(2, "why", 2, probe()).to_dict()
    again = SweepResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.processes_decision == result.processes_decision


@pytest.mark.parametrize(
    ("sig", "signals"), [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2)]
)
def test_ctrl_c_during_the_probe_is_exit_4(
    ingest: IngestServer, tmp_path: Path, sig: signal.Signals, signals: int
):
    """The probe's writes stall in the server: the first Ctrl-C (or SIGTERM) stops the
    probe (once its writes in flight end), a second one at once; nothing runs after it,
    exit 4."""
    # two signals: a stall far longer than the command may take (a loaded machine's
    # start-up and exit included); one: the stall ends, then the probe stops
    stall = 20 if signals == 2 else 3
    ingest.control(script=[{"stall": stall}] * 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bulkload", "bench", *RUN, "--to", f"{ingest.url}/ingest"),
            *("--sweep", "2", "--batches", "10", "--processes", "auto", "--json", "run.json"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while ingest.state()["requests"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    output = ChildOutput(proc)
    started = time.monotonic()
    proc.send_signal(sig)
    if signals == 2:
        output.wait_for("stopping: the probe ends")  # the first was handled
        proc.send_signal(sig)
    _, err = output.finish(timeout=30)
    assert proc.returncode == 4, err
    assert "Traceback" not in err and "--processes auto" not in err  # nothing was decided
    assert not (tmp_path / "run.json").exists()
    if signals == 2:
        assert time.monotonic() - started < 10  # not waiting out the 20 s stall


@pytest.mark.parametrize(
    ("to", "hint"), [(HTTP, True), ("postgresql://u@127.0.0.1:1/x", True), ("sim://", False)]
)
def test_the_busy_loop_warning_points_to_processes_where_they_apply(to: str, hint: bool):
    from bulkload.bench.run import prepare_shard
    from bulkload.stats.level import LevelResult

    sweep = prepare_shard(config(to=to, processes=1), None)
    sweep._warn_about(LevelResult(concurrency=64, batch_size=10, cpu_loop=0.95))
    (warning,) = sweep.result.warnings
    assert "event loop was busy 95% of the time" in warning
    assert ("--processes P splits the sweep among P processes" in warning) is hint
