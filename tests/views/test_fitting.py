"""The views' layout on fake clocks and fixed widths: progress lines dropping whole
fields by priority, a sweep's planned time and time left, text wrapped at spaces only,
gaps in a latency histogram."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from bulkload.bench.recommend import recommend_into
from bulkload.bench.result import SweepResult
from bulkload.bench.sweep import SweepProgress, SweepSpec
from bulkload.bench.timing import SweepTime, sweep_time
from bulkload.cli.views.console import fit
from bulkload.cli.views.histogram import histogram_lines
from bulkload.cli.views.import_progress import status_line
from bulkload.cli.views.sweep_progress import BenchProgress, level_line, plan_line, time_left
from bulkload.cli.views.sweep_table import render_sweep
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.level import LevelResult
from bulkload.stats.run import RunStats
from tests.views.screen import words_kept_whole


def busy_import() -> RunStats:
    """10 s into a 5.4 M-row import at 273,600 rows/s, retrying, its circuit half-open."""
    stats = RunStats(started_at=0.0, batch_size=10_000)
    stats.rows_loaded, stats.rows_read, stats.rows_total = 2_736_000, 2_800_000, 5_400_000
    stats.bytes_read, stats.bytes_total = 98_000_000, 190_000_000
    stats.rows_rejected, stats.retries, stats.in_flight = 1_234, 56, 8
    stats.breaker_state = "half-open"
    return stats


def test_the_progress_line_drops_whole_fields_to_fit():
    stats = busy_import()
    full = status_line(stats, 10.0)
    assert full.split("  ") == [
        "2,736,000 rows", "273,600 rows/s", "ETA 0:00:10", "circuit half-open",
        "rejected 1,234", "retries 56", "elapsed 0:00:10", "in flight 8", "9.8 MB/s",
    ]  # fmt: skip
    assert len(full) > 120
    assert status_line(stats, 10.0, 80).split("  ") == [
        "2,736,000 rows", "273,600 rows/s", "ETA 0:00:10", "circuit half-open", "rejected 1,234",
    ]  # fmt: skip
    assert status_line(stats, 10.0, 45) == "2,736,000 rows  273,600 rows/s  ETA 0:00:10"
    assert status_line(stats, 10.0, 200) == full
    for width in range(20, 200):
        line = status_line(stats, 10.0, width)
        assert len(line) <= width and full.startswith(line.split("  ")[0]), width
        assert all(field in full.split("  ") for field in line.split("  ")), (width, line)


def test_fit_keeps_the_order_shown_and_the_last_field():
    fields = [(0, "a" * 10), (2, "b" * 10), (1, "c" * 10)]
    assert fit(fields, 22) == "a" * 10 + "  " + "c" * 10
    assert fit(fields, 5) == "a" * 10  # never nothing
    assert fit(fields, None) == "  ".join(text for _, text in fields)


def test_a_sweep_plans_its_time():
    default = sweep_time(SweepSpec())  # 9 levels x (2 s + 10 s)
    assert (default.levels, default.level_s, default.total_s) == (9, 12.0, 108.0)
    assert plan_line(default) == (
        "bench: 9 levels x 12 s (2 s warm-up + 10 s measured): about 0:01:48 planned"
    )
    two_sizes = sweep_time(SweepSpec(levels=(1, 2), batch_sizes=(100, 1000), duration_s=5))
    assert two_sizes.total_s == 4 * 7.0
    auto = sweep_time(SweepSpec(levels=None, max_time_s=60, batch_sizes=(100, 1000)))
    assert auto.total_s == 120.0 and "at most 0:02:00" in plan_line(auto)
    one = sweep_time(SweepSpec(levels=(4,), duration_s=1, warmup_s=2))
    assert plan_line(one).startswith("bench: 1 level x 3 s (")
    counted = sweep_time(SweepSpec(rows=100_000))
    assert counted.total_s is None and "depends on the target" in plan_line(counted)


def test_time_left_counts_the_levels_to_come_and_the_one_running():
    plan = SweepTime(levels=9, warmup_s=2.0, window_s=10.0)
    assert plan.left_s(0, None, 0.0) == 108.0
    assert plan.left_s(2, 5.0, 30.0) == 7 * 12.0 - 5.0
    assert plan.left_s(2, 40.0, 60.0) == 6 * 12.0  # a level running late: never negative
    assert plan.left_s(9, None, 120.0) == 0.0
    auto = SweepTime(levels=None, warmup_s=2.0, window_s=10.0, budget_s=300.0)
    assert auto.left_s(3, 1.0, 100.0) == 200.0


def test_the_live_sweep_shows_the_whole_sweep_beside_its_level():
    """Level 3 of 9 done, 35 s in: 6 levels of 12 s to come."""
    now = [100.0]
    progress = SweepProgress(index=0, total=9)
    console = Console(file=io.StringIO(), width=80, color_system=None)
    plan = sweep_time(SweepSpec())
    shown = BenchProgress(progress, console, "rich", plan, clock=lambda: now[0])
    progress.index = 3
    now[0] = 135.0
    console.print(shown._render())
    first = console.file.getvalue().splitlines()[0]  # type: ignore[attr-defined]
    assert first == "sweep: level 3 of 9  about 0:01:12 left  elapsed 0:00:35"


def test_a_finished_level_in_a_log_says_the_sweep_time_left():
    level = LevelResult(concurrency=4, batch_size=10_000)
    level.latency.record(0.002)
    plan = SweepTime(levels=9, warmup_s=2.0, window_s=10.0)
    line = level_line(2, 9, level, left=time_left(84.2, plan))
    assert line.startswith("level 2/9 c=4 batch 10,000: ")
    assert line.endswith("; sweep about 0:01:25 left")
    assert "left" not in level_line(9, 9, level, left="about 0:00:00 left")  # the last
    auto = SweepTime(levels=None, warmup_s=2.0, window_s=10.0, budget_s=300.0)
    assert time_left(200.0, auto) == "at most 0:03:20 left"


def test_a_finished_query_level_says_queries_per_second():
    level = LevelResult(concurrency=4, batch_size=1, kind="query")
    level.batches, level.rows, level.elapsed_s = 3_000, 6_000, 1.0
    level.latency.record(0.002)
    assert "c=4 batch 1: 3,000 queries/s (6,000 rows/s), p99 " in level_line(1, 2, level)
    level.kind = "mixed"
    assert "c=4 batch 1: 3,000 ops/s (6,000 rows/s), p99 " in level_line(1, 2, level)


def test_the_recommendation_wraps_at_spaces_only():
    """It was printed after its label on the same line as a second text, which rich
    wrapped as if it started the line: lines past the width, which the terminal then
    cut anywhere: 'leve' / 'l'."""
    result = SweepResult(model="closed", target="sim://", table="t")
    for concurrency, rate in ((1, 1_000.0), (2, 1_950.0), (4, 2_000.0)):
        level = LevelResult(concurrency=concurrency, batch_size=10_000)
        level.elapsed_s, level.batches = 2.0, int(rate * 2 / 10_000) or 1
        level.rows = int(rate * 2)
        level.latency.record_many([0.005] * 10)
        result.levels.append(level)
    recommend_into(result, ())
    assert len(result.recommendation) > 60
    for width in (60, 80, 100):
        console = Console(file=io.StringIO(), width=width, color_system=None)
        render_sweep(result, console)
        lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
        assert words_kept_whole(lines, "recommended: " + result.recommendation), lines
        assert max(len(line) for line in lines) <= width, lines  # a terminal would cut it


def test_a_gap_in_the_latencies_shows():
    """Writes of 1 ms and of 100 ms, none between: the empty buckets between them are
    one line counting 0, not left out."""
    hist = LatencyHistogram()
    hist.record_many([0.001] * 50 + [0.0012] * 10 + [0.1] * 5 + [0.11] * 3)
    lines = histogram_lines(hist)
    counts = [int(line.rsplit(" ", 1)[1].replace(",", "")) for line in lines]
    assert sum(counts) == 68
    gaps = [line for line in lines if line.endswith(" 0")]
    assert len(gaps) == 1, lines
    low, high = (float(x) for x in re.findall(r"[\d.]+", gaps[0])[:2])
    assert low < 2 and high > 50  # the whole empty range, in one line
    assert "█" not in gaps[0]


@pytest.mark.parametrize("width", [80, 120])
def test_the_sweep_table_fits_with_whole_cells(width):
    result = SweepResult(model="closed", target="sim://", table="t")
    for concurrency in (1, 16, 256):
        level = LevelResult(concurrency=concurrency, batch_size=100_000)
        level.elapsed_s, level.batches, level.rows = 2.0, 4_000, 400_000_000
        level.latency.record_many([0.5, 1.5, 12.0])
        result.levels.append(level)
    console = Console(file=io.StringIO(), width=width, color_system=None)
    render_sweep(result, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    assert "200,000,000" in text  # rows/s, whole
