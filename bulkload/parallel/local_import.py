"""``bulkload import --processes P``: one import in P worker processes, merged.

For when one event loop is the bottleneck (many small requests to a fast target: the
client's CPU per request is the limit). The parent prepares the target once (creates,
replaces or checks the table and the checkpoint bookkeeping, as a one-process run
does when it opens it), then runs share i of P in each of P processes
(:class:`bulkload.parallel.local.LocalShares`). Share i of P:

- reads every input file but types, encodes and sends only its share of the batches:
  batch n of the f-th file (counting from 0) when (f + n) mod P == i - 1. Batch
  indexes, checkpoint keys and HTTP idempotency keys are those of a one-process run,
  so ``--resume`` works with any P, and a server that honours the key sees the same
  keys. (Each share parses all the input: cheap next to the request CPU that makes
  --processes worth it.)
- runs with 1/P of ``--concurrency``, ``--connections``, ``--rate``,
  ``--max-batches-per-sec``, ``--max-bytes-per-sec`` and of a ``--max-errors`` count
  (``bulkload.parallel.shares.import_share``);
- appends to the table the parent prepared; writes its rejected rows and checkpoint to
  files in the parent's scratch directory; sends its counters twice a second for the
  progress display and, at its end, its result (counters, HDR histograms, wall-clock
  window, exit code, error) over the queue; stops cleanly (as after a Ctrl-C) if the
  parent disappears.

The parent keeps the summed counters (for a progress display), stops every share on
:meth:`ImportProcesses.stop` (each finishes its batches in flight) and at once when
:meth:`ImportProcesses.run` is cancelled (a share still running 10 s later is killed),
and when one share fails or is interrupted, stops the others the same clean way. At
the end it merges the shares' results (counters added, histograms merged, elapsed time
over the union of their windows), writes every rejected row into the one bad-records
file and every committed key into the one ``--checkpoint`` file. The CLI
(``bulkload.cli.import_command``) wires the signals, shows the summary and the JSON of
one run, and picks the exit code.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload import event_loop
from bulkload.config import ImportConfig
from bulkload.errors import AbortedError, BulkloadError, FailureKind, UsageError
from bulkload.parallel.local import (
    ChildStop,
    IntervalListener,
    LocalShares,
    Message,
    ShareLink,
    send_intervals,
    take_interval,
)
from bulkload.parallel.prepare import prepare_import_target
from bulkload.parallel.runner import Outcome, ShareEnd
from bulkload.parallel.shares import import_share, share_file
from bulkload.sources.discovery import STDIN
from bulkload.stats.run import PER_WORKER_COUNTERS, SUMMED_COUNTERS

if TYPE_CHECKING:
    from bulkload.backends.base import BatchKey
    from bulkload.parallel.runner import ShareRunner
    from bulkload.sources.batch import Rejection
    from bulkload.stats.run import RunStats

#: how often a share sends its counters to the parent
PUBLISH_EVERY_S = 0.5


# ----------------------------------------------------------------------------- the share


def check_processes(config: ImportConfig) -> None:
    """Refuse, in one line, what several processes cannot do, before any is started."""
    from bulkload.backends import create_backend

    count = config.processes
    if config.cluster.address:
        raise UsageError(
            "--processes and --cluster exclude each other (the cluster's workers are the processes)"
        )
    if STDIN in config.source.paths:
        raise UsageError(
            "--processes: every process reads the input, and stdin (-) can be read once: pass files"
        )
    backend = create_backend(config.target)
    if backend.max_concurrency == 1:
        raise UsageError(
            f"--processes: {backend.describe()} takes one writer at a time; several "
            "processes cannot load it faster (leave --processes out)"
        )
    if config.engine.concurrency < count:
        raise UsageError(
            f"--processes {count} needs --concurrency {count} or more: each process keeps "
            f"its share of the {config.engine.concurrency} writes in flight"
        )
    connections = config.target.connections
    if connections is not None and connections < count:
        raise UsageError(
            f"--processes {count} needs --connections {count} or more: each process opens "
            f"its share of the {connections}"
        )


# ----------------------------------------------------------------------------- a share


def run_share(link: ShareLink, config: ImportConfig, workdir: Path) -> None:
    """In a child: load share i of P; its counters to the parent twice a second, its
    result and its error (as data) at the end; its rejected rows and checkpoint in
    files in ``workdir``."""
    from bulkload.engine.import_run import RunControl
    from bulkload.load import load_async
    from bulkload.stats.run import RunStats
    from bulkload.stats.timeline import Timeline

    settings = import_share(config, link.share, workdir)
    stats = RunStats()
    control = RunControl()
    if config.report.metrics_addr:  # the parent serves the metrics: its intervals to it
        stats.timeline = Timeline(config.report.interval)
        send_intervals(link, stats.timeline)

    async def publish(run_stats: RunStats) -> None:
        while True:
            link.send("progress", run_stats.summed_counters())
            if link.stopping:  # the parent stopped the run (its signal may come later)
                control.request_stop()
            await asyncio.sleep(PUBLISH_EVERY_S)

    signals = ChildStop(control.request_stop)

    async def main() -> None:
        signals.attach()  # the second signal cancels the run
        await load_async(settings, stats=stats, control=control, watcher=publish)

    error: BaseException | None = None
    with signals:
        try:
            event_loop.run_command(main())
        except (KeyboardInterrupt, asyncio.CancelledError, Exception) as exc:
            error = exc
    ended = load_ended(stats, control.stop_requested, error, config.target.url)
    link.send("result", {**ended, "window": _epoch_window(stats)})


def load_ended(
    stats: RunStats, stopped: bool, error: BaseException | None, url: str
) -> dict[str, Any]:
    """What a share of an import (a child, a Dask task) sends at its end: its counters
    and encoded histograms, its outcome, and what ended it as data (its error's first
    line, secrets redacted, and :class:`~bulkload.errors.FailureKind`)."""
    from bulkload.redact import redact_text, url_secrets

    kind: FailureKind | None = None
    message: str | None = None
    if isinstance(error, BulkloadError):
        stats.outcome = "aborted" if isinstance(error, AbortedError) else "failed"
        message, kind = str(error), error.kind
    elif isinstance(error, Exception):  # reported as the CLI reports it, never a traceback
        stats.outcome, kind = "failed", FailureKind.FAILED
        message = f"internal error: {type(error).__name__}: {error}"
    elif error is not None or stopped or stats.outcome == "interrupted":
        stats.outcome, kind = "interrupted", FailureKind.INTERRUPTED
    if message is not None:
        message = redact_text(message.strip().splitlines()[0], url_secrets(url))
    return {
        **stats.worker_result(),
        "outcome": stats.outcome,
        "error": message,
        "kind": None if kind is None else kind.value,
        "effective_concurrency": stats.effective_concurrency,
    }


def _epoch_window(stats: RunStats) -> list[float] | None:
    """The run's (start, end) on the wall clock, comparable between processes."""
    if stats.started_at is None:
        return None
    offset = time.time() - time.perf_counter()
    end = stats.finished_at if stats.finished_at is not None else time.perf_counter()
    return [stats.started_at + offset, end + offset]


