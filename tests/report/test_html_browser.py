"""The HTML report opened in a real, offline Chromium: it loads from file:// with the
network cut, logs no error, fetches nothing, draws every chart with its series, and shows
the levels. A screenshot of each page is kept (see tests/report/chromium.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulkload.bench.result import SweepResult, read_result
from bulkload.report.html import write_html
from tests.report.chromium import browser, load, set_width
from tests.report.chromium import screenshot as take_screenshot
from tests.report.sweeps import run_sweep

__all__ = ["browser"]  # the fixture, used by name

# Sweeps and Chromium load the CPU: run on the worker of the timing-sensitive bench tests,
# one after another, never beside them (--dist loadgroup).

# what the page draws, read from the DOM plotly rendered: per chart, the SVG series drawn
# (scatter lines/markers, bar groups, heatmap images) and whether each has painted marks
_RENDERED = """
const charts = {};
for (const card of document.querySelectorAll('figure[data-chart]')) {
  const plot = card.querySelector('.js-plotly-plot');
  const traces = plot ? plot.querySelectorAll(
    '.scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm') : [];
  let painted = 0;
  for (const t of traces) {
    const marks = t.querySelectorAll('path[d]:not([d=""]), image, .point');
    if (marks.length > 0) painted += 1;
  }
  const box = plot ? plot.getBoundingClientRect() : {width: 0, height: 0};
  charts[card.dataset.chart] = {series: traces.length, painted: painted,
                                width: box.width, height: box.height};
}
const rows = [...document.querySelectorAll('#levels tbody tr')].map(
  r => [...r.children].map(c => c.textContent));
