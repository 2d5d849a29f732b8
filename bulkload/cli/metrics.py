"""``--metrics-addr``: serve a run's live metrics, from this process: the run's own
timeline, or the intervals the processes of ``--processes P`` (or the tasks of
``--cluster``) send it."""

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
    stats), or of the intervals its processes or cluster workers send (``--processes P``,
    ``--cluster``), or None without ``--metrics-addr``."""
    if not report.metrics_addr:
        return None
    metrics = LiveMetrics(f"{command}-{os.getpid()}-{int(time.time())}")
    timeline = Timeline(report.interval)
    sweep = getattr(runner, "sweep", None)
    if sweep is not None and hasattr(sweep, "result"):
        sweep.result.timeline = timeline
        metrics.watch(timeline)
    elif isinstance(runner, ImportRun):
        runner.stats.timeline = timeline
        metrics.watch(timeline)
    elif hasattr(runner, "interval_listeners"):  # processes, cluster workers: their sums
        runner.interval_listeners.append(metrics.add)
    else:
        raise UsageError(f"--metrics-addr cannot watch this run ({type(runner).__name__})")
    metrics.serve(report.metrics_addr)
    return metrics