# ----------------------------------------------------------------------------- the parent


@dataclass
class ShareOutput:
    """How one share ended, and where its files are."""

    end: ShareEnd
    workdir: Path
    result: dict[str, Any] | None  # what it sent at its end; else its last counters

    def file(self, name: str) -> Path:
        return share_file(self.workdir, self.end.index, name)


def _ended_badly(end: ShareEnd) -> bool:
    return end.kind is not None


# ----------------------------------------------------------------------------- merging


def merge_into(
    stats: RunStats, outcomes: Sequence[ShareOutput], code_of: Callable[[ShareEnd], int]
) -> None:
    """The run's statistics from the children's results (a child that saved none: its
    last published counters)."""
    windows = []
    processes: list[dict[str, Any]] = []
    for outcome in outcomes:
        result = dict(outcome.result or {})
        result["in_flight"] = 0 if outcome.end.body is None else result.get("in_flight", 0)
        stats.add_worker(result)
        if result.get("window"):
            windows.append(result["window"])
        processes.append(
            {
                "index": outcome.end.index,
                "pid": outcome.end.pid,
                "exit_code": code_of(outcome.end),
                "outcome": result.get("outcome", "killed"),
                **{counter: int(result.get(counter, 0)) for counter in PER_WORKER_COUNTERS},
            }
        )
        stats.effective_concurrency += int(result.get("effective_concurrency", 0))
    stats.processes = processes
    if windows:  # the union of the children's windows, on this process's clock
        offset = time.time() - time.perf_counter()
        stats.started_at = min(w[0] for w in windows) - offset
        stats.finished_at = max(w[1] for w in windows) - offset


