"""``bulkload import --cluster``: share i of W loaded by each of W Dask workers through
the normal engine, as ``import --processes`` loads it in a process (the same
:func:`~bulkload.parallel.shares.import_share`: its batches of every file, its part of
the concurrency, rates and error budget). The client adds up the workers' counters
(live, for the progress line, and at the end) and writes every rejected row into its
one bad-records file.

The client prepares the table once (:mod:`bulkload.parallel.prepare`), then every task
appends. With ``--checkpoint`` each task runs with checkpoints and ``--resume``
semantics: a SQL target records every committed batch in its bookkeeping table in the
same transaction, so a task Dask re-runs after its worker died skips what its batches
already committed (those rows are then counted as skipped, not loaded). Targets without
a bookkeeping table (http, null, sim) get at-least-once: a re-run task loads its share
again.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload.config import ClusterOptions, ImportConfig
from bulkload.engine.import_run import RunControl
from bulkload.errors import AbortedError, FailureKind, UsageError
from bulkload.parallel.dask_connect import (
    DaskShares,
    IntervalFeed,
    import_distributed,
    publish_intervals,
    run_watched,
    task_events,
)
from bulkload.parallel.local import IntervalListener
from bulkload.parallel.local_import import keep_rejections, load_ended, whole_stats
from bulkload.parallel.partition import Share
from bulkload.parallel.prepare import prepare_import_target
from bulkload.parallel.runner import Outcome, ShareEnd
from bulkload.parallel.shares import import_share
from bulkload.sources.batch import Rejection
from bulkload.sources.discovery import STDIN
from bulkload.stats.run import SUMMED_COUNTERS, RunStats
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareRunner

PUBLISH_EVERY_S = 0.5  # how often a worker sends its counters to the client


class ClusterImport:
    """``import --cluster`` as a share runner: ``await run.run()``, then :meth:`outcome`;
    :meth:`stop` is the graceful stop (each task finishes its batches in flight)."""

    def __init__(self, config: ImportConfig):
        assert config.cluster.address is not None
        if STDIN in config.source.paths:
            raise UsageError("--cluster: the workers read files, not stdin")
        self.stats = whole_stats(config)
        self.config = replace(config, target=replace(config.target, table=self.stats.table))
        self.stats.effective_concurrency = config.engine.concurrency
        self.shares = DaskShares(config.cluster.address, config.cluster.workers)
        self.results: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self._latest: dict[int, dict[str, Any]] = {}  # share -> its last counters
        #: told of each interval a task's timeline closes (--metrics-addr only)
        self.interval_listeners: list[IntervalListener] = []

    def stop(self) -> None:
        self.shares.stop()

    async def run(self) -> None:
        """Prepare the table once, then run share i of W on each worker until each has
        ended. Cancelled: the tasks are aborted."""
        stats = self.stats
        try:
            await prepare_import_target(self.config)
            stats.started_at = time.perf_counter()
            self.results = await self.shares.run(self._round)
        except Exception as exc:  # preparing, connecting: the parent's own failure
            self.error = exc
            stats.outcome = "aborted" if isinstance(exc, AbortedError) else "failed"
        finally:
            stats.finished_at = time.perf_counter()

    def _round(self, shares: DaskShares) -> list[dict[str, Any]]:
        client, count = shares.client, len(shares.workers)
        topic = f"bulkload-import-{shares.run_id}"
        client.subscribe_topic(topic, self._on_progress)
        feed = None
        if self.config.report.metrics_addr:  # the tasks send their intervals
            feed = IntervalFeed(_intervals_topic(topic), self.interval_listeners)
            feed.subscribe(client)
        try:
            futures = [
                client.submit(
                    load_share,
                    self._share_config((index, count)),
                    index,
                    topic,
                    shares.events,
                    workers=shares.workers,
                    pure=False,
                    key=f"{topic}-{index}",
                )
                for index in range(1, count + 1)
            ]
            results = shares.gather(futures, ended_badly=lambda result: bool(result["error"]))
            if feed is not None:
                feed.settle(count)
            return results
        finally:
            client.unsubscribe_topic(topic)
            if feed is not None:
                feed.unsubscribe(client)

    def _share_config(self, share: Share) -> ImportConfig:
        config = import_share(self.config, share, Path("."))
        engine = config.engine
        if engine.checkpoint:  # the SQL bookkeeping table is the record; the file, scratch
            engine = replace(engine, checkpoint="share.checkpoint.json", resume=True)
        return replace(
            config,
            engine=engine,
            report=replace(config.report, bad_records=None),
            cluster=ClusterOptions(),
        )

    def _on_progress(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's counters (on the client's Dask thread): the live sum is updated."""
        _, message = event
        self._latest[message["share"]] = message
        for counter in SUMMED_COUNTERS:
            setattr(self.stats, counter, sum(m[counter] for m in self._latest.values()))

    def outcome(self, *, stopped: bool = False) -> Outcome[RunStats]:
        """The tasks' counters added, their histograms merged, their rejected rows in
        the one bad-records file."""
        from bulkload.load import bad_records_path

        stats, config = self.stats, self.config
        if self.error is not None:
            return Outcome(stats, error=self.error)
        count = len(self.results)
        ends = [
            ShareEnd(r["share"], count, f"worker {r['share']}/{count} on {r['host']}", r)
            for r in self.results
        ]
        rejected = (Rejection(*r) for result in self.results for r in result["rejected"])
        path = bad_records_path(config, stats.table)
        keep_rejections(stats, rejected, path, append=config.engine.resume)
        if self.results:  # the final counts replace the live sums and reject()'s
            for counter in SUMMED_COUNTERS:
                setattr(stats, counter, 0)
            stats.in_flight_max = 0
            for result in self.results:
                stats.add_worker(result)
        stats.in_flight = 0
        failures = [end for end in ends if end.failed]
        interrupted = stopped or self.shares.stopping or not self.results
        interrupted = interrupted or any(end.kind is FailureKind.INTERRUPTED for end in ends)
        if failures:
            stats.outcome = "aborted" if failures[0].kind is FailureKind.ABORTED else "failed"
        else:
            stats.outcome = "interrupted" if interrupted else "completed"
        return Outcome(stats, failures, interrupted)


