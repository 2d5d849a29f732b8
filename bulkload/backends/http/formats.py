"""Request bodies: one batch as JSON, NDJSON, CSV, Parquet or an Arrow IPC stream,
optionally compressed. CPU work only, run on the reader threads."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import zstandard

CONTENT_TYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


def to_json(batch: pa.RecordBatch) -> bytes:
    """A JSON array of objects; dates and timestamps as ISO-8601 text."""
    return pl.from_arrow(batch).write_json().encode()  # type: ignore[union-attr]


def to_ndjson(batch: pa.RecordBatch) -> bytes:
    """One JSON object per line."""
    return pl.from_arrow(batch).write_ndjson().encode()  # type: ignore[union-attr]


def to_csv(batch: pa.RecordBatch, options: pa_csv.WriteOptions | None = None) -> bytes:
    out = io.BytesIO()
    pa_csv.write_csv(batch, out, options)
    return out.getvalue()


def to_parquet(batch: pa.RecordBatch) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_batches([batch]), out)
    return out.getvalue()


def to_arrow(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


ENCODERS: dict[str, Callable[[pa.RecordBatch], bytes]] = {
    "json": to_json,
    "ndjson": to_ndjson,
    "csv": to_csv,
    "parquet": to_parquet,
    "arrow": to_arrow,
}


def compress(body: bytes, method: str | None) -> bytes:
    """The body under ``Content-Encoding: method``. Fast levels: the point is fewer bytes
    on the wire at little CPU, not the smallest file."""
    if method == "gzip":
        return gzip.compress(body, compresslevel=1, mtime=0)
    if method == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(body)
    return body
