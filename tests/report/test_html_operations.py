"""The HTML throughput chart draws each named operation's rows/s beside the total."""

from __future__ import annotations

import pytest

from bulkload.bench.result import SweepResult
from bulkload.stats.level import LevelResult
from bulkload.stats.operation import OperationResult

pytest.importorskip("plotly")

from bulkload.report.html_charts import throughput_chart


def _level(concurrency: int, reads: int, writes: int) -> LevelResult:
    return LevelResult(
        concurrency=concurrency, batch_size=100, elapsed_s=2.0, batches=reads + writes,
        rows=reads + 100 * writes, kind="mixed", in_flight_mean=concurrency,
        operations={
            "read": OperationResult("read", count=reads, rows=reads),
            "write": OperationResult("write", "write", count=writes, rows=100 * writes),
        },
    )  # fmt: skip


def test_each_operation_has_its_line():
    result = SweepResult(model="closed", target="sqlite:///x.db", table="t")
    result.levels = [_level(1, 300, 100), _level(4, 900, 300)]
    figure = throughput_chart(result)
    assert figure is not None
    lines = {trace.name: list(trace.y) for trace in figure.data}
    assert lines["read (rows/s)"] == [150.0, 450.0]
    assert lines["write (rows/s)"] == [5000.0, 15000.0]


def test_a_single_query_is_its_total():
    result = SweepResult(model="closed", target="sqlite:///x.db", table="t")
    level = _level(1, 300, 100)
    del level.operations["write"]
    result.levels = [level]
    figure = throughput_chart(result)
    assert figure is not None
    assert not [trace for trace in figure.data if "(rows/s)" in str(trace.name)]


def test_the_latency_chart_has_each_operations_p99():
    from bulkload.report.html_charts import latency_chart

    result = SweepResult(model="closed", target="sqlite:///x.db", table="t")
    result.levels = [_level(1, 300, 100), _level(4, 900, 300)]
    for level, (read_ms, write_ms) in zip(result.levels, ((1.0, 20.0), (3.0, 60.0)), strict=True):
        for _ in range(100):
            level.latency.record(read_ms / 1000)
            level.operations["read"].latency.record(read_ms / 1000)
            level.operations["write"].latency.record(write_ms / 1000)
    figure = latency_chart(result)
    assert figure is not None
    lines = {trace.name: list(trace.y) for trace in figure.data}
    assert lines["read p99"] == pytest.approx([1.0, 3.0], rel=0.01)
    assert lines["write p99"] == pytest.approx([20.0, 60.0], rel=0.01)
