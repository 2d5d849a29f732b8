"""``--metrics-addr``: serve a run's live metrics, for the run in this process."""

from __future__ import annotations

import os
import time
from typing import Any

from bulkload.config.models import ReportOptions
from bulkload.errors import UsageError
from bulkload.parallel.in_process import ImportRun
from bulkload.report.prometheus import LiveMetrics
from bulkload.stats.timeline import Timeline


def live_metrics(report: ReportOptions, runner: Any, command: str) -> LiveMetrics | None:
    """Start serving the metrics of ``runner``'s timeline (bench's sweep, or import's
    stats), or None without ``--metrics-addr``. A run split among processes or cluster
    workers keeps its timelines in them until it ends: refused."""
    if not report.metrics_addr:
        return None
    timeline = Timeline(report.interval)
    sweep = getattr(runner, "sweep", None)
    if sweep is not None and hasattr(sweep, "result"):
        sweep.result.timeline = timeline
    elif isinstance(runner, ImportRun):
        runner.stats.timeline = timeline
    else:
        raise UsageError(
            "--metrics-addr serves a run in this process: give --processes 1 (and no --cluster)"
        )
    metrics = LiveMetrics(f"{command}-{os.getpid()}-{int(time.time())}")
    metrics.watch(timeline)
    metrics.serve(report.metrics_addr)
    return metrics
