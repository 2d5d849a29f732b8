"""The target prepared once, by the parent, before any share writes to it.

Preparing is what a one-process run does when it opens the target: the table created,
replaced, truncated or checked by ``--if-exists`` (and the schema created), the
checkpoint bookkeeping created. The shares then open it with ``--if-exists append``:
their own ``CREATE SCHEMA``/``CREATE TABLE`` statements, sent at once, would race (on
PostgreSQL one of them fails), and a ``replace`` in each share would drop the rows of
the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bulkload.backends.base import Backend, TableSpec
from bulkload.config import ImportConfig
from bulkload.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa


async def prepare_table(backend: Backend, spec: TableSpec) -> None:
    """Open the target for ``spec`` (one writer) and close it again."""
    try:
        await backend.open(spec)
    finally:
        await backend.close()  # a preset's set-up may fail after the client opened


async def prepare_bench_target(
    backend: Backend,
    batches: Iterable[pa.RecordBatch],
    *,
    table: str,
    if_exists: str,
    timeout: float | None,
) -> None:
    """A sweep's table, from the schema of the first of ``batches``."""
    first = await asyncio.to_thread(next, iter(batches), None)
    if first is None:
        raise UsageError("the input holds no rows to write")
    spec = TableSpec(table, first.schema, if_exists, writers=1, connect_timeout=timeout)
    await prepare_table(backend, spec)


async def prepare_import_target(config: ImportConfig) -> str:
    """An import's table (its schema from the first batch read) and checkpoint
    bookkeeping, as a one-process run opens them. Returns the table's name."""
    from bulkload.backends import create_backend
    from bulkload.engine.checkpoint import (
        CheckpointFile,
        check_recorded_keys,
        if_exists_for,
        reading_key,
        reading_of,
    )
    from bulkload.load import table_name
    from bulkload.sources import BatchSource

    backend = create_backend(config.target)
    source = BatchSource(config.source, typed=not backend.accepts_text)
    table = table_name(config, source)
    first = None
    for file in source.files:
        batches = source.batches_of(file)
        try:
            first = await asyncio.to_thread(next, batches, None)
        finally:
            close = getattr(batches, "close", None)  # a generator: its file is closed
            if close is not None:
                close()
        if first is not None:
            break
    if first is None:  # --limit 0: a one-process run opens nothing either
        return table
    if_exists = config.target.if_exists
    batch_size = config.source.batch_size
    resume = config.engine.resume
    if config.engine.checkpoint:  # as the one-process engine does, once for every share
        record = CheckpointFile(
            config.engine.checkpoint,
            table=table,
            batch_size=batch_size,
            reading=reading_of(config.source.csv),
        )
        if resume:
            if_exists = if_exists_for(if_exists, record.load(source.files))
        else:
            record.check_fresh_start(if_exists)
    spec = TableSpec(
        table,
        source.schema,
        if_exists,
        checkpoints=config.engine.checkpoint is not None,
        writers=1,
        connect_timeout=config.engine.timeout,
        batch_size=batch_size,
    )
    try:
        await backend.open(spec)
        if config.engine.checkpoint:  # the shares' own keys are no earlier load: here
            check_recorded_keys(
                await backend.committed_keys(),
                batch_size=batch_size,
                resume=resume,
                table=table,
                target=backend.describe(),
                files=source.files,
                reading=reading_key(reading_of(config.source.csv)),
            )
    finally:
        await backend.close()  # a preset's set-up may fail after the client opened
    return table
