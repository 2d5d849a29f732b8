"""One import run of an :class:`~bulkload.ImportConfig`: the seam the command line,
worker processes and the library's :func:`bulkload.load` (:mod:`bulkload.library`) run.

Cheap to import (the engine, sources and backends are imported by a run): the package
imports it eagerly, so that the public function ``bulkload.load`` is not replaced by this
module when something imports it later.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload.errors import UsageError

if TYPE_CHECKING:
    from bulkload.config import ImportConfig
    from bulkload.engine import RejectionSink, RunControl
    from bulkload.sources import BatchSource
    from bulkload.stats.run import RunStats


def table_name(config: ImportConfig, source: BatchSource) -> str:
    """--table, or the first source file's stem."""
    from bulkload.sources import STDIN

    if config.target.table:
        return config.target.table
    first = source.files[0]
    if first.path == STDIN:
        raise UsageError("reading from stdin needs --table NAME")
    return first.stem


def bad_records_path(config: ImportConfig, table: str) -> Path:
    """--bad-records, or <table>.bad-records.csv in the working directory."""
    if config.report.bad_records:
        return Path(config.report.bad_records)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in table)
    return Path(f"{safe}.bad-records.csv")


async def load_async(
    config: ImportConfig,
    *,
    stats: RunStats | None = None,
    on_reject: RejectionSink | None = None,
    control: RunControl | None = None,
    watcher: Callable[[RunStats], Coroutine[Any, Any, None]] | None = None,
) -> RunStats:
    """Run one import (the keyword form is :func:`bulkload.load_async`). Rejected rows
    go to ``on_reject`` if given, else to the bad-records file. ``watcher(stats)`` (e.g.
    a progress display) runs alongside and is cancelled when the import ends."""
    import asyncio

    from bulkload.backends import create_backend
    from bulkload.engine import Engine
    from bulkload.engine.bad_records import BadRecordsFile
    from bulkload.engine.checkpoint import CheckpointFile, reading_of
    from bulkload.event_loop import cancel_and_wait
    from bulkload.sources import BatchSource
    from bulkload.stats.run import RunStats
    from bulkload.stats.sampler import IntervalSampler
    from bulkload.stats.timeline import Timeline

    backend = create_backend(config.target)
    source = BatchSource(config.source, typed=not backend.accepts_text)
    table = table_name(config, source)
    stats = stats or RunStats()
    stats.target = backend.describe()
    stats.table = table
    stats.batch_size = config.source.batch_size
    bad_records = None
    if on_reject is None:
        bad_records = BadRecordsFile(bad_records_path(config, table), append=config.engine.resume)
        on_reject = bad_records
        stats.bad_records_path = str(bad_records.path)
    checkpoint = None
    if config.engine.checkpoint:
        checkpoint = CheckpointFile(
            config.engine.checkpoint,
            table=table,
            batch_size=config.source.batch_size,
            reading=reading_of(config.source.csv),
        )
    engine = Engine(
        backend, config.engine, stats, on_reject=on_reject, checkpoint=checkpoint, control=control
    )
    watch = asyncio.create_task(watcher(stats)) if watcher else None
    if stats.timeline is None:
        stats.timeline = Timeline(config.report.interval)
    # the run over time: the counters read at each interval of the wall clock
    sampler = IntervalSampler(
        stats.timeline, "import", (stats,), in_flight=stats.take_in_flight, histogram="latency"
    )
    ticking = asyncio.create_task(sampler.run(asyncio.sleep))
    try:
        return await engine.run(source, table, config.target.if_exists)
    finally:
        ticking.cancel()
        sampler.tick()  # the last part interval
        if bad_records is not None:
            bad_records.close()
        if watch is not None:
            await cancel_and_wait(watch)
        await cancel_and_wait(ticking)
