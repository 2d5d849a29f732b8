"""A latency histogram as text bars, for the import summary and the sweep view."""

from __future__ import annotations

from bulkload.report.summary import ms
from bulkload.stats.histogram import LatencyHistogram

_BAR_WIDTH = 36


def histogram_lines(hist: LatencyHistogram) -> list[str]:
    """The latency histogram as text bars, one line per non-empty log-spaced bucket."""
    buckets = [b for b in hist.buckets() if b.count]
    if len(buckets) < 2:
        return []
    peak = max(b.count for b in buckets)
    lines = []
    for bucket in buckets:
        width = max(1, round(bucket.count / peak * _BAR_WIDTH))
        label = f"{ms(bucket.low_ms):>9} to {ms(bucket.high_ms):<9}"
        lines.append(f"    {label} {'█' * width} {bucket.count:,}")
    return lines
