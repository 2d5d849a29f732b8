"""The HTML report's layout in a real headless Chromium at 1024, 1280 and 1920 px: every
chart drawn inside its card (and redrawn when the window is resized), every table inside
the page or in a box that scrolls with its level columns kept, legends and the toolbar
off the data, every series told apart, and the verdict (failed gates, a regression) in
words. A screenshot of each width is kept (tests/report/chromium.py says where)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bulkload.bench.gates import judge_run
from bulkload.config import GateOptions
from bulkload.report.html import write_html
from bulkload.stats.thresholds import parse_threshold
from tests.report.chromium import browser, load, screenshot, set_width, settle
from tests.report.sweeps import run_sweep

__all__ = ["browser"]  # the fixture, used by name

# Sweeps and Chromium load the CPU: run on the worker of the timing-sensitive bench tests,
# one after another, never beside them (--dist loadgroup).

WIDTHS = (1024, 1280, 1920)
GRID = {"levels": (1, 2, 4, 8, 16), "batch_sizes": (100, 400)}  # 10 levels: 20 spectra

# per chart: the card's box, the width plotly drew at, and the boxes of what must not
# overlap (legend, toolbar, plot area, the x axis' labels and title, the colour bar)
_CHARTS = """
const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
  return r.width && r.height ? [r.left, r.top, r.right, r.bottom] : null; };
const charts = {};
for (const card of document.querySelectorAll('figure[data-chart]')) {
  const plot = card.querySelector('.js-plotly-plot');
  const svg = plot.querySelector('.main-svg');
  const inner = card.getBoundingClientRect();
  const pad = getComputedStyle(card);
  charts[card.dataset.chart] = {
    card: [inner.left + parseFloat(pad.paddingLeft), inner.right - parseFloat(pad.paddingRight)],
    drawn: [svg.getBoundingClientRect().left, svg.getBoundingClientRect().right],
    width: parseFloat(svg.getAttribute('width')),
    legend: box(plot.querySelector('.legend')),
    toolbar: box(plot.querySelector('.modebar')),
    area: box(plot.querySelector('.draglayer .nsewdrag')),
    colorbar: box(plot.querySelector('.colorbar')),
    xlabels: [...plot.querySelectorAll('.xtick text, .g-xtitle text')].map(box).filter(Boolean),
    styles: plot._fullData.filter((t) => t.visible === true).map((t) => JSON.stringify([
      t.type, t.line ? t.line.color : null, t.line ? t.line.dash : null,
      t.mode && t.mode.includes('markers') ? t.marker.symbol : null,
      t.type === 'bar' ? [t.marker.color, t.marker.pattern && t.marker.pattern.shape] : null])),
  };
}
return charts;
"""

# per table: whether it is wider than the space it has, and the box that scrolls it
_TABLES = """
const tables = [];
for (const table of document.querySelectorAll('table')) {
  let scroller = table.parentElement;
  while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) {
    scroller = scroller.parentElement;
  }
  const right = (scroller || table).getBoundingClientRect().right;
  tables.push({id: table.id, width: table.scrollWidth,
    room: table.parentElement.clientWidth, scrolls: !!scroller,
    scroller_right: right, scroller_width: scroller ? scroller.clientWidth : null});
}
const page = document.documentElement;
return {tables: tables, page: page.scrollWidth, view: page.clientWidth};
"""

# scrolled to its right end, where the level's first column is (it must stay in view)
_STICKY = """
const scroller = document.querySelector('#levels').parentElement;
scroller.scrollLeft = scroller.scrollWidth;
const cell = document.querySelector('#levels tbody tr td:nth-child(2)');
const at = [cell.getBoundingClientRect().left, scroller.getBoundingClientRect().left,
            scroller.scrollLeft];
