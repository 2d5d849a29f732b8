"""``bulkload import --cluster``: each file is a Dask task, loaded by a worker through
the normal engine; the client adds up the workers' counters (live, for the progress
line, and at the end) and writes every rejected row into its one bad-records file.

The client prepares the table once (:mod:`bulkload.parallel.prepare`: created, or
replaced, as ``--if-exists`` says), then every file's task appends: concurrent ``CREATE
TABLE`` statements would race. With
``--checkpoint`` each task runs with checkpoints and ``--resume`` semantics: a SQL
target records every committed batch in its bookkeeping table in the same transaction,
so a task Dask re-runs after its worker died skips what its batches already committed
(those rows are then counted as skipped, not loaded). Targets without a bookkeeping
table (http, null, sim) get at-least-once: a re-run task loads its file again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from bulkload import event_loop
from bulkload.config import ClusterOptions, ImportConfig
from bulkload.engine.batch_writer import one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import BulkloadError, FailureKind, UsageError
from bulkload.parallel.dask_connect import cluster_client, import_distributed, pick_workers
from bulkload.parallel.failure import ShareFailed
from bulkload.parallel.prepare import prepare_import_target
from bulkload.sources.batch import Rejection
from bulkload.sources.discovery import STDIN, SourceFile, discover
from bulkload.stats.run import SUMMED_COUNTERS, RunStats

PUBLISH_EVERY_S = 0.5  # how often a worker sends its counters to the client
POLL_S = 0.2  # how often the client looks for finished tasks and a stop request


async def load_on_cluster_async(
    config: ImportConfig,
    *,
    stats: RunStats | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    control: RunControl | None = None,
    watcher: Callable[[RunStats], Coroutine[Any, Any, None]] | None = None,
) -> RunStats:
    """:func:`bulkload.load.load_async` with the files loaded by the cluster's workers."""
    from bulkload.backends import create_backend
    from bulkload.engine.bad_records import BadRecordsFile
    from bulkload.load import bad_records_path

    files = discover(config.source.paths, config.source.format)
    if any(file.path == STDIN for file in files):
        raise UsageError("--cluster: the workers read files, not stdin")
    stats = stats or RunStats()
    control = control or RunControl()
    table = config.target.table or files[0].stem
    stats.target = create_backend(config.target).describe()
    stats.table = table
    stats.batch_size = config.source.batch_size
    stats.concurrency = stats.effective_concurrency = config.engine.concurrency
    sizes = [file.size for file in files]
    stats.bytes_total = None if None in sizes else sum(size or 0 for size in sizes)
    bad_records = None
    if on_reject is None:
        bad_records = BadRecordsFile(bad_records_path(config, table), append=config.engine.resume)
        on_reject = bad_records
        stats.bad_records_path = str(bad_records.path)
    config = replace(config, target=replace(config.target, table=table))
    # the table prepared once, from the client, before any task appends to it
    await prepare_import_target(config)
    run = _ClusterImport(config, files)
    run.live = stats
    stats.started_at = time.perf_counter()
    watch = asyncio.create_task(watcher(stats)) if watcher else None
    try:
        thread = asyncio.create_task(asyncio.to_thread(run.run, control))
        try:
            results = await asyncio.shield(thread)
        except asyncio.CancelledError:  # a second Ctrl-C: the tasks are cancelled too
            run.abort()
            with contextlib.suppress(BaseException):
                await thread
            raise
        _add_up(stats, results, on_reject)
    finally:
        stats.finished_at = time.perf_counter()
        if bad_records is not None:
            bad_records.close()
        if watch is not None:
            await event_loop.cancel_and_wait(watch)
    failure = next((result["error"] for result in results if result["error"]), None)
    if failure is not None:
        stats.outcome = "failed"
        raise ShareFailed(failure["message"], FailureKind(failure["kind"]))
    stopped = control.stop_requested or any(r["outcome"] == "interrupted" for r in results)
    stats.outcome = "interrupted" if stopped else "completed"
    return stats


