"""The timeline of a bench run: per-interval snapshots on real timers, against sim://.

A target that degrades part-way through shows it in the intervals after the change,
while the whole window's figures (dominated by the many fast writes before) do not."""

from __future__ import annotations

import json

import pytest

from bulkload.bench.merge import merge_results
from bulkload.bench.result import SweepResult
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.timeline import Interval, Timeline
from tests.bench.test_sweep import quick, sweep


def test_a_target_that_degrades_shows_it_in_the_timeline_not_in_the_window_figures():
    # 2 ms a write, 10x slower from 2 s after the target opened; one level of 5 s. A
    # loaded machine that stalls the healthy first seconds (their p50 or the window's
    # over 8 ms, or a rate far below the target's: no target degrading yet) is measured
    # again, up to 3 runs in all
    for attempt in range(3):
        result = sweep(
            "sim://?latency=2ms&degrade=10&degrade_at=2s",
            quick(levels=(4,), warmup_s=0.0, duration_s=5.0, interval_s=0.5),
        )
        level = result.levels[0]
        assert result.timeline is not None
        intervals = result.timeline.intervals
        assert 9 <= len(intervals) <= 13  # 5 s in 0.5 s steps (a part interval at each end)
        assert all(i.tag == "c=4 batch 100" for i in intervals)
        # the intervals add up to the level (all its writes: warm-up none, drain included)
        assert sum(i.batches for i in intervals) == level.batches
        assert sum(i.latency.count for i in intervals) == level.latency.count
        started = intervals[0].start
        early = [i for i in intervals if i.end - started <= 1.8 and i.batches]
        late = [i for i in intervals if i.start - started >= 2.6 and i.batches]
        assert early and late
        # and kept up with the target: 4 writes of 2 ms in flight, ~2,000 a second
        early_rate = sum(i.batches for i in early) / sum(i.seconds for i in early)
        healthy = all(i.latency.percentile_ms(50) < 8 for i in early) and early_rate > 1000
        if (healthy and level.latency.percentile_ms(75) < 8) or attempt == 2:
            break
    # each interval's own p50: ~2 ms before, ~20 ms after
    assert all(i.latency.percentile_ms(50) < 8 for i in early)
    assert all(i.latency.percentile_ms(50) >= 18 for i in late)
    # and its throughput drops by about 10x (rates over the intervals' time together:
    # a part interval of a few ms at the end would weigh as much as a whole one)
    late_rate = sum(i.batches for i in late) / sum(i.seconds for i in late)
    assert late_rate < early_rate / 4
    # the whole window's median and p90 look healthy: the degradation hides in them
    assert level.latency.percentile_ms(50) < 8
    assert level.latency.percentile_ms(75) < 8
    assert level.batches_per_s > 2 * late_rate  # the average throughput: twice the late
    # in the JSON, and back
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["timeline"]["interval_s"] == 0.5
    first = saved["timeline"]["intervals"][1]
    assert set(first) >= {"rows_per_s", "ops_per_s", "mb_per_s", "errors", "retries"}
    assert set(first) >= {"in_flight", "in_flight_max", "latency_ms", "latency_hdr"}
    again = SweepResult.from_dict(saved)
    assert again.timeline is not None
    assert [i.batches for i in again.timeline.intervals] == [i.batches for i in intervals]


def test_an_open_model_timeline_records_the_offered_load_and_errors():
    result = sweep(
        "sim://?latency=2ms&error_rate=0.2&seed=3",
        quick(levels=None, rates=(200.0,), warmup_s=0.0, duration_s=2.0, interval_s=0.5),
    )
    assert result.timeline is not None
    full = [i for i in result.timeline.intervals if i.seconds > 0.4]
    assert full
    for interval in full:
        assert interval.offered_per_s == pytest.approx(200, rel=0.25)
        assert interval.concurrency is None
    assert sum(i.errors for i in result.timeline.intervals) > 0
    assert sum(i.retries for i in result.timeline.intervals) > 0


def test_shards_merge_interval_by_interval_of_the_wall_clock():
    a = sweep("sim://?latency=2ms", quick(levels=(2,), warmup_s=0.0, duration_s=1.0))
    b = SweepResult.from_dict(json.loads(json.dumps(a.to_dict())))
    a.shard, b.shard = {"index": 1, "count": 2}, {"index": 2, "count": 2}
    b.command = a.command
    merged = merge_results([a, b])
    assert merged.timeline is not None and a.timeline is not None
    assert len(merged.timeline) == len(a.timeline)
    for one, both in zip(a.timeline.intervals, merged.timeline.intervals, strict=True):
        assert both.batches == 2 * one.batches
        assert both.latency.count == 2 * one.latency.count


def _interval(start: float, batches: int) -> Interval:
    latency = LatencyHistogram()
    latency.record_many([0.001] * batches)
    return Interval(start=start, end=start + 1.0, tag="x", batches=batches, latency=latency)


def test_a_long_run_keeps_a_bounded_timeline_by_coarsening_old_intervals():
    timeline = Timeline(1.0, max_intervals=100)
    for second in range(10_000):
        timeline.add(_interval(1_000_000.0 + second, 3))
    assert len(timeline) <= 100
    assert timeline.interval_s >= 100
    assert sum(i.batches for i in timeline.intervals) == 30_000
    assert sum(i.latency.count for i in timeline.intervals) == 30_000
    # each interval keeps its histogram compressed: a few hundred bytes, not ~180 KB
    assert all(len(i.latency_hdr or "") < 2_000 for i in timeline.intervals)


def test_writes_in_flight_add_up_over_the_same_time_not_over_time_that_follows_on():
    """Two shards' intervals of the same second: their writers were in flight together.
    A neighbour folded in (a coarsening timeline, or a last part interval in the slot of
    the one before it): the same writers later, so the peak is the larger. (Summed, an
    import at -c 2 once showed 4 in flight.)"""

    def interval(start: float, end: float, now: int, most: int) -> Interval:
        return Interval(start, end, "x", batches=1, in_flight=now, in_flight_max=most)

    together = interval(10.0, 10.5, 1, 2)
    together.add(interval(10.0, 10.5, 2, 2))
    assert (together.in_flight, together.in_flight_max) == (3, 4)
    after = interval(10.0, 10.499, 2, 2)
    after.add(interval(10.499, 10.4995, 1, 2))
    assert (after.in_flight, after.in_flight_max) == (1, 2)
    assert (after.start, after.end, after.batches) == (10.0, 10.4995, 2)
    # a timeline whose last part interval lands in its predecessor's slot
    timeline = Timeline(0.5)
    timeline.add(interval(10.0, 10.499, 2, 2))
    timeline.add(interval(10.499, 10.4995, 0, 2))
    (only,) = timeline.intervals
    assert (only.in_flight, only.in_flight_max, only.batches) == (0, 2, 2)
    # coarsened: neighbours fold, the peak stays the peak
    coarse = Timeline(1.0, max_intervals=4)
    for second in range(16):
        coarse.add(interval(100.0 + second, 101.0 + second, 1, 3))
    assert max(i.in_flight_max for i in coarse.intervals) == 3
