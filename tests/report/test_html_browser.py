"""The HTML report opened in a real, offline Chromium: it loads from file:// with the
network cut, logs no error, fetches nothing, draws every chart with its series, and shows
the levels. A screenshot of each page lands in test-artifacts/ (git-ignored).

Chromium and chromedriver are Debian's (``apt-get install chromium chromium-driver``);
nothing is downloaded: the driver's path is given, so selenium-manager is never run.
Without them the test is skipped, except under CI=true, where that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkload.bench.result import SweepResult
from bulkload.report.html import write_html
from tests.report.sweeps import run_sweep

# Sweeps and Chromium load the CPU: run on the worker of the timing-sensitive bench tests,
# one after another, never beside them (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("bench-timing")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

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


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"no {' or '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    profile = tmp_path_factory.mktemp("chromium-profile")  # fresh, every session
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with pytest.MonkeyPatch.context() as patch:  # it would download a browser: never run it
        patch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _no_selenium_manager(*args: Any) -> None:
    raise AssertionError("selenium-manager was asked for a driver: pass its path instead")


def open_report(driver: Any, path: Path, screenshot: str) -> dict[str, Any]:
    """Load the page, wait for every chart, screenshot it; what it drew and fetched."""
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get_log("performance")
    driver.get(path.as_uri())
    expected = driver.execute_script("return document.querySelectorAll('figure').length")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        drawn = driver.execute_script(
            "return document.querySelectorAll('figure .js-plotly-plot .main-svg').length"
        )
        if drawn >= expected:
            break
        time.sleep(0.2)
    seen = driver.execute_script(_RENDERED)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, height + 40)
    time.sleep(0.5)  # the responsive charts re-lay themselves out to the new size
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    driver.set_window_size(1400, 1000)
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
    assert series == {"throughput": 2 + recommended, "latency": 4, "spectrum": 3, "errors": 4}
    assert [row[1] for row in seen["rows"]] == ["50", "200", "400"]


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