def load_share(
    config: ImportConfig, share: int, topic: str, events: tuple[str, str]
) -> dict[str, Any]:
    """On a worker: load one share through the normal engine; return its counters, its
    histograms (encoded), its rejected rows and the error that stopped it, as data."""
    from bulkload.load import load_async

    worker = import_distributed().get_worker()
    control = RunControl()
    stats = RunStats()
    rejected: list[Rejection] = []
    feed_done = None
    if config.report.metrics_addr:  # the client serves the metrics: the intervals to it
        stats.timeline = Timeline(config.report.interval)
        feed_done = publish_intervals(stats.timeline, _intervals_topic(topic), share)

    def counters() -> dict[str, Any]:
        return {"share": share, **stats.summed_counters()}

    async def publish(_: RunStats) -> None:
        while True:
            worker.log_event(topic, counters())
            await asyncio.sleep(PUBLISH_EVERY_S)

    error: BaseException | None = None
    with tempfile.TemporaryDirectory(prefix="bulkload-") as scratch:
        if config.engine.checkpoint:
            checkpoint = os.path.join(scratch, config.engine.checkpoint)
            config = replace(config, engine=replace(config.engine, checkpoint=checkpoint))

        async def main() -> None:
            await load_async(
                config, stats=stats, on_reject=rejected.append, control=control, watcher=publish
            )

        try:
            run_watched(main, task_events(events), control.request_stop)
        except (asyncio.CancelledError, Exception) as exc:
            error = exc
    worker.log_event(topic, counters())
    if feed_done is not None:
        feed_done()
    return {
        **load_ended(stats, control.stop_requested, error, config.target.url),
        "share": share,
        "host": socket.gethostname(),
        "rejected": [(r.source, r.line, r.reason, r.record) for r in rejected],
    }


def _intervals_topic(topic: str) -> str:
    return f"{topic}-intervals"


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[Outcome[RunStats]]] = ClusterImport