def merge_bad_records(
    stats: RunStats, outcomes: Sequence[ShareOutput], path: Path, *, append: bool
) -> None:
    """Every child's rejected rows into the one bad-records file (grouped by process)."""
    from bulkload.sources.batch import Rejection

    def rejections() -> Iterator[Rejection]:
        for outcome in outcomes:
            part = outcome.file("bad-records.csv")
            if part.exists():
                with part.open(encoding="utf-8", newline="") as fh:
                    for row in csv.DictReader(fh):
                        line = int(row["line"]) if row["line"] else None
                        yield Rejection(row["source"], line, row["reason"], row["record"])

    keep_rejections(stats, rejections(), path, append=append)


def keep_rejections(
    stats: RunStats, rejections: Iterable[Rejection], path: Path, *, append: bool
) -> None:
    """The shares' rejected rows (already counted) into the one bad-records file, the
    first of them kept for the summary."""
    from bulkload.engine.bad_records import BadRecordsFile

    sink = BadRecordsFile(path, append=append)
    counted = stats.rows_rejected
    try:
        for rejection in rejections:
            stats.reject(rejection)
            sink(rejection)
    finally:
        sink.close()
        stats.rows_rejected = counted
    if sink.count:
        stats.bad_records_path = str(sink.path)


def merge_checkpoints(
    config: ImportConfig, table: str, outcomes: Sequence[ShareOutput], *, seeded: bool
) -> None:
    """Every child's committed keys into the one --checkpoint file."""
    from bulkload.engine.checkpoint import CheckpointFile, reading_of

    assert config.engine.checkpoint is not None
    batch_size = config.source.batch_size
    keys: set[BatchKey] = set()
    parts = [o.file("checkpoint.json") for o in outcomes]
    parts = [part for part in parts if part.exists()]
    if not parts:
        return  # no child got as far as its checkpoint: the file stays as it was
    if seeded:  # --resume: what the file held (each child started from a copy of it)
        parts.append(Path(config.engine.checkpoint))
    for part in parts:
        keys.update(CheckpointFile(part, table=table, batch_size=batch_size).load([]).all_keys())
    merged = CheckpointFile(
        config.engine.checkpoint,
        table=table,
        batch_size=batch_size,
        reading=reading_of(config.source.csv),
    )
    for key in sorted(keys, key=lambda k: (k.source, k.index, k.offset)):
        merged.record(key)
    merged.save()


# ----------------------------------------------------------------------------- the runner


