"""Stream a Parquet file as Arrow batches, one row group at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from bulkload.errors import InputError
from bulkload.sources.discovery import STDIN, SourceFile
from bulkload.sources.reader import RawChunk


def read_parquet(source: SourceFile, batch_size: int) -> Iterator[RawChunk]:
    if source.path == STDIN:
        raise InputError("Parquet cannot be read from stdin (it needs to seek): pass a file")
    if source.compression:
        raise InputError(
            "compressed Parquet files are not supported: Parquet compresses itself",
            source=source.name,
        )
    try:
        try:
            parquet = pq.ParquetFile(source.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", source=source.name) from None
        # Rows are numbered from 1: Parquet has no lines.
        row = 0
        reported = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_size):
                lines = pa.array(range(row + 1, row + 1 + batch.num_rows), pa.int64())
                row += batch.num_rows
                # Parquet reads by row group; spread the bytes in proportion to rows.
                consumed = (source.size or 0) * row // max(parquet.metadata.num_rows, 1)
                yield RawChunk(batch, lines, (), consumed - reported)
                reported = consumed
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read Parquet data: {exc}", source=source.name) from None
    finally:
        parquet_file = locals().get("parquet")
        if parquet_file is not None:
            parquet_file.close()
