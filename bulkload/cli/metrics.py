"""``--metrics-addr``: serve a run's live metrics, from this process: the run's own
timeline, or the intervals the processes of ``--processes P`` send it."""

from __future__ import annotations

import os
import time
from typing import Any

from bulkload.bench.processes import BenchProcesses
from bulkload.config.models import ReportOptions
from bulkload.errors import UsageError
from bulkload.parallel.in_process import ImportRun
from bulkload.parallel.local_import import ImportProcesses
from bulkload.report.prometheus import LiveMetrics
from bulkload.stats.timeline import Timeline


def live_metrics(report: ReportOptions, runner: Any, command: str) -> LiveMetrics | None:
    """Start serving the metrics of ``runner``'s timeline (bench's sweep, or import's
    stats), or of the intervals its processes send (``--processes P``), or None without
    ``--metrics-addr``. A run on cluster workers keeps its timelines in them until it
    ends: refused."""
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
    elif isinstance(runner, ImportProcesses | BenchProcesses):
        runner.interval_listeners.append(metrics.add)
    else:
        raise UsageError(
            "--metrics-addr serves a run on this machine: the cluster's workers keep their "
            "timelines until they end (leave --cluster out)"
        )
    metrics.serve(report.metrics_addr)
    return metrics
