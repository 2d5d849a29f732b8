"""``--metrics-addr``: serve a run's live metrics, from this process: the run's own
timeline, or the intervals the processes of ``--processes P`` (or the tasks of
``--cluster``) send it."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from bulkload.config.models import QueryOptions, ReportOptions
from bulkload.errors import UsageError
from bulkload.parallel.in_process import ImportRun
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:  # imported by the runs that serve metrics, not by every run
    from bulkload.report.prometheus import LiveMetrics


def live_metrics(
    report: ReportOptions, runner: Any, command: str, operation: str = "write"
) -> LiveMetrics | None:
    """Start serving the metrics of ``runner``'s timeline (bench's sweep, or import's
    stats), or of the intervals its processes or cluster workers send (``--processes P``,
    ``--cluster``), or None without ``--metrics-addr``. ``operation`` labels them: what
    the run's operations are (:func:`operation_of`)."""
    if not report.metrics_addr:
        return None
    from bulkload.report.prometheus import LiveMetrics

    metrics = LiveMetrics(f"{command}-{os.getpid()}-{int(time.time())}", operation)
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


def operation_of(queries: QueryOptions) -> str:
    """The ``operation`` label of a bench run's metrics: ``write`` (batch writes),
    ``query`` (a read sweep: its queries), or ``mixed`` (``--mix``: both, counted
    together; the timeline's intervals are per level, not per operation)."""
    if queries.mix is not None:
        return "mixed"
    return "query" if queries.queries else "write"