class ImportProcesses:
    """``import --processes P`` as a share runner: ``await run.run()``, then
    :meth:`outcome` (which also removes the shares' scratch files); :meth:`stop` is
    the graceful stop."""

    def __init__(
        self, config: ImportConfig, *, argv: Sequence[str], code_of: Callable[[ShareEnd], int]
    ):

        check_processes(config)
        self.config = config
        self.code_of = code_of  # the exit code a share's run would have had (the CLI's)
        self.count = count = config.processes
        self.stats = whole_stats(config)
        checkpoint = config.engine.checkpoint
        self.seeded = bool(checkpoint and config.engine.resume and Path(checkpoint).exists())
        self._scratch = tempfile.TemporaryDirectory(prefix="bulkload-import-")
        workdir = self.workdir = Path(self._scratch.name)
        if self.seeded:  # each child resumes from the whole record
            assert checkpoint is not None
            for index in range(1, count + 1):
                shutil.copyfile(checkpoint, share_file(workdir, index, "checkpoint.json"))
        self.runner = LocalShares(
            count,
            run_share,
            config,
            workdir,
            stderr_to=lambda index: str(share_file(workdir, index, "stderr")),
        )
        self.published: dict[int, dict[str, Any]] = {}  # share -> its last counters
        self.error: Exception | None = None  # what stopped the parent
        #: told of each interval a share's timeline closes (--metrics-addr: the shares
        #: send them only then)
        self.interval_listeners: list[IntervalListener] = []

    def stop(self) -> None:
        """Every share finishes its batches in flight, then ends."""
        self.runner.stop()

    async def run(self) -> None:
        """Prepare the target once, run the shares (their counters summed in ``stats``)
        until each has ended. Cancelled or failed: no share outlives it."""
        stats, runner = self.stats, self.runner
        try:
            stats.table = await prepare_import_target(self.config)
        except Exception as exc:  # preparing the target failed: no share started
            self.error = exc
            stats.outcome = "aborted" if isinstance(exc, AbortedError) else "failed"
            return
        stats.started_at = time.perf_counter()
        try:
            if not runner.stopping:
                runner.start()
            await runner.watch(self._on_message, _ended_badly)
        finally:
            await runner.shutdown()

    def _on_message(self, message: Message) -> None:
        if take_interval(message, self.interval_listeners):
            return
        if message.kind == "progress":  # the live sums for the progress display
            self.published[message.index] = message.body
            for counter in SUMMED_COUNTERS:
                total = sum(int(c.get(counter, 0)) for c in self.published.values())
                setattr(self.stats, counter, total)

    def outcome(self, *, stopped: bool = False) -> Outcome[RunStats]:
        """Merge the shares' results, rejected rows and checkpoints."""
        stats, runner, config = self.stats, self.runner, self.config
        if self.error is not None:
            self._scratch.cleanup()
            return Outcome(stats, error=self.error)
        runner.stopping = runner.stopping or stopped
        outcomes = [
            ShareOutput(end, self.workdir, end.body or self.published.get(end.index))
            for end in runner.ends()
        ]
        for counter in SUMMED_COUNTERS:  # the live sums give way to the final ones
            setattr(stats, counter, 0)
        stats.finished_at = time.perf_counter()
        merge_into(stats, outcomes, self.code_of)
        bad_records = _bad_records(config, stats.table)
        merge_bad_records(stats, outcomes, bad_records, append=config.engine.resume)
        if config.engine.checkpoint:
            merge_checkpoints(config, stats.table, outcomes, seeded=self.seeded)
        order = {index: n for n, index in enumerate(runner.ended)}  # the order they ended
        failures = sorted(
            (o.end for o in outcomes if o.end.failed),
            key=lambda end: order.get(end.index, len(order) + end.index),
        )
        interrupted = runner.stopping or any(
            o.end.kind is FailureKind.INTERRUPTED for o in outcomes
        )
        if failures:
            aborted = (failures[0].body or {}).get("outcome") == "aborted"
            stats.outcome = "aborted" if aborted else "failed"
        else:
            stats.outcome = "interrupted" if interrupted else "completed"
        messages = _messages(outcomes)
        self._scratch.cleanup()  # the shares' files are merged
        return Outcome(stats, failures, interrupted, messages=messages)


def whole_stats(config: ImportConfig) -> RunStats:
    """The whole run's statistics, before any share has run (the shares' sums go in)."""
    from bulkload.backends import create_backend
    from bulkload.sources.discovery import discover
    from bulkload.stats.run import RunStats

    files = discover(config.source.paths, config.source.format)
    sizes = [file.size for file in files]
    return RunStats(
        target=create_backend(config.target).describe(),
        table=config.target.table or files[0].stem,
        concurrency=config.engine.concurrency,
        batch_size=config.source.batch_size,
        bytes_total=None if None in sizes else sum(size or 0 for size in sizes),
    )


def _bad_records(config: ImportConfig, table: str) -> Path:
    from bulkload.load import bad_records_path

    return bad_records_path(config, table)


def _messages(outcomes: Sequence[ShareOutput]) -> list[str]:
    """What the children said on stderr besides their error (warnings), once each."""
    seen: list[str] = []
    for outcome in outcomes:
        try:
            text = outcome.file("stderr").read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if line.strip() and line not in seen:
                seen.append(line)
    return seen


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[Outcome[RunStats]]] = ImportProcesses
