from __future__ import annotations

from bulkload.stats import LatencyHistogram


def test_percentiles_are_within_hdr_precision():
    hist = LatencyHistogram()
    for ms in range(1, 1001):  # 1 ms .. 1000 ms, uniform
        hist.record(ms / 1000)
    assert hist.count == 1000
    assert abs(hist.percentile_ms(50) - 500) <= 0.5
    assert abs(hist.percentile_ms(99) - 990) <= 1
    assert abs(hist.max_ms - 1000) <= 1
    assert abs(hist.mean_ms - 500.5) <= 1


def test_histograms_merge():
    fast, slow = LatencyHistogram(), LatencyHistogram()
    for _ in range(90):
        fast.record(0.001)
    for _ in range(10):
        slow.record(0.1)
    fast.merge(slow)
    assert fast.count == 100
    assert abs(fast.percentile_ms(50) - 1) < 0.01
    assert abs(fast.percentile_ms(95) - 100) < 0.1


def test_buckets_cover_every_sample():
    hist = LatencyHistogram()
    for i in range(1, 500):
        hist.record(i / 10_000)
    buckets = hist.buckets(10)
    assert sum(b.count for b in buckets) == 499
    assert buckets[0].low_ms <= hist.min_ms and buckets[-1].high_ms >= hist.max_ms


def test_empty_histogram():
    hist = LatencyHistogram()
    assert hist.summary_ms() == {"p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0}
    assert hist.buckets() == []