return {charts: charts, rows: rows};
"""


def open_report(driver: Any, path: Path, screenshot: str) -> dict[str, Any]:
    """Load the page, wait for every chart, screenshot it; what it drew and fetched."""
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get_log("performance")
    set_width(driver, 1400)
    load(driver, path)
    seen = driver.execute_script(_RENDERED)
    take_screenshot(driver, screenshot, 1400)
    seen["errors"] = [
        entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")
    ]
    seen["fetched"] = _requests(driver.get_log("performance"))
    return dict(seen)


def _requests(log: list[dict[str, Any]]) -> list[str]:
    """URLs the page asked for beyond itself (file:, data: and blob: are the file's own)."""
    urls = []
    for entry in log:
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:")):
                urls.append(url)
    return urls


@pytest.fixture(scope="module")
def runs() -> dict[str, SweepResult]:
    return {
        "base": run_sweep(
            "sim://?latency=3ms&capacity=8", levels=(1, 4, 16), batch_sizes=(100, 400)
        ),
        "grid": run_sweep(
            "sim://?latency=2ms&capacity=8", levels=(1, 4, 16), batch_sizes=(100, 400)
        ),
        "open": run_sweep("sim://?latency=2ms", rates=(50.0, 200.0, 400.0), concurrency_cap=8),
    }


def test_a_grid_with_a_baseline_renders_every_chart_offline(browser, runs, tmp_path):
    run, base = runs["grid"], runs["base"]
    page = tmp_path / "grid.html"
    write_html(run, str(page), baseline=base)
    seen = open_report(browser, page, "report-grid-baseline.png")
    assert seen["errors"] == [] and seen["fetched"] == []
    # 2 batch sizes + USL + recommended + 2 baseline; 4 percentiles and theirs; each of 6
    # levels and its baseline twin; 4 counters and the baseline's errors; one heatmap
    assert {chart: drawn["series"] for chart, drawn in seen["charts"].items()} == {
        "throughput": 6,
        "latency": 8,
        "spectrum": 12,
        "heatmap": 1,
        "errors": 5,
        "timeline": 2,  # writes/s and p99 over time
    }
    for chart, drawn in seen["charts"].items():
        assert drawn["width"] > 300 and drawn["height"] > 200, chart
    # every line series has a drawn path (bar series with all-zero counts draw no bar)
    for chart in ("throughput", "latency", "spectrum", "heatmap"):
        assert seen["charts"][chart]["painted"] == seen["charts"][chart]["series"], chart
    rows = seen["rows"]
    assert [(row[1], row[2]) for row in rows] == [
        (str(level.concurrency), f"{level.batch_size:,}") for level in run.levels
    ]
    assert sum(row[0] == "★" for row in rows) == 1


def test_the_open_model_report_renders_offline(browser, runs, tmp_path):
    run = runs["open"]
    page = tmp_path / "open.html"
    write_html(run, str(page))
    seen = open_report(browser, page, "report-open-model.png")
    assert seen["errors"] == [] and seen["fetched"] == []
    series = {chart: drawn["series"] for chart, drawn in seen["charts"].items()}
    recommended = 1 if run.recommended_level() is not None else 0
    assert series == {
        "throughput": 2 + recommended,
        "latency": 4,
        "spectrum": 3,
        "errors": 4,
        "timeline": 3,  # writes/s, offered/s, p99
    }
    assert [row[1] for row in seen["rows"]] == ["50", "200", "400"]


def test_a_ramp_report_draws_the_timeline_with_its_breaking_point(browser, tmp_path):
    from bulkload.stats.schedule import parse_ramp_rate

    for _ in range(3):  # a loaded machine's stall can hide the break: measured again
        run = run_sweep(
            "sim://?latency=100ms&capacity=8", rates=(160.0,), concurrency_cap=256,
            schedule=parse_ramp_rate("20:160:6s"), interval_s=0.5,
        )  # fmt: skip
        if run.breaking_points and run.breaking_points[0]["cause"] is not None:
            break
    assert run.breaking_points and run.breaking_points[0]["cause"] == "throughput"
    assert run.breaking_points[0]["time_s"] > 1.5  # 80/s is offered after 3.4 s
    page = tmp_path / "ramp.html"
    write_html(run, str(page))
    seen = open_report(browser, page, "report-ramp-timeline.png")
    assert seen["errors"] == [] and seen["fetched"] == []
    timeline = seen["charts"]["timeline"]
    assert timeline["series"] == timeline["painted"] == 3
    assert timeline["width"] > 300 and timeline["height"] > 300
    notes = browser.execute_script(
        "return [...document.querySelectorAll('#chart-timeline .annotation-text')]"
        ".map(a => a.textContent)"
    )
    assert any(note.startswith("breaking point (throughput") for note in notes), notes
    assert "ramp 20-160/s batch 100" in notes


def test_a_page_that_fetches_is_caught(browser, tmp_path):
    """The checks above can fail: a page asking for a script off the machine is seen."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.invalid/plotly.js"></script>'
        "</head><body></body></html>",
        encoding="utf-8",
    )
    seen = open_report(browser, page, "leaky.png")
    assert seen["fetched"] == ["https://cdn.invalid/plotly.js"]
    assert seen["errors"], "the failed fetch is logged as an error"


_LEGENDS = """
const out = {};
for (const card of document.querySelectorAll('figure[data-chart]')) {
  out[card.dataset.chart] = [...card.querySelectorAll('.legend .legendtext')]
    .map(t => t.textContent);
}
return out;
"""


# the levels table as rendered: its header, and each row's class, operation, cells and
# the indent of its operation's name
_LEVELS = """
const table = document.getElementById('levels');
const head = [...table.tHead.rows[0].cells].map(c => c.textContent);
const at = head.indexOf('operation');
const rows = [...table.tBodies[0].rows].map(r => ({
  css: r.className, operation: r.dataset.operation || null,
  cells: [...r.cells].map(c => c.textContent), height: r.getBoundingClientRect().height,
  indent: parseFloat(getComputedStyle(r.cells[at]).paddingLeft)}));
return {head: head, rows: rows};
"""


def _levels_seen(driver: Any) -> tuple[list[str], list[dict[str, Any]]]:
    seen = driver.execute_script(_LEVELS)
    head = seen["head"]
    rows = [{**row, "cells": dict(zip(head, row["cells"], strict=True))} for row in seen["rows"]]
    return head, rows


def test_a_mixed_run_draws_a_line_per_operation_in_its_charts(browser, run_cli, tmp_path):
    """A real mixed SQLite run (writes, and two weighted queries): the throughput and
    latency charts draw each operation beside the total, named in the legend; with the
    run as its own baseline, each operation's baseline line too. The levels table has a
    total row per level and a sub-row per operation under it, as the terminal's has."""
    import sqlite3

    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", ((i, f"n{i}") for i in range(1, 2001)))
    result = run_cli(
        "bench", "--to", f"sqlite:///{db}", "--synthetic", "rows=50000,columns=3",
        "--table", "loaded", "--batch-size", "50",
        "--query", "name=lookup,weight=3:SELECT name FROM orders WHERE id = :id",
        "--query", "name=scan,weight=1:SELECT name FROM orders WHERE id > :id LIMIT 20",
        "--params-synthetic", "id=uniform(1,2000)", "--mix", "write=1,read=3",
        "--sweep", "1,2,4", "--warmup", "0s", "--duration", "0.4s", "--progress", "off",
        "--json", "run.json", "--html", "run.html",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run = read_result(tmp_path / "run.json")
    assert {name for lvl in run.levels for name in lvl.operations} == {"lookup", "scan", "write"}
    pages = {"alone": tmp_path / "run.html", "baseline": tmp_path / "with-baseline.html"}
    write_html(run, str(pages["baseline"]), baseline=run)
    drawn, tables = {}, {}
    for name, page in pages.items():
        seen = open_report(browser, page, f"report-mixed-operations-{name}.png")
        assert seen["errors"] == [] and seen["fetched"] == []
        drawn[name] = (seen["charts"], browser.execute_script(_LEGENDS))
        tables[name] = _levels_seen(browser)
    charts, legends = drawn["alone"]
    operations = ["lookup p99", "scan p99", "write p99"]
    assert legends["latency"] == ["p50", "p90", "p99", "p99.9", *operations]
    assert charts["latency"]["series"] == charts["latency"]["painted"] == 7
    assert {"lookup (rows/s)", "scan (rows/s)", "write (rows/s)"} <= set(legends["throughput"])
    assert charts["throughput"]["series"] == charts["throughput"]["painted"]
    # over time, the intervals count operations (writes and queries), not writes
    assert legends["timeline"][0] == "operations/s"
    charts, legends = drawn["baseline"]
    baselines = [f"baseline {name}" for name in operations]
    assert [entry for entry in legends["latency"] if entry in baselines] == baselines
    assert charts["latency"]["series"] == charts["latency"]["painted"] == 14
    throughput = [f"baseline {name} (rows/s)" for name in ("lookup", "scan", "write")]
    assert [entry for entry in legends["throughput"] if entry in throughput] == throughput
    # the levels table: per level a total row, then lookup, scan and write sub-rows
    head, rows = tables["alone"]
    assert head[:6] == ["", "concurrency", "batch", "operation", "ops/s", "rows/s"]
    assert [(row["cells"]["concurrency"], row["cells"]["operation"]) for row in rows] == [
        (str(level.concurrency) if name == "total" else "", name)
        for level in run.levels
        for name in ("total", "lookup", "scan", "write")
    ]
    for index, level in enumerate(run.levels):
        total, *subs = rows[4 * index : 4 * index + 4]
        assert total["operation"] is None and total["css"] in ("recommended", "completed")
        assert total["cells"]["ops/s"] == f"{level.batches_per_s:,.0f}"
        for sub in subs:
            operation = level.operations[sub["operation"]]
            assert sub["css"] == "operation" and sub["operation"] == sub["cells"]["operation"]
            assert sub["height"] > 0 and sub["indent"] > total["indent"]  # shown, indented
            per_s = operation.count / level.elapsed_s
            assert sub["cells"]["ops/s"] == f"{per_s:,.0f}"
            assert sub["cells"]["rows/s"] == f"{operation.rows / level.elapsed_s:,.0f}"
            assert sub["cells"]["errors"] == f"{operation.errors:,}"
            assert sub["cells"]["in flight"] == sub["cells"]["cpu"] == ""  # the total's alone
            assert sub["cells"]["concurrency"] == sub["cells"][""] == ""
    # against a baseline (the run itself): each sub-row's change, as the comparison judged
    head, rows = tables["baseline"]
    assert "rows/s vs baseline" in head and "p99 vs baseline" in head
    subs = [row for row in rows if row["operation"]]
    assert len(subs) == 3 * len(run.levels)
    for sub in subs:
        assert sub["cells"]["rows/s vs baseline"] == "+0.0% ops/s"
        assert sub["cells"]["p99 vs baseline"] == "+0.0%"
