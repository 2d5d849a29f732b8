"""The progress line's ETA: rows done against rows known, on a fake clock (snapshots of a
run's counters at a given time), and the counters it is computed from, in real runs."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

import bulkload
from bulkload.cli.views.import_progress import ProgressReporter, status_line
from bulkload.options import build_import_config
from bulkload.report.estimate import estimate
from bulkload.sources import BatchSource
from bulkload.stats.run import RunStats

ROW_BYTES = 33  # of the rows of the snapshots below


def snapshot(**counters: int | None) -> RunStats:
    """A run started at 0 on the fake clock, with these counters."""
    stats = RunStats(started_at=0.0, batch_size=10_000)
    for name, value in counters.items():
        setattr(stats, name, value)
    return stats


def eta(stats: RunStats, now: float) -> float | None:
    known = estimate(stats, now)
    return None if known is None else known.eta_s


def test_rows_in_flight_and_read_ahead_are_not_done():
    """--rate 150000 into a 2 M-row file: at 1.4 M rows loaded, 8 batches are waiting for
    the rate limiter, and the parser has read the whole file. 0.6 M rows are left: 4 s."""
    stats = snapshot(
        rows_loaded=1_400_000,
        rows_read=1_480_000,
        bytes_total=2_000_000 * ROW_BYTES,
        bytes_read=1_480_000 * ROW_BYTES,  # of the rows read (the parser read them all)
    )
    now = 1_400_000 / 150_000
    assert eta(stats, now) == pytest.approx(4.0)
    assert "ETA 0:00:04" in status_line(stats, now)


def test_the_last_rows_are_not_shown_as_done():
    """1.5 s of rows left: the ETA says so (rounded up), not 0:00:00."""
    stats = snapshot(rows_loaded=850_000, rows_read=930_000, rows_total=1_000_000)
    stats.bytes_total = stats.bytes_read = 1_000_000 * ROW_BYTES
    assert eta(stats, 8.5) == pytest.approx(1.5)
    assert "ETA 0:00:02" in status_line(stats, 8.5)
    stats.rows_loaded = 1_000_000
    assert "ETA 0:00:00" in status_line(stats, 10.0)


def test_a_run_rejecting_every_row_still_advances():
    """Every row refused and bisected: rejected rows are handled rows."""
    stats = snapshot(rows_rejected=10_000, rows_read=50_000, rows_total=50_000)
    stats.bytes_total = stats.bytes_read = 50_000 * ROW_BYTES
    assert eta(stats, 20.0) == pytest.approx(80.0)  # 40k rows left at 500 rows/s
    assert "ETA 0:01:20" in status_line(stats, 20.0)


def test_before_all_is_read_the_total_is_estimated_from_bytes():
    stats = snapshot(
        rows_loaded=100_000,
        rows_read=180_000,
        bytes_total=1_000_000 * ROW_BYTES,
        bytes_read=180_000 * ROW_BYTES,
    )
    known = estimate(stats, 10.0)
    assert known is not None
    assert known.rows_total == pytest.approx(1_000_000)
    assert known.eta_s == pytest.approx(90.0)  # 900k rows at 10k rows/s


def test_rows_skipped_by_resume_are_done_but_not_part_of_the_rate():
    stats = snapshot(rows_skipped=500_000, rows_loaded=100_000, rows_read=100_000)
    stats.rows_total = 1_000_000
    stats.bytes_total = 1_000_000 * ROW_BYTES
    stats.bytes_read = 100_000 * ROW_BYTES
    assert eta(stats, 10.0) == pytest.approx(40.0)  # 400k left at 10k rows/s


def test_no_eta_when_it_would_mean_nothing():
    early = snapshot(rows_loaded=10_000, rows_read=20_000, bytes_total=10**6)
    early.bytes_read = 20_000 * ROW_BYTES
    assert eta(early, 1.0) is None  # too early to know the rate
    assert "ETA" not in status_line(early, 1.0)
    assert eta(early, 3.0) is not None
    nothing_handled = snapshot(rows_read=20_000, bytes_read=20_000 * ROW_BYTES)
    nothing_handled.bytes_total = 10**6
    assert eta(nothing_handled, 30.0) is None
    stdin = snapshot(rows_loaded=10_000, rows_read=20_000, bytes_read=20_000 * ROW_BYTES)
    # no size known: no total, no ETA
    assert estimate(stdin, 30.0) is None
    assert "ETA" not in status_line(stdin, 30.0)


def test_the_bar_shows_rows_done_on_the_reporters_clock():
    stats = snapshot(rows_loaded=250_000, rows_read=330_000, rows_total=1_000_000)
    stats.bytes_total = stats.bytes_read = 1_000_000 * ROW_BYTES
    console = Console(file=io.StringIO(), width=120, color_system=None)
    reporter = ProgressReporter(stats, console, "rich", clock=lambda: 10.0)
    console.print(reporter._render())
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ETA 0:00:30" in shown
    bar = shown.splitlines()[0]
    assert 0.2 < bar.count("━") / 50 < 0.3  # a quarter, not the bytes the parser read


def test_bytes_measure_the_rows_not_the_parsers_read_ahead(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("id,name\n" + "".join(f"{i},name{i}\n" for i in range(200_000)))
    config = build_import_config({"paths": [str(path)], "to": "null://", "batch_size": 10_000})
    source = BatchSource(config.source)
    batches = list(source.batches())
    first = batches[0]
    size = path.stat().st_size
    assert first.bytes_read < size / 10  # not what the parser had read ahead by then
    assert sum(b.bytes_read for b in batches) == size
    rows_per_byte = first.rows_read / first.bytes_read
    assert rows_per_byte * size == pytest.approx(200_000, rel=0.25)  # from the first batch


def test_a_run_counts_the_rows_of_its_input(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(25_000)) + "x,y,z\n")
    db = tmp_path / "o.db"
    config = build_import_config(
        {"paths": [str(path)], "to": f"sqlite:///{db}", "table": "d", "batch_size": 2000}
    )
    stats = bulkload.load(config, on_reject=lambda rejection: None)
    assert stats.rows_total == 25_001 == stats.rows_loaded + stats.rows_rejected
    assert stats.bytes_read == path.stat().st_size
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM d").fetchone()[0] == 25_000


def test_the_live_view_draws_a_sparkline_of_the_timelines_throughput():
    from bulkload.cli.views.sparkline import sparkline
    from bulkload.stats.timeline import Interval, Timeline

    assert sparkline([0, 50, 100]) == "▁▅█"
    assert sparkline([0, 0]) == "▁▁"
    stats = snapshot(rows_loaded=250_000, rows_read=250_000)
    stats.timeline = Timeline(1.0)
    for second, rows in enumerate([100, 200, 400, 800, 400]):
        start = 1_000_000.0 + second
        stats.timeline.add(Interval(start, start + 1.0, "import", rows=rows))
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(ProgressReporter(stats, console, "rich", clock=lambda: 10.0)._render())
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "rows/s ▂▃▅█▅ 400" in shown
