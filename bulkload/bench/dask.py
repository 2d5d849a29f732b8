"""``bulkload bench --cluster``, the Dask runner of a sweep: each level runs on W Dask
workers at once, worker i running share i/W of it (its share of the concurrency, rate
and counts, its own key range: :func:`bulkload.bench.run.prepare_shard`, as every
runner's shares). Then the workers' levels are merged as ``--processes`` merges its
children's (:func:`bulkload.bench.merge.merge_shares`).

A level is one round of W tasks. Every task of a round is given the same wall-clock
start time and sleeps until it: that is the barrier that makes the workers' measured
windows overlap (clocks of different hosts must agree, as NTP keeps them). The merged
level adds the histograms and counters and takes its throughput over the union of the
windows, so a worker starting late lowers the rate instead of inflating it; how much
the windows overlapped is recorded per level, in ``machine.cluster``. (Below, the Dask
plumbing is in :mod:`bulkload.parallel.dask_connect`; this module needs the sweep.)
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bulkload.bench.merge import merge_shares
from bulkload.bench.result import SweepResult
from bulkload.bench.run import BenchOutcome, prepare_shard, prepare_target, share_ended
from bulkload.config import BenchConfig, ClusterOptions
from bulkload.engine.batch_writer import one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import UsageError
from bulkload.parallel.dask_connect import (
    DaskShares,
    IntervalFeed,
    publish_intervals,
    run_watched,
    task_events,
)
from bulkload.parallel.local import IntervalListener
from bulkload.parallel.runner import Outcome, ShareEnd
from bulkload.parallel.shares import need_fixed_levels
from bulkload.redact import redact_url
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareRunner

LEAD_S = 1.0  # a round starts this long after it is sent: every worker has it by then


class ClusterBench:
    """``bench --cluster`` as a share runner: ``await run.run()``, then :meth:`outcome`;
    :meth:`stop` is the graceful stop (every worker drops the level running)."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        argv: Sequence[str] = (),
        on_level: Callable[[int, int], None] | None = None,
    ):
        address = config.cluster.address
        assert address is not None
        _refuse_what_cannot_be_split(config)
        self.config = config
        self.argv = list(argv)
        self.whole = prepare_shard(config, None, argv=argv)  # its table, its result
        self.shares = DaskShares(address, config.cluster.workers)
        self.rounds: list[list[dict[str, Any]]] = []  # per level, what each worker sent
        self.hosts: dict[str, str] = {}
        self.error: Exception | None = None
        self.on_level = on_level  # (levels started so far, workers running it)
        #: told of each interval a task's timeline closes (--metrics-addr only)
        self.interval_listeners: list[IntervalListener] = []

    def stop(self) -> None:
        self.shares.stop()

    async def run(self) -> None:
        """Prepare the table once, then run the levels round by round until one does
        not complete. Cancelled: the tasks are aborted."""
        try:
            await prepare_target(self.whole, self.config)
            await self.shares.run(self._rounds)
        except Exception as exc:  # preparing, connecting: the parent's own failure
            self.error = exc

    def _rounds(self, shares: DaskShares) -> None:
        client, workers = shares.client, shares.workers
        self.hosts = client.run(socket.gethostname, workers=workers)
        config = replace(self.config, target=replace(self.config.target, if_exists="append"))
        feed = None
        if config.report.metrics_addr:  # the tasks send their intervals
            feed = IntervalFeed(f"bulkload-bench-{shares.run_id}", self.interval_listeners)
            feed.subscribe(client)
        try:
            self._each_level(shares, config, feed)
        finally:
            if feed is not None:
                feed.settle(sum(len(found) for found in self.rounds))
                feed.unsubscribe(client)

    def _each_level(self, shares: DaskShares, config: BenchConfig, feed: Any) -> None:
        client, workers = shares.client, shares.workers
        for level_config in _level_configs(config):
            if shares.stopping:
                break
            start_at = time.time() + LEAD_S
            futures = [
                client.submit(
                    run_share,
                    level_config,
                    (index, len(workers)),
                    start_at,
                    self.argv,
                    shares.events,
                    None if feed is None else feed.topic,
                    workers=[worker],
                    allow_other_workers=False,
                    pure=False,
                )
                for index, worker in enumerate(workers, start=1)
            ]
            if self.on_level is not None:
                self.on_level(len(self.rounds) + 1, len(workers))
            found = shares.gather(futures)
            self.rounds.append(found)
            if any(share["kind"] is not None for share in found):
                break  # failed or stopped: no level follows

    def outcome(self, *, stopped: bool = False) -> BenchOutcome:
        """The workers' levels merged; once the user stopped the run, none failed."""
        if self.error is not None:
            result = self.whole.result
            result.outcome, result.error = "failed", one_line(self.error)
            return Outcome(result, error=self.error)
        interrupted = stopped or self.shares.stopping
        if not self.rounds:
            return Outcome(None, interrupted=True)
        workers = self.shares.workers
        count = len(workers)
        last = self.rounds[-1]
        ends = [
            ShareEnd(i, count, f"worker {i}/{count} on {share['host']}", share)
            for i, share in enumerate(last, start=1)
        ]
        failures = [] if interrupted else [end for end in ends if end.failed]
        joined = [_joined([r[i]["result"] for r in self.rounds]) for i in range(count)]
        names = [share["host"] for share in last]
        merged, overlaps = merge_shares(
            joined, names=names, command=self.whole.result.command, who="workers"
        )
        merged.levels_planned = self.whole.result.levels_planned
        merged.machine["cluster"] = {
            "address": redact_url(self.shares.address),
            "workers": [{"address": w, "host": self.hosts.get(w, "")} for w in workers],
            "levels": [
                _round_summary(merged, k, overlap, [r.levels[k] for r in joined], names)
                for k, overlap in enumerate(overlaps)
            ],
        }
        return Outcome(merged, failures, interrupted)


