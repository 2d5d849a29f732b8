"""Run statistics: counters and mergeable HDR latency histograms."""

from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.run import RunStats

__all__ = ["LatencyHistogram", "RunStats"]
