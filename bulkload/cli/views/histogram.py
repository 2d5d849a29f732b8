"""A latency histogram as text bars, for the import summary and the sweep view."""

from __future__ import annotations

from bulkload.report.summary import ms
from bulkload.stats.histogram import Bucket, LatencyHistogram

_BAR_WIDTH = 36


def histogram_lines(hist: LatencyHistogram) -> list[str]:
    """The latency histogram as text bars, one line per log-spaced bucket holding
    samples; empty buckets between them are one line each run, counting 0, so a gap in
    the latencies shows as a gap."""
    buckets = hist.buckets()
    if sum(1 for bucket in buckets if bucket.count) < 2:
        return []
    peak = max(b.count for b in buckets)
    lines = []
    for bucket in _empty_runs_merged(buckets):
        width = round(bucket.count / peak * _BAR_WIDTH)
        bar = "█" * max(1, width) if bucket.count else ""
        label = f"{ms(bucket.low_ms):>9} to {ms(bucket.high_ms):<9}"
        lines.append(f"    {label} {bar}{' ' if bar else ''}{bucket.count:,}")
    return lines


def _empty_runs_merged(buckets: list[Bucket]) -> list[Bucket]:
    merged: list[Bucket] = []
    for bucket in buckets:
        if merged and not bucket.count and not merged[-1].count:
            merged[-1] = Bucket(merged[-1].low_ms, bucket.high_ms, 0)
        else:
            merged.append(bucket)
    return merged