scroller.scrollLeft = 0;
return at;
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10-level grid whose gate failed and which regressed against its baseline (a
    faster target), and an open-model run whose gate passed."""
    where = tmp_path_factory.mktemp("pages")
    base = run_sweep("sim://?latency=1ms&capacity=8", **GRID)
    run = run_sweep("sim://?latency=4ms&capacity=8", **GRID)
    gates = GateOptions(
        thresholds=(parse_threshold("p99@all<0.5ms"), parse_threshold("error_rate<50%")),
        baseline="base.json",
    )
    judge_run(run, gates, base)
    open_run = run_sweep("sim://?latency=2ms", rates=(50.0, 200.0, 400.0), concurrency_cap=8)
    judge_run(open_run, GateOptions(thresholds=(parse_threshold("error_rate@all<50%"),)), None)
    # a fit saved with an open-model run (an older bulkload wrote one): nothing draws it
    open_run.usl = {"sigma": 0.1, "kappa": 0.001, "lambda": 5000.0, "r_squared": 0.95}
    write_html(run, str(where / "grid.html"), baseline=base)
    write_html(open_run, str(where / "open.html"))
    return {"grid": where / "grid.html", "open": where / "open.html"}


@pytest.mark.parametrize("width", WIDTHS)
def test_charts_and_tables_fit_at_each_width(browser, pages, width: int):
    set_width(browser, width)
    load(browser, pages["open"])
    problems = [f"open model: {problem}" for problem in _layout_problems(browser)]
    screenshot(browser, f"report-open-{width}.png", width)
    load(browser, pages["grid"])
    problems += _layout_problems(browser)
    screenshot(browser, f"report-{width}.png", width)
    assert not problems, f"at {width} px:\n" + "\n".join(problems)
    assert len(browser.execute_script(_CHARTS)["spectrum"]["styles"]) == 20  # 10 levels, twins


def _layout_problems(browser: Any) -> list[str]:
    charts = settle(browser, _CHARTS)
    problems = []
    for name, chart in charts.items():
        left, right = chart["card"]
        drawn_left, drawn_right = chart["drawn"]
        if drawn_left < left - 1 or drawn_right > right + 1 or chart["width"] > right - left + 1:
            problems.append(
                f"{name}: drawn {chart['width']:.0f} px wide in a {right - left:.0f} px card"
            )
        covered = [chart["area"], chart["colorbar"], *chart["xlabels"]]
        if _overlaps(chart["legend"], covered):
            problems.append(f"{name}: the legend covers the plot, its labels or the colour bar")
        if _overlaps(chart["toolbar"], [chart["area"], chart["colorbar"], chart["legend"]]):
            problems.append(f"{name}: the toolbar covers the plot, the colour bar or the legend")
        if len(set(chart["styles"])) != len(chart["styles"]):
            problems.append(f"{name}: {len(chart['styles'])} series, some drawn alike")
    laid = browser.execute_script(_TABLES)
    if laid["page"] > laid["view"]:
        problems.append(f"the page is {laid['page']} px wide in a {laid['view']} px window")
    for table in laid["tables"]:
        if table["width"] > table["room"] and not table["scrolls"]:
            problems.append(f"table {table['id']} overflows with nothing to scroll it")
        if table["scroller_right"] > laid["view"]:
            problems.append(f"table {table['id']} is cut at the window's right edge")
    cell, scroller, scrolled = browser.execute_script(_STICKY)
    if scrolled > 0 and cell < scroller - 1:
        problems.append(f"scrolled {scrolled} px, the level column went out of view")
    return problems


def test_resizing_the_window_resizes_the_charts(browser, pages):
    set_width(browser, 1920)
    load(browser, pages["grid"])
    wide = settle(browser, _CHARTS)
    set_width(browser, 1024)
    narrow = settle(browser, _CHARTS)
    for name in wide:  # cards of 640 px (two a row) or 1312 (wide ones) become 976
        assert narrow[name]["width"] != wide[name]["width"], name
        for chart in (wide[name], narrow[name]):  # drawn as wide as the card, each time
            left, right = chart["card"]
            assert abs(chart["width"] - (right - left)) <= 2, (name, chart)


def test_the_verdict_is_in_words(browser, pages):
    set_width(browser, 1280)
    load(browser, pages["grid"])
    badges = browser.execute_script(
        "return [...document.querySelectorAll('header .badge')].map(b => b.innerText)"
    )
    assert badges == ["FAILED (GATES)", "REGRESSED"]
    gates = browser.find_element("id", "verdict-gates").text
    assert gates.startswith("Gates failed: 10 of 11") and "p99@all < 0.5 ms at c=16" in gates
    regressed = browser.find_element("id", "verdict-baseline").text
    assert regressed.startswith("Regressed against base.json")
    assert "c=16 batch 400: rows_per_s" in regressed  # 4 times slower: whatever the load
    heads = browser.execute_script(
        "return [...document.querySelectorAll('#levels th')].map(th => th.innerText)"
    )
    assert "rows/s vs baseline" in heads and "p99 vs baseline" in heads
    load(browser, pages["open"])
    badges = browser.execute_script(
        "return [...document.querySelectorAll('header .badge')].map(b => b.innerText)"
    )
    assert badges == ["PASSED"]
    assert browser.find_element("id", "verdict-gates").text.startswith("Gates passed: 3 of 3")


def test_the_open_model_legend_names_only_what_is_drawn(browser, pages):
    set_width(browser, 1280)
    load(browser, pages["open"])
    names = browser.execute_script(
        "return [...document.querySelectorAll('figure[data-chart=throughput] .legendtext')]"
        ".map(t => t.textContent)"
    )
    assert names and not any("USL" in name for name in names), names
    assert "Universal Scalability Law" not in browser.find_element("tag name", "main").text


def _overlaps(box: list[float] | None, others: list[list[float] | None]) -> bool:
    if box is None:
        return False
    left, top, right, bottom = box
    return any(
        other is not None
        and left < other[2] - 1
        and other[0] < right - 1
        and top < other[3] - 1
        and other[1] < bottom - 1
        for other in others
    )
