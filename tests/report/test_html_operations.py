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


def test_the_levels_table_has_a_sub_row_per_operation_with_its_judged_change():
    """Each level's total row, then a row per operation; against a baseline, an
    operation's ops/s that fell past --max-regression says so in its sub-row."""
    import re

    from bulkload.bench.compare import compare
    from bulkload.report.html import render_html

    base = SweepResult(model="closed", target="sqlite:///x.db", table="t")
    base.levels = [_level(1, 300, 100)]
    run = SweepResult(model="closed", target="sqlite:///x.db", table="t")
    run.levels = [_level(1, 300, 40)]  # the writes: 50/s -> 20/s
    for level in (*base.levels, *run.levels):
        for operation in level.operations.values():
            operation.latency.record(0.002)
        level.latency.record(0.002)
    page = render_html(run, baseline=base, comparison=compare(base, run, max_regression=0.1))
    table = page.split('<table id="levels">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr class="([^"]*)"(?: data-operation="([^"]*)")?>(.*?)</tr>', table)
    assert [name for _, name, _ in rows] == ["", "read", "write"]  # the total, then each
    assert [css for css, _, _ in rows][1:] == ["operation", "operation"]
    cells = {name: re.findall(r"<td>(.*?)</td>", body) for _, name, body in rows}
    assert "<td>total</td>" in rows[0][2] and "<td>mixed</td>" not in rows[0][2]
    assert any("regressed ops/s" in cell for cell in cells["write"])  # -60%
    assert not any("regressed" in cell for cell in cells["read"])  # unchanged
    assert "150" in cells["read"] and "20" in cells["write"]  # each its own ops/s
