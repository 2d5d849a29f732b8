"""``import --html``: a real SQLite import's report, opened in a real, offline Chromium.
It draws its charts with no error and fetches nothing, and every figure it shows is the
one the same run wrote to its ``--json``; a missing extra and a bad path stop the import
before it runs, as for bench."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli
from tests.report.chromium import browser, load, set_width
from tests.report.chromium import screenshot as take_screenshot
from tests.report.test_html_browser import _RENDERED, _requests

__all__ = ["browser"]  # the fixture, used by name


ROWS = 3000
BAD = {i for i in range(ROWS) if i % 600 == 7}  # 5 rows whose v is no integer

# what the import page shows: each summary row's JSON key and value, the rejections
# table, and the data of the chart over time as plotly holds it
_IMPORT = """
const figures = [...document.querySelectorAll('#summary tr')].map(
  r => [r.dataset.key, r.dataset.value, r.querySelector('td').textContent]);
const rejections = [...document.querySelectorAll('#rejections tbody tr')].map(
  r => [...r.children].map(c => c.textContent));
const over = document.getElementById('chart-timeline');
return {figures: figures, rejections: rejections,
        outcome: document.getElementById('outcome').textContent,
        rates: over.data[0].y, p99: over.data[1].y, names: over.data.map(t => t.name)};
"""


def _import(run_cli: RunCli, tmp_path: Path, *extra: str) -> Any:
    lines = ["id,v", *(f"{i},{'x' if i in BAD else i * 2}" for i in range(ROWS))]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    # throttled, so that the import spans several intervals of its timeline
    return run_cli(
        "import", "in.csv", "--to", "sqlite:///o.db", "--type", "v=int", "--batch-size", "100",
        "--rate", "3000", "--interval", "0.2s", "-q", *extra,
    )  # fmt: skip


def test_the_import_report_shows_the_run_s_own_figures(
    run_cli: RunCli, tmp_path: Path, browser: Any
):
    result = _import(run_cli, tmp_path, "--json", "s.json", "--html", "s.html")
    assert result.code == 1, result.stderr  # rows were rejected
    summary = json.loads((tmp_path / "s.json").read_text())
    with sqlite3.connect(tmp_path / "o.db") as db:
        (loaded,) = db.execute('select count(*) from "in"').fetchone()
    assert loaded == summary["rows_loaded"] == ROWS - len(BAD)

    driver = browser
    driver.get_log("browser")
    driver.get_log("performance")
    set_width(driver, 1400)
    load(driver, tmp_path / "s.html")
    drawn = driver.execute_script(_RENDERED)
    shown = driver.execute_script(_IMPORT)
    take_screenshot(driver, "import-report.png", 1400)
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    assert _requests(driver.get_log("performance")) == []

    # the charts are drawn, each series painted
    charts = drawn["charts"]
    assert set(charts) == {"timeline", "spectrum"}
    assert charts["timeline"]["series"] == 2 and charts["timeline"]["painted"] == 2
    assert charts["spectrum"]["painted"] == charts["spectrum"]["series"] >= 1
    assert all(chart["width"] > 600 and chart["height"] > 200 for chart in charts.values())

    # every figure is the JSON's
    figures = {key: (value, text) for key, value, text in shown["figures"]}
    for key in ("rows_read", "rows_loaded", "rows_rejected", "batches", "retries",
                "elapsed_s", "rows_per_s", "concurrency", "batch_size"):  # fmt: skip
        assert float(figures[key][0]) == pytest.approx(summary[key]), key
    assert figures["rows_loaded"][1] == f"{ROWS - len(BAD):,}"
    assert figures["rows_rejected"][1] == str(len(BAD))
    for name, value in summary["latency_ms"].items():
        if f"latency_ms.{name}" in figures:
            assert float(figures[f"latency_ms.{name}"][0]) == value
    assert shown["outcome"] == summary["outcome"] == "completed"

    # the rejections, with their source line and reason
    sample = summary["rejections_sample"]
    assert len(sample) == len(BAD)
    assert shown["rejections"] == [
        [item["source"], str(item["line"]), item["reason"]] for item in sample
    ]
    assert [int(row[1]) for row in shown["rejections"]] == sorted(i + 2 for i in BAD)

    # the chart over time: the timeline's intervals, rows/s and p99
    intervals = summary["timeline"]["intervals"]
    assert len(intervals) >= 4
    assert shown["names"] == ["rows/s", "p99"]
    assert shown["rates"] == pytest.approx([i["rows_per_s"] for i in intervals], rel=1e-3)
    p99 = [i["latency_ms"]["p99"] if i["latency_ms"]["count"] else None for i in intervals]
    assert [p is None for p in shown["p99"]] == [p is None for p in p99]
    assert [p for p in shown["p99"] if p is not None] == pytest.approx(
        [p for p in p99 if p is not None], rel=1e-3
    )
    assert sum(i["rows"] for i in intervals) == summary["rows_loaded"]

    # the saved summary renders again into the same page, command line included
    assert summary["kind"] == "bulkload-import"
    assert summary["command"][:2] == ["bulkload", "import"] and "--html" in summary["command"]
    again = run_cli("report", "html", "s.json", "-o", "again.html")
    assert again.code == 0, again.stderr
    page = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == page
    assert "bulkload import in.csv --to sqlite:///o.db" in page
    refused = run_cli("report", "html", "s.json", "--baseline", "s.json")
    assert refused.code == 3 and "compares bench results, not imports" in refused.error_line


def test_without_plotly_import_html_is_refused_before_the_import(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if bulkload[html] were missing
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    result = _import(run_cli, tmp_path, "--html", "s.html")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --html: the HTML report needs plotly, which is not installed: "
        "pip install 'bulkload[html]'"
    )
    assert not (tmp_path / "o.db").exists()  # nothing was imported


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("no/such/dir/r.html", "--html: cannot write no/such/dir/r.html"),
        (".", "--html: . is a directory"),
    ],
)
def test_a_bad_html_path_stops_the_import_before_it_runs(
    run_cli: RunCli, tmp_path: Path, html: str, message: str
):
    result = _import(run_cli, tmp_path, "--html", html)
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: {message}"), result.stderr
    assert not (tmp_path / "o.db").exists()


@pytest.mark.postgres
def test_a_password_in_the_target_url_never_reaches_the_import_report(
    run_cli: RunCli, tmp_path: Path, pg: Any
):
    dsn, schema, _sql = pg  # trust authentication: any password is accepted
    url = dsn.replace("postgres@", "postgres:s3cr3t-pw@")
    assert "s3cr3t-pw" in url
    (tmp_path / "in.csv").write_text("id,v\n1,2\n3,4\n")
    result = run_cli(
        "import", "in.csv", "--to", url, "--schema-name", schema, "--json", "s.json",
        "--html", "s.html", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    for name in ("s.json", "s.html"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "s3cr3t-pw" not in text, name
        assert "postgres:***@127.0.0.1" in text or "postgres:%2A%2A%2A@" in text, name
