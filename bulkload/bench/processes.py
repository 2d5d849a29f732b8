"""``bulkload bench --processes P``: the sweep in P local processes, merged as shards are.

For when one event loop is the bottleneck. The parent prepares the target once (the
table created or replaced as ``--if-exists`` says), then runs share i of P
(``--shard i/P`` semantics) in each of P processes
(:class:`bulkload.parallel.local.LocalShares`); the parent keeps the terminal. Before
each level every share waits at a barrier, so the levels start together and their
windows overlap; the overlap is measured and saved. Under ``--reset`` a first barrier
lets one share empty the table only once every share's writes have ended. Each share
sends its result (or its error) back as data; the results are merged with
:func:`~bulkload.bench.merge.merge_shares` (throughput over the union of the windows).

:class:`BenchProcesses` is a share runner (:mod:`bulkload.parallel.runner`): its
:meth:`~BenchProcesses.stop` is passed on to every share (each drops the level running
and keeps the finished ones); cancelling :meth:`~BenchProcesses.run` stops them at once
(a share still running 10 s later is killed). A share that fails stops the others after
their level; what the others measured is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bulkload import event_loop
from bulkload.bench.merge import merge_shares
from bulkload.bench.result import SweepResult
from bulkload.bench.run import BenchOutcome, prepare_shard, prepare_target, share_ended
from bulkload.config import BenchConfig
from bulkload.engine.batch_writer import one_line
from bulkload.errors import UsageError
from bulkload.parallel.local import (
    ChildStop,
    IntervalListener,
    LocalShares,
    Message,
    ShareLink,
    send_intervals,
    take_interval,
)
from bulkload.parallel.runner import Outcome, ShareEnd
from bulkload.parallel.shares import bench_child, need_fixed_levels
from bulkload.sources.discovery import STDIN
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareRunner


def check_processes(config: BenchConfig) -> None:
    """Refuse what cannot be split among processes, before any is started."""
    count = config.sweep.processes
    if config.sweep.shard is not None:
        raise UsageError(
            "--processes and --shard exclude each other: --processes runs the shards i/P "
            "itself (on several machines, give each job --shard and no --processes)"
        )
    need_fixed_levels(config, "--processes", "process")
    if config.synthetic is not None and config.synthetic.rows < count:
        raise UsageError(f"--processes {count}: fewer synthetic rows than processes")
    if config.source is not None and STDIN in config.source.paths:
        raise UsageError("bench reads its input several times: pass files, not stdin (-)")


def merge_children(
    ends: Sequence[ShareEnd],
    count: int,
    command: list[str],
    code_of: Callable[[ShareEnd], int],
) -> SweepResult | None:
    """The shares' results merged over the levels all of them ran, with how their
    windows overlapped; None when none sent a result."""
    found = [(end, _result_of(end)) for end in ends]
    saved = [(end, result) for end, result in found if result is not None]
    if not saved:
        return None
    results = [result for _, result in saved]
    names = [end.where for end, _ in saved]
    merged, overlaps = merge_shares(results, names=names, command=command, who="processes")
    merged.processes = {
        "count": count,
        "window_overlap": [round(overlap, 4) for overlap in overlaps],
        "children": [_child_summary(end, result, code_of) for end, result in found],
    }
    return merged


def _child_summary(
    end: ShareEnd, result: SweepResult | None, code_of: Callable[[ShareEnd], int]
) -> dict[str, Any]:
    levels = result.levels if result is not None else []
    return {
        "index": end.index,
        "pid": end.pid,
        "exit_code": code_of(end),
        "levels": [
            {
                "started_at": level.started_at,
                "finished_at": level.finished_at,
                "rows": level.rows,
                "batches": level.batches,
            }
            for level in levels
        ],
    }


def run_share(link: ShareLink, config: BenchConfig, argv: list[str]) -> None:
    """In a child: run share i of P of the sweep, in step with the others through
    ``link``; send its result and what ended it (:func:`~bulkload.bench.run.share_ended`)."""
    from bulkload.engine.import_run import RunControl

    control = RunControl()
    signals = ChildStop(control.request_stop)  # the parent's Ctrl-C, passed on
    result: SweepResult | None = None
    error: BaseException | None = None
    with signals:
        try:
            sweep = prepare_shard(
                bench_child(config), link.share, argv=argv, control=control, barrier=link
            )
            result = sweep.result
            if config.report.metrics_addr:  # the parent serves the metrics
                result.timeline = Timeline(sweep.spec.interval_s)
                send_intervals(link, result.timeline)

            async def main() -> None:
                signals.attach()  # from now on the second signal cancels this task
                await sweep.run()

            event_loop.run_command(main())
        except (KeyboardInterrupt, asyncio.CancelledError, Exception) as exc:
            error = exc
    link.send("result", share_ended(result, stopped=control.stop_requested, error=error))


def _result_of(end: ShareEnd) -> SweepResult | None:
    document = (end.body or {}).get("result")
    return None if document is None else SweepResult.from_dict(document)


class BenchProcesses:
    """``bench --processes P`` as library code: :meth:`run` prepares the target once,
    runs the P shares and waits for them; :meth:`outcome` merges what they sent."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        argv: Sequence[str],
        code_of: Callable[[ShareEnd], int],
        on_level: Callable[[int, int], None] | None = None,
    ):
        check_processes(config)
        self.config = config
        self.count = config.sweep.processes
        self.code_of = code_of  # the exit code a share's run would have had (the CLI's)
        self.on_level = on_level  # (levels started so far, processes running)
        self.runner = LocalShares(self.count, run_share, config, list(argv))
        self.whole = prepare_shard(config, None, argv=argv)  # its table, its result
        self.command = self.whole.result.command  # redacted
        self.error: Exception | None = None  # what stopped the parent
        self._started = 0
        #: told of each interval a share's timeline closes (--metrics-addr only)
        self.interval_listeners: list[IntervalListener] = []

    def stop(self) -> None:
        """The first stop request: every share drops the level running."""
        self.runner.stop()

    async def run(self) -> None:
        """Prepare the table once, before any share writes (they append to it), then run
        the shares until each has ended. Cancelled (the second stop request) or failed:
        no share outlives it."""
        try:
            await prepare_target(self.whole, self.config)
        except Exception as exc:  # kept for outcome(): no share started
            self.error = exc
            return
        try:
            if not self.runner.stopping:
                self.runner.start()
            await self.runner.watch(self._on_message)
        finally:
            await self.runner.shutdown()

    def _on_message(self, message: Message) -> None:
        if take_interval(message, self.interval_listeners):
            return
        if message.kind == "level" and self.on_level is not None:
            self._started += 1
            running = sum(1 for p in self.runner.processes if p.exitcode is None)
            self.on_level(self._started, running)

    def outcome(self, *, stopped: bool = False) -> BenchOutcome:
        """The shares' results merged; once the user stopped the run (``stopped``), how a
        share ended is the stop's doing: none failed. Preparing the target failed: the
        whole run's result, failed, with that error."""
        if self.error is not None:
            result = self.whole.result
            result.outcome, result.error = "failed", one_line(self.error)
            return Outcome(result, error=self.error)
        runner = self.runner
        runner.stopping = runner.stopping or stopped
        ends = runner.ends()
        failures = [] if runner.stopping else [end for end in ends if end.failed]
        merged = merge_children(ends, self.count, self.command, self.code_of)
        return Outcome(merged, failures, runner.stopping)


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[BenchOutcome]] = BenchProcesses