class _ClusterImport:
    """The Dask side of one import, run on a thread of its own."""

    def __init__(self, config: ImportConfig, files: list[SourceFile]):
        self.config = config
        self.files = files
        self.run_id = uuid.uuid4().hex[:12]
        self.live: RunStats | None = None
        self._latest: dict[str, dict[str, Any]] = {}  # task -> its last counters
        self._client: Any = None
        self._futures: list[Any] = []

    def run(self, control: RunControl) -> list[dict[str, Any]]:
        distributed = import_distributed()
        address = self.config.cluster.address
        assert address is not None
        topic = f"bulkload-import-{self.run_id}"
        with cluster_client(address) as client:
            self._client = client
            workers = pick_workers(client, self.config.cluster.workers, address)
            stop = distributed.Event(f"bulkload-stop-{self.run_id}", client=client)
            client.subscribe_topic(topic, self._on_progress)
            try:
                results = self._round(client, workers, self.files, topic, stop, control)
            finally:
                client.unsubscribe_topic(topic)
                self._client = None
        return results

    def abort(self) -> None:
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.cancel(self._futures)

    def _round(
        self,
        client: Any,
        workers: list[str],
        files: list[SourceFile],
        topic: str,
        stop: Any,
        control: RunControl,
    ) -> list[dict[str, Any]]:
        distributed = import_distributed()
        futures = [
            client.submit(
                load_file,
                self._task_config(file),
                f"{self.run_id}-{index}",
                topic,
                stop.name,
                workers=workers,
                pure=False,
                key=f"bulkload-import-{self.run_id}-{index}",
            )
            for index, file in enumerate(files)
        ]
        self._futures = futures
        pending = set(futures)
        while pending:
            try:
                done = distributed.wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # none finished yet: look at the stop request again
                done = None
            if done is not None:
                pending = set(done.not_done)
            failed = any(f.status == "finished" and f.result()["error"] for f in futures)
            if (control.stop_requested or failed) and not stop.is_set():
                stop.set()  # the workers finish their batches in flight, then return
        return [future.result() for future in futures]

    def _task_config(self, file: SourceFile) -> ImportConfig:
        config = self.config
        target = replace(config.target, if_exists="append")  # prepared by the client
        engine = config.engine
        if engine.checkpoint:  # the SQL bookkeeping table is the record; the file, scratch
            engine = replace(engine, checkpoint=f"{self.run_id}.checkpoint.json", resume=True)
        return replace(
            config,
            source=replace(config.source, paths=(file.path,)),
            target=target,
            engine=engine,
            report=replace(config.report, json_path=None, bad_records=None, progress="off"),
            cluster=ClusterOptions(),
        )

    def _on_progress(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's counters (on the client's Dask thread): the live sum is updated."""
        _, message = event
        self._latest[message["task"]] = message
        live = self.live
        if live is None:
            return
        for counter in SUMMED_COUNTERS:
            setattr(live, counter, sum(m[counter] for m in self._latest.values()))


def load_file(config: ImportConfig, task: str, topic: str, stop_name: str) -> dict[str, Any]:
    """On a worker: load one file through the normal engine; return its counters, its
    histograms (encoded) and its rejected rows, and the error that stopped it, if any."""
    from bulkload.load import load_async

    distributed = import_distributed()
    worker = distributed.get_worker()
    stop = distributed.Event(stop_name)
    control = RunControl()
    stats = RunStats()
    rejected: list[Rejection] = []

    def counters() -> dict[str, Any]:
        return {"task": task, **stats.summed_counters()}

    async def publish(_: RunStats) -> None:
        while True:
            worker.log_event(topic, counters())
            if await asyncio.to_thread(stop.is_set):
                control.request_stop()
            await asyncio.sleep(PUBLISH_EVERY_S)

    error: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bulkload-") as scratch:
        if config.engine.checkpoint:
            checkpoint = os.path.join(scratch, config.engine.checkpoint)
            config = replace(config, engine=replace(config.engine, checkpoint=checkpoint))
        try:
            event_loop.run(
                load_async(
                    config, stats=stats, on_reject=rejected.append, control=control, watcher=publish
                )
            )
        except BulkloadError as exc:
            error = {"message": f"{socket.gethostname()}: {exc}", "kind": exc.kind.value}
        except Exception as exc:  # any other failure ends the run like an engine error
            error = {
                "message": f"{socket.gethostname()}: {one_line(exc)}",
                "kind": FailureKind.FAILED.value,
            }
    worker.log_event(topic, counters())
    return {
        **stats.worker_result(),
        "task": task,
        "outcome": stats.outcome,
        "error": error,
        "rejected": [(r.source, r.line, r.reason, r.record) for r in rejected],
    }


def _add_up(
    stats: RunStats, results: list[dict[str, Any]], on_reject: Callable[[Rejection], None]
) -> None:
    """The run's statistics: the tasks' final counters added, histograms merged; the
    rejected rows to ``on_reject`` (the one bad-records file)."""
    for result in results:
        for source, line, reason, record in result["rejected"]:
            rejection = Rejection(source, line, reason, record)
            stats.reject(rejection)  # keeps the first ones for the summary
            on_reject(rejection)
    for counter in SUMMED_COUNTERS:  # the final counts replace the live sums and reject()'s
        setattr(stats, counter, 0)
    stats.in_flight_max = 0
    for result in results:
        stats.add_worker(result)
    stats.in_flight = 0
