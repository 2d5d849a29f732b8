"""A sweep whose throughput has no scaling shape: the USL fit is poor (R² < 0.8), and the
JSON, the terminal and the HTML say so instead of offering its peak."""

from __future__ import annotations

import json
from pathlib import Path

from bulkload.bench.recommend import recommend_into
from bulkload.bench.result import SweepResult
from bulkload.report.json_summary import write_document
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.level import LevelResult
from tests.conftest import RunCli

#: rows/s per concurrency, up and down at random (a noisy, shared target)
ERRATIC = {1: 1_000, 2: 3_000, 4: 900, 8: 3_100, 16: 950}
#: rows/s per concurrency that rise, peak and fall as the USL has them (R² near 1)
SCALING = {1: 1_010, 2: 1_890, 4: 3_400, 8: 5_500, 16: 7_300, 32: 7_700, 64: 5_900}


def _level(concurrency: int, rows_per_s: int) -> LevelResult:
    latency = LatencyHistogram()
    latency.record_many([0.002] * 100)
    return LevelResult(
        concurrency=concurrency,
        batch_size=100,
        started_at=1_790_000_000.0,
        finished_at=1_790_000_001.0,
        elapsed_s=1.0,
        rows=rows_per_s,
        batches=rows_per_s // 100,
        in_flight_mean=float(concurrency),
        in_flight_max=concurrency,
        latency=latency,
    )


def _saved_sweep(path: Path, throughput: dict[int, int]) -> dict[str, object]:
    result = SweepResult(model="closed", target="sim://", table="t", version="0.1.0")
    result.levels = [_level(c, x) for c, x in throughput.items()]
    recommend_into(result, ())  # the analysis a sweep runs
    write_document(result.to_dict(), str(path))
    saved: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return saved


def test_a_poor_fit_is_said_to_be_poor_and_gives_no_peak(run_cli: RunCli, tmp_path: Path):
    saved = _saved_sweep(tmp_path / "run.json", ERRATIC)
    usl = saved["usl"]
    assert isinstance(usl, dict)
    assert usl["r_squared"] < 0.8 and usl["poor_fit"] is True
    # the recommendation comes from the measurements: the lowest level within 10% of
    # the best (3,100 rows/s at 8) is 2
    assert saved["recommended_concurrency"] == 2

    shown = run_cli("report", "show", "run.json", env={"COLUMNS": "160"})
    assert shown.code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "warning: the fit is poor (R² below 0.8)" in text
    assert "recommendation is made from the measurements alone" in text
    assert "peak at concurrency" not in text and "USL fit │" not in text

    made = run_cli("report", "html", "run.json", "-o", "run.html")
    assert made.code == 0, made.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    callout = page.split("Universal Scalability Law fit", 1)[0].rsplit("<div", 1)[1]
    assert 'class="callout warn"' in callout
    assert "the fit is poor (R² below 0.8)" in page and "peak at concurrency" not in page
    assert "USL fit, poor" in page  # the curve's name in the chart

    # a result saved before the poor_fit key existed is judged by its R²
    del usl["poor_fit"]
    (tmp_path / "old.json").write_text(json.dumps(saved), encoding="utf-8")
    old = run_cli("report", "show", "old.json", env={"COLUMNS": "160"})
    assert "the fit is poor" in " ".join(old.stdout.split())


def test_a_good_fit_gives_its_peak(run_cli: RunCli, tmp_path: Path):
    saved = _saved_sweep(tmp_path / "run.json", SCALING)
    usl = saved["usl"]
    assert isinstance(usl, dict)
    assert usl["r_squared"] > 0.95 and usl["poor_fit"] is False
    shown = run_cli("report", "show", "run.json", env={"COLUMNS": "160"})
    text = " ".join(shown.stdout.split())
    assert "peak at concurrency" in text and "poor" not in text
    assert "USL fit │" in text