def _joined(documents: list[dict[str, Any]]) -> SweepResult:
    """One worker's rounds (one level each) as one sweep."""
    rounds = [SweepResult.from_dict(document) for document in documents]
    first, last = rounds[0], rounds[-1]
    first.levels = [level for r in rounds for level in r.levels]
    first.warnings = list(dict.fromkeys(w for r in rounds for w in r.warnings))
    first.outcome, first.error = last.outcome, next((r.error for r in rounds if r.error), None)
    first.rows_written = sum(r.rows_written for r in rounds)
    timelines = [r.timeline for r in rounds if r.timeline is not None]
    first.timeline = Timeline.merge(timelines) if timelines else None  # every level's
    return first


def _round_summary(
    merged: SweepResult, k: int, overlap: float, windows: list[Any], hosts: list[str]
) -> dict[str, Any]:
    """What each worker measured at level ``k``, beside the merge."""
    level = merged.levels[k]
    return {
        "concurrency": level.concurrency,
        "rate": level.rate,
        "batch_size": level.batch_size,
        "window_overlap": overlap,
        "workers": [
            {
                "host": host,
                "rows": window.rows,
                "batches": window.batches,
                "rows_per_s": window.rows_per_s,
                "started_at": window.started_at,
                "finished_at": window.finished_at,
            }
            for host, window in zip(hosts, windows, strict=True)
        ],
    }


def _refuse_what_cannot_be_split(config: BenchConfig) -> None:
    need_fixed_levels(config, "--cluster", "worker")
    if config.sweep.shard is not None:
        raise UsageError("--cluster and --shard exclude each other: --cluster makes the shards")
    if config.sweep.reset:
        raise UsageError(
            "--reset cannot be used with --cluster: one worker emptying the table would "
            "delete the rows the others are writing"
        )


def _level_configs(config: BenchConfig) -> Iterator[BenchConfig]:
    """One single-level sweep per level and batch size, in the order a sweep runs them."""
    sweep = config.sweep
    for batch_size in sweep.batch_sizes:
        for level in sweep.rates or sweep.levels:
            one = replace(sweep, batch_sizes=(batch_size,))
            if sweep.rates:
                one = replace(one, rates=(float(level),), levels=())
            else:
                one = replace(one, levels=(int(level),))
            yield replace(config, sweep=one, cluster=ClusterOptions())


def run_share(
    config: BenchConfig,
    shard: tuple[int, int],
    start_at: float,
    argv: list[str],
    events: tuple[str, str],
    topic: str | None = None,
) -> dict[str, Any]:
    """On a worker: wait for the round's start, run this share of the level, return its
    result (as a dict: no bulkload class crosses the wire), and what ended it (its
    error as data: the message and its :class:`~bulkload.errors.FailureKind`). With a
    ``topic`` (``--metrics-addr``), its timeline's intervals go to the client on it."""
    watched = task_events(events)
    control = RunControl()
    result: SweepResult | None = None
    error: BaseException | None = None
    feed_done: Callable[[], None] | None = None
    try:
        sweep = prepare_shard(config, shard, argv=argv, control=control)
        result = sweep.result
        if topic is not None:
            result.timeline = Timeline(sweep.spec.interval_s)
            feed_done = publish_intervals(result.timeline, topic, shard[0])
        time.sleep(max(0.0, start_at - time.time()))  # the round's start, on every worker
        run_watched(sweep.run, watched, control.request_stop)
    except (asyncio.CancelledError, Exception) as exc:
        error = exc
    if feed_done is not None:
        feed_done()
    ended = share_ended(result, stopped=control.stop_requested, error=error)
    return {**ended, "host": socket.gethostname()}


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[BenchOutcome]] = ClusterBench
