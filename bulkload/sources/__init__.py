"""Readers that turn files, globs, directories and stdin into typed record batches.

:class:`BatchSource` is the one entry point: it expands the inputs, reads each in turn
(CSV or Parquet, compressed or not), re-cuts the rows into batches of ``batch_size``,
types them against one schema resolved from the first batch, and yields
:class:`SourceBatch` objects that carry their origin and any rows rejected on the way.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from bulkload.config import SourceOptions
from bulkload.errors import InputError
from bulkload.sources.batch import Rejection, SourceBatch
from bulkload.sources.csv_reader import read_csv
from bulkload.sources.discovery import STDIN, SourceFile, discover
from bulkload.sources.parquet_reader import read_parquet
from bulkload.sources.reader import RawChunk
from bulkload.sources.schema import SchemaPlan

__all__ = ["STDIN", "BatchSource", "Rejection", "SourceBatch", "SourceFile"]


class BatchSource:
    """All inputs of one run, read in order as typed batches of ``batch_size`` rows."""

    def __init__(self, options: SourceOptions):
        self.options = options
        self.files = discover(options.paths, options.format)
        self.plan: SchemaPlan | None = None

    @property
    def total_bytes(self) -> int | None:
        """Sum of the input sizes on disk, or None when any input has no known size."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    @property
    def schema(self) -> pa.Schema:
        if self.plan is None:
            raise RuntimeError("the schema is known once the first batch has been read")
        return self.plan.target_schema

    def batches(self) -> Iterator[SourceBatch]:
        remaining = self.options.limit
        for source in self.files:
            if remaining is not None and remaining <= 0:
                return
            produced = False
            for batch in self._read_one(source, remaining):
                produced = True
                if remaining is not None:
                    remaining -= batch.rows_read
                yield batch
            if not produced:
                raise InputError("has a header but no data rows", source=source.name)

    def _read_one(self, source: SourceFile, limit: int | None) -> Iterator[SourceBatch]:
        if source.format == "parquet":
            chunks = read_parquet(source, self.options.batch_size)
        else:
            chunks = read_csv(source, self.options.csv)
        for index, raw in enumerate(_limit(_rebatch(chunks, self.options.batch_size), limit)):
            if self.plan is None:
                self.plan = SchemaPlan.resolve(
                    raw.data,
                    select=self.options.select,
                    rename=self.options.rename,
                    types=self.options.types,
                    infer=source.format == "csv",
                )
            typed, bad = self.plan.conform(raw.data)
            rejected = list(raw.rejected)
            lines = raw.lines
            if bad:
                for row, reason in sorted(bad.items()):
                    rejected.append(Rejection(source.name, int(lines[row].as_py()), reason))
                keep = pa.array([i not in bad for i in range(raw.data.num_rows)])
                lines = lines.filter(keep)
            yield SourceBatch(
                data=typed,
                source=source.name,
                index=index,
                lines=lines,
                rejected=tuple(rejected),
                bytes_read=raw.bytes_read,
                rows_read=raw.data.num_rows + len(raw.rejected),
            )


def _rebatch(chunks: Iterator[RawChunk], size: int) -> Iterator[RawChunk]:
    """Re-cut the reader's chunks (sized by bytes) into chunks of exactly ``size`` rows."""
    pending: list[RawChunk] = []
    pending_rows = 0
    for chunk in chunks:
        pending.append(chunk)
        pending_rows += chunk.data.num_rows
        while pending_rows >= size:
            merged = _merge(pending)
            yield _slice(merged, 0, size, merged.rejected, merged.bytes_read)
            rest = _slice(merged, size, merged.data.num_rows - size, (), 0)
            pending, pending_rows = [rest], rest.data.num_rows
    if pending and (pending_rows or any(c.rejected for c in pending)):
        yield _merge(pending)


def _merge(chunks: list[RawChunk]) -> RawChunk:
    if len(chunks) == 1:
        return chunks[0]
    return RawChunk(
        data=pa.concat_batches([c.data for c in chunks]),
        lines=pa.concat_arrays([c.lines for c in chunks]),
        rejected=tuple(r for c in chunks for r in c.rejected),
        bytes_read=sum(c.bytes_read for c in chunks),
    )


def _slice(
    chunk: RawChunk, start: int, length: int, rejected: tuple[Rejection, ...], nbytes: int
) -> RawChunk:
    return RawChunk(
        chunk.data.slice(start, length), chunk.lines.slice(start, length), rejected, nbytes
    )


def _limit(chunks: Iterator[RawChunk], limit: int | None) -> Iterator[RawChunk]:
    """Stop after ``limit`` records, counting rows rejected while parsing, in file order."""
    if limit is None:
        yield from chunks
        return
    remaining = limit
    for chunk in chunks:
        if remaining <= 0:
            return
        records = chunk.data.num_rows + len(chunk.rejected)
        if records <= remaining:
            remaining -= records
            yield chunk
            continue
        numbers = np.sort(
            np.concatenate(
                [
                    np.asarray(chunk.lines.to_numpy(zero_copy_only=False), dtype=np.int64),
                    np.asarray([r.line or 0 for r in chunk.rejected], dtype=np.int64),
                ]
            )
        )
        cutoff = numbers[remaining - 1]
        rows = int(np.searchsorted(chunk.lines.to_numpy(zero_copy_only=False), cutoff, "right"))
        rejected = tuple(r for r in chunk.rejected if (r.line or 0) <= cutoff)
        yield _slice(chunk, 0, rows, rejected, chunk.bytes_read)
        return
