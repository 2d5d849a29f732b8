"""Ramps and stages against sim:// targets of known capacity, on real timers: the
offered load follows the schedule, and the analysis finds where the target broke."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bulkload.errors import UsageError
from bulkload.stats.schedule import (
    ConcurrencyRamp,
    parse_concurrency_ramp,
    parse_ramp_rate,
    parse_stages,
)
from bulkload.stats.thresholds import parse_slo
from tests.bench.test_sweep import quick, sweep
from tests.conftest import RunCli


def test_a_schedule_says_when_each_send_is_due():
    constant = parse_ramp_rate("100:100:2s")
    assert constant.due(0) == 0.0
    assert constant.due(50) == pytest.approx(0.5)
    assert constant.total_sends == 200
    stages = parse_stages("1s:100/s,2s:300/s,1s:0/s")
    assert stages.start == 0 and stages.peak == 300 and stages.duration_s == 4
    assert stages.offered_by(4) == pytest.approx(50 + 400 + 150)
    assert stages.total_sends == 600
    for index in (1, 49, 50, 51, 300, 449, 450, 599):
        assert stages.offered_by(stages.due(index)) == pytest.approx(index, abs=1e-6)
    assert stages.due(600) == float("inf")
    assert stages.rate_at(0.5) == pytest.approx(50) and stages.rate_at(2) == pytest.approx(200)
    assert parse_concurrency_ramp("1:9:4s").at(2.0) == 5
    assert ConcurrencyRamp(4, 1, 1.0).at(5.0) == 1
    for bad in ("100:2000", "a:1:2s", "1:2:0s"):
        with pytest.raises(UsageError):
            parse_ramp_rate(bad)
    with pytest.raises(UsageError, match="DURATION:RATE"):
        parse_stages("30s")


def test_stages_follow_the_offered_load():
    schedule = parse_stages("1s:40/s,2s:100/s,1s:0/s")
    result = sweep(
        "sim://?latency=5ms", quick(levels=None, rates=(100.0,), schedule=schedule, interval_s=0.5)
    )
    level = result.levels[0]
    assert level.batches + level.sends_missed == 20 + 140 + 50  # what the schedule offers
    assert level.sends_missed <= 2
    assert result.timeline is not None
    full = [i for i in result.timeline.intervals if i.seconds > 0.45]
    assert len(full) >= 6
    origin = result.timeline.intervals[0].start
    for interval in full:
        # what the schedule offered over the interval's own span (a stall stretches an
        # interval; one across the peak averages its two sides)
        start, end = interval.start - origin, interval.end - origin
        wanted = (schedule.offered_by(end) - schedule.offered_by(start)) / interval.seconds
        assert interval.offered_per_s == pytest.approx(wanted, abs=0.1 * 100)
        assert interval.ops_per_s == pytest.approx(interval.offered_per_s, abs=0.15 * 100)
    assert result.breaking_points == [{"tag": "ramp 0-100/s batch 100", "cause": None}]


def test_a_rate_ramp_finds_the_capacity_of_the_target():
    # 8 batches at once, 100 ms each: the target carries 80 writes/s at most (slow
    # enough for a loaded machine's timers and CPU)
    result = sweep(
        "sim://?latency=100ms&capacity=8",
        quick(
            levels=None,
            rates=(160.0,),
            schedule=parse_ramp_rate("20:160:8s"),
            concurrency_cap=256,
            interval_s=0.5,
        ),
    )
    assert result.breaking_points is not None
    point = result.breaking_points[0]
    assert point["cause"] == "throughput", point
    assert point["rate"] == pytest.approx(80, rel=0.1)
    assert point["throughput"] == pytest.approx(80, rel=0.1)
    # the offered load reached 80/s after (80 - 20) / (140 / 8) = 3.4 s
    assert point["time_s"] == pytest.approx(3.4, abs=0.8)


def test_an_slo_breaks_a_rate_ramp_when_latency_from_the_due_time_climbs():
    result = sweep(
        "sim://?latency=100ms&capacity=8",
        quick(
            levels=None,
            rates=(160.0,),
            schedule=parse_ramp_rate("20:160:8s"),
            concurrency_cap=256,
            interval_s=0.5,
            slo=tuple(parse_slo("p99<300ms")),
        ),
    )
    assert result.breaking_points is not None
    point = result.breaking_points[0]
    assert set(point["signs"]) >= {"slo", "throughput"}
    # queueing past the capacity: the SLO breaks soon after the throughput stops following
    assert point["signs"]["throughput"] <= point["signs"]["slo"] <= point["signs"]["throughput"] + 2


def test_a_concurrency_ramp_finds_where_the_target_stops_scaling():
    # 8 batches at once, 50 ms each: 160 writes/s at most, reached at c=8
    for _ in range(3):  # a loaded machine's stall in the first intervals (whose latency
        # sets what the writers should carry) can hide the break: measured again
        result = sweep(
            "sim://?latency=50ms&capacity=8",
            quick(levels=(16,), concurrency_ramp=parse_concurrency_ramp("1:16:6s"), interval_s=0.5),
        )
        if result.breaking_points and result.breaking_points[0]["cause"] is not None:
            break
    assert result.timeline is not None
    allowed = [i.concurrency for i in result.timeline.intervals]
    assert allowed[0] is not None and allowed[0] <= 2 and allowed[-1] == 16
    assert result.breaking_points is not None
    point = result.breaking_points[0]
    assert point["cause"] == "throughput", point
    assert point["throughput"] == pytest.approx(160, rel=0.1)
    assert 7 <= point["concurrency"] <= 11  # c=8 carries it at 50 ms a write


def test_bench_ramp_rate_on_the_command_line(run_cli: RunCli, tmp_path: Path):
    result = run_cli(
        "bench", "--to", "sim://?latency=100ms&capacity=4", "--synthetic", "rows=2000,columns=2",
        "--batch-size", "10", "--ramp-rate", "10:80:4s", "--interval", "0.5s", "-c", "64",
        "--processes", "1", "--json", "r.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "breaking point" in result.stdout
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["breaking_points"][0]["cause"] == "throughput"
    assert document["breaking_points"][0]["rate"] == pytest.approx(40, rel=0.15)
    clash = run_cli(
        "bench",
        "--to",
        "null://",
        "--synthetic",
        "rows=10",
        "--ramp-rate",
        "1:2:1s",
        "--sweep",
        "1,2",
    )
    assert clash.code == 3 and "--sweep cannot be given" in clash.error_line


def test_a_ramp_split_among_processes_merges_into_one_breaking_point(
    run_cli: RunCli, tmp_path: Path
):
    # each process's own sim target carries 4 / 100 ms = 40 writes/s: 80/s together
    result = run_cli(
        "bench", "--to", "sim://?latency=100ms&capacity=4", "--synthetic", "rows=4000,columns=2",
        "--batch-size", "10", "--ramp-rate", "20:160:6s", "--interval", "0.5s", "-c", "64",
        "--processes", "2", "--json", "r.json", "-q", "--threshold", "p99<600ms before-break",
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    intervals = document["timeline"]["intervals"]
    # the two halves of the schedule add up to the whole offered load: 20 -> 160/s over
    # 6 s is 540 sends (summed over the run: the processes start a moment apart, so one
    # interval may hold one process's part only)
    assert sum(i["offered"] for i in intervals) == pytest.approx(540, rel=0.05)
    point = document["breaking_points"][0]
    assert point["cause"] == "throughput", point
    assert point["rate"] == pytest.approx(80, rel=0.1)
    # the gate is judged on the merged timeline, before the merged breaking point
    (gate,) = document["thresholds"]
    assert (gate["scope"], gate["ok"]) == ("before_break", True), gate
    assert gate["until_s"] == pytest.approx(point["time_s"], abs=1e-3)


def test_gate_metrics_before_the_break_add_up_the_intervals_before_it():
    from bulkload.stats.breaking import before_break, window_metrics
    from bulkload.stats.histogram import LatencyHistogram
    from bulkload.stats.timeline import Interval

    def interval(start: float, latency_ms: float, tag: str = "ramp") -> Interval:
        histogram = LatencyHistogram()
        for _ in range(10):
            histogram.record(latency_ms / 1000)
        return Interval(start, start + 1, tag, latency=histogram, rows=100, batches=10)

    ramp = [interval(100.0 + k, 10.0 if k < 3 else 900.0) for k in range(6)]
    other = interval(101.0, 5000.0, tag="other")  # another ramp's: never judged here
    broke = {"tag": "ramp", "cause": "throughput", "at": 103.0, "time_s": 3.0}
    window = before_break([*ramp, other], broke)
    assert [i.start for i in window] == [100.0, 101.0, 102.0]
    metrics = window_metrics(window)
    assert metrics["p99"] == pytest.approx(10.0, rel=0.01)
    assert metrics["rows_per_s"] == pytest.approx(100.0)
    assert metrics["error_rate"] == 0.0
    # a ramp that never broke is judged whole
    assert len(before_break([*ramp, other], {"tag": "ramp", "cause": None})) == 6
    assert window_metrics(ramp)["p99"] == pytest.approx(900.0, rel=0.01)


def test_a_gate_scoped_before_the_break_judges_the_ramp_up_to_it(run_cli: RunCli, tmp_path: Path):
    # 8 writes at once, 100 ms each: 80 writes/s at most; the offered load passes it
    # about 3.4 s in, and latency from the due time then climbs to seconds
    gates = ("p99<600ms", "p99<600ms before-break", "p50<50ms before-break")
    for _ in range(3):  # a loaded machine's stall can hide the break: measured again
        result = run_cli(
            "bench", "--to", "sim://?latency=100ms&capacity=8", "--synthetic",
            "rows=10000,columns=2", "--batch-size", "10", "--ramp-rate", "20:160:8s",
            "--interval", "0.5s", "-c", "256", "--processes", "1", "--json", "r.json",
            *(item for gate in gates for item in ("--threshold", gate)),
        )  # fmt: skip
        document = json.loads((tmp_path / "r.json").read_text())
        if document["breaking_points"][0]["cause"] is not None:
            break
    assert result.code == 99, result.stderr
    point = document["breaking_points"][0]
    whole, before, strict = document["thresholds"]
    # over the whole ramp the queue behind the target fails the gate ...
    assert (whole["scope"], whole["ok"], whole["judged_on"]) == ("whole", False, "the whole ramp")
    assert whole["measured"] > 600
    assert re.search(
        r"FAILED: p99 < 600 ms at .*: measured \d+ ms over the whole ramp,", result.stdout
    )
    # ... up to the breaking point it holds, judged on the intervals before it
    assert (before["scope"], before["ok"], before["ramp"]) == ("before_break", True, True), before
    assert before["until_s"] == pytest.approx(point["time_s"], abs=1e-3)
    assert 100 <= before["measured"] < 600
    intervals = [i for i in document["timeline"]["intervals"] if i["tag"] == point["tag"]]
    counted = sum(i["latency_ms"]["count"] for i in intervals if i["start"] < point["at"])
    assert 0 < counted < sum(i["latency_ms"]["count"] for i in intervals)
    # a gate that fails before the break still fails
    assert (strict["scope"], strict["ok"]) == ("before_break", False), strict
    assert strict["measured"] >= 100
    assert "judged_on" in before and "before its breaking point" in before["judged_on"]
    assert re.search(
        r"ok: p99 < 600 ms before-break at .*: measured [\d.]+ ms over the ramp before its "
        r"breaking point \([\d.]+s in\), allowed < 600 ms",
        result.stdout,
    ), result.stdout
    assert "FAILED: p50 < 50 ms before-break" in result.stdout
    assert "gates: 1 of 3 passed" in result.stdout
    # a saved result judged again by report check: the same scope and figure
    check = run_cli("report", "check", "r.json", "--threshold", "p99<600ms before-break")
    assert check.code == 0, check.stdout + check.stderr
    assert "over the ramp before its breaking point" in check.stdout


def test_before_break_needs_a_ramp_and_is_no_slo(run_cli: RunCli):
    plain = run_cli(
        "bench", "--to", "null://", "--synthetic", "rows=10", "--threshold",
        "p99<50ms before-break",
    )  # fmt: skip
    assert plain.code == 3 and "before-break judges a ramp" in plain.error_line
    slo = run_cli(
        "bench", "--to", "null://", "--synthetic", "rows=10", "--ramp-rate", "1:2:1s",
        "--slo", "p99<50ms before-break",
    )  # fmt: skip
    assert slo.code == 3 and "not for --slo" in slo.error_line
