"""Stream a Parquet file as Arrow batches, one row group at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from bulkload.errors import InputError
from bulkload.sources.discovery import STDIN, SourceFile
from bulkload.sources.read_errors import read_errors
from bulkload.sources.reader import RawChunk


def read_parquet(source: SourceFile, batch_size: int) -> Iterator[RawChunk]:
    if source.path == STDIN:
        raise InputError("Parquet cannot be read from stdin (it needs to seek): pass a file")
    if source.compression:
        raise InputError(
            "compressed Parquet files are not supported: Parquet compresses itself",
            source=source.name,
        )
    with read_errors(source.name, _not_parquet):
        parquet = pq.ParquetFile(source.path)
    try:
        # Rows are numbered from 1: Parquet has no lines.
        row = 0
        reported = 0
        batches = parquet.iter_batches(batch_size=batch_size)
        while True:
            # Any reader error (corrupt page, bad row group, I/O) names the file.
            with read_errors(source.name, _corrupt, after_line=row or None):
                batch = next(batches, None)
            if batch is None:
                return
            lines = pa.array(range(row + 1, row + 1 + batch.num_rows), pa.int64())
            row += batch.num_rows
            # Parquet reads by row group; spread the bytes in proportion to rows.
            consumed = (source.size or 0) * row // max(parquet.metadata.num_rows, 1)
            yield RawChunk(batch, lines, (), consumed - reported)
            reported = consumed
    finally:
        parquet.close()


def _not_parquet(message: str) -> str:
    return f"not a readable Parquet file: {message.strip().splitlines()[0]}"


def _corrupt(message: str) -> str:
    return f"cannot read Parquet data: {message.strip().splitlines()[0]}"
