"""The HTML report rendered from real sweeps against ``sim://`` (short ones: what is
checked is what the report shows of a result, not the target's figures)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from html import escape

import pytest

from bulkload.bench.result import SweepResult
from bulkload.errors import UsageError
from bulkload.report import html_charts
from bulkload.report.html import render_html, write_html
from bulkload.stats.usl import usl_throughput
from bulkload.version import __version__
from tests.report.sweeps import run_sweep

# Sweeps and Chromium load the CPU: run on the worker of the timing-sensitive bench tests,
# one after another, never beside them (--dist loadgroup).

#: a report may be attached to a CI job: plotly.js (4.8 MB) plus the page and data
MAX_REPORT_BYTES = 6_000_000


@pytest.fixture(scope="module")
def closed() -> SweepResult:
    return run_sweep("sim://?latency=2ms&capacity=8", levels=(1, 4, 16))


@pytest.fixture(scope="module")
def slower() -> SweepResult:
    return run_sweep("sim://?latency=4ms&capacity=8", levels=(1, 4, 16))


@pytest.fixture(scope="module")
def grid() -> SweepResult:
    return run_sweep("sim://?latency=2ms&capacity=8", levels=(1, 4), batch_sizes=(100, 400))


@pytest.fixture(scope="module")
def open_model() -> SweepResult:
    return run_sweep("sim://?latency=2ms", rates=(50.0, 200.0), concurrency_cap=8)


def charts_in(page: str) -> dict[str, int]:
    """chart id -> number of series, as the page declares them."""
    found = re.findall(r'data-chart="(\w+)" data-series="(\d+)"', page)
    return {chart: int(series) for chart, series in found}


def table_rows(page: str) -> list[str]:
    body = page.split('<table id="levels">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr class=\"[\w ]+\">(.*?)</tr>", body)


def test_a_real_sweep_gets_its_header_charts_and_a_row_per_level(closed: SweepResult):
    page = render_html(closed)
    started = dt.datetime.fromtimestamp(closed.started_at, tz=dt.UTC)
    assert started.strftime("%Y-%m-%d %H:%M:%S UTC") in page
    assert escape("bulkload bench --to 'sim://?latency=2ms&capacity=8'") in page
    assert closed.machine["hostname"] in page and __version__ in page
    assert closed.usl is not None and closed.recommended_level() is not None
    # throughput: measured, USL curve, recommended point; no heatmap for one batch size
    assert charts_in(page) == {
        "throughput": 3,
        "latency": 4,
        "spectrum": 3,
        "errors": 4,
        "timeline": 2,
    }
    rows = table_rows(page)
    assert len(rows) == len(closed.levels) == 3
    for row, level in zip(rows, closed.levels, strict=True):
        assert f"<td>{level.concurrency}</td>" in row
        assert f"<td>{level.rows_per_s:,.0f}</td>" in row
    assert closed.recommendation in page


def test_the_throughput_chart_draws_the_usl_fit_and_marks_the_recommended_level(
    closed: SweepResult,
):
    figure = html_charts.throughput_chart(closed)
    assert figure is not None
    measured, usl, chosen = figure.data
    assert list(measured.x) == [1, 4, 16]
    assert list(measured.y) == [level.rows_per_s for level in closed.levels]
    fit = closed.usl
    assert fit is not None
    for n, x in zip(usl.x, usl.y, strict=True):
        assert x == pytest.approx(usl_throughput(n, fit["sigma"], fit["kappa"], fit["lambda"]))
    level = closed.recommended_level()
    assert level is not None
    assert (chosen.x[0], chosen.y[0]) == (level.concurrency, level.rows_per_s)


def test_each_level_gets_its_percentile_spectrum_on_a_log_axis(closed: SweepResult):
    figure = html_charts.spectrum_chart(closed)
    assert figure is not None and figure.layout.xaxis.type == "log"
    for trace, level in zip(figure.data, closed.levels, strict=True):
        spectrum = level.latency.percentile_spectrum(ticks_per_half=2)
        assert list(trace.y) == [ms for _, ms in spectrum]
        assert trace.x[0] == pytest.approx(2)  # the median: 1 / (1 - 0.5)


def test_a_baseline_is_overlaid_and_the_table_shows_the_change(
    closed: SweepResult, slower: SweepResult
):
    page = render_html(slower, baseline=closed)
    # every chart gets the baseline's series beside the run's own
    assert charts_in(page) == {
        "throughput": 4,
        "latency": 8,
        "spectrum": 6,
        "errors": 5,
        "timeline": 2,
    }
    assert "vs baseline" in page
    first = slower.levels[0]
    change = (first.rows_per_s - closed.levels[0].rows_per_s) / closed.levels[0].rows_per_s
    assert f"{change:+.1%}</span>" in table_rows(page)[0]


def test_a_grid_of_batch_sizes_gets_a_heatmap_of_throughput(grid: SweepResult):
    page = render_html(grid)
    assert charts_in(page)["heatmap"] == 1
    figure = html_charts.heatmap_chart(grid)
    assert figure is not None
    heat = figure.data[0]
    assert list(heat.y) == ["100", "400"] and list(heat.x) == ["1", "4"]
    for level in grid.levels:
        row, column = [100, 400].index(level.batch_size), [1, 4].index(level.concurrency)
        assert heat.z[row][column] == level.rows_per_s
    chosen = grid.recommended_level()
    assert chosen is not None
    (outline,) = figure.layout.shapes
    assert outline.x0 == [1, 4].index(chosen.concurrency) - 0.5
    assert outline.y0 == [100, 400].index(chosen.batch_size) - 0.5


def test_the_open_model_puts_arrival_rates_on_the_x_axis(open_model: SweepResult):
    assert open_model.model == "open"
    page = render_html(open_model)
    assert "<th>rate/s</th>" in page and "arrival rate" in page
    figure = html_charts.throughput_chart(open_model)
    assert figure is not None
    assert list(figure.data[0].x) == [50.0, 200.0]
    assert figure.layout.xaxis.title.text == "arrival rate (batch writes/s)"
    offered = next(trace for trace in figure.data if trace.name.startswith("offered"))
    assert list(offered.y) == [50.0 * 100, 200.0 * 100]


def test_a_baseline_of_the_other_model_is_named_not_overlaid(
    closed: SweepResult, open_model: SweepResult
):
    page = render_html(open_model, baseline=closed)
    assert "not comparable" in page
    assert charts_in(page)["latency"] == 4


def test_the_report_is_self_contained_and_small_enough_to_attach(grid: SweepResult, tmp_path):
    path = tmp_path / "report.html"
    write_html(grid, str(path))
    page = path.read_text(encoding="utf-8")
    assert path.stat().st_size < MAX_REPORT_BYTES
    # nothing is fetched: no external script, style sheet, image or font
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.IGNORECASE)
    assert "@import" not in page and "url(http" not in page
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed


def test_passwords_never_reach_the_report(closed: SweepResult):
    leaky = SweepResult.from_dict(closed.to_dict())
    leaky.target = "postgresql://loader:hunter2pw@127.0.0.1:5432/db"
    leaky.command = ["bulkload", "bench", "--to", leaky.target]
    page = render_html(leaky, baseline=leaky)
    assert "hunter2pw" not in page
    assert "loader:***@127.0.0.1" in page


def test_a_sweep_that_measured_nothing_still_renders(closed: SweepResult):
    empty = SweepResult.from_dict(closed.to_dict())
    empty.levels, empty.outcome, empty.error = [], "failed", "cannot connect to 127.0.0.1:1"
    page = render_html(empty)
    assert "No level was measured" in page and "cannot connect to 127.0.0.1:1" in page
    assert charts_in(page) == {}


def test_without_plotly_the_error_names_the_extra(closed, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly fails
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(UsageError, match=re.escape("pip install 'bulkload[html]'")):
        render_html(closed)
