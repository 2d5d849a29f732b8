"""Readers that turn files, globs, directories and stdin into typed record batches.

:class:`BatchSource` is the one entry point: it expands the inputs, reads each (CSV or
Parquet, compressed or not), re-cuts the rows into batches of ``batch_size``, types them
against one schema resolved from the first batch, and yields :class:`SourceBatch`
objects that carry their origin and any rows rejected on the way. Several files may be
read at once from different threads (``batches_of`` per file); ``--limit`` is shared.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from bulkload.config import SourceOptions
from bulkload.errors import InputError
from bulkload.phase_times import phase
from bulkload.sources.batch import CsvDialect, Rejection, SourceBatch, csv_line
from bulkload.sources.csv_reader import csv_delimiter, read_csv
from bulkload.sources.discovery import STDIN, SourceFile, discover
from bulkload.sources.reader import RawChunk, text_size
from bulkload.sources.schema import SchemaPlan

__all__ = ["STDIN", "BatchSource", "Rejection", "SourceBatch", "SourceFile"]


class BatchSource:
    """All inputs of one run, read as typed batches of ``batch_size`` rows."""

    def __init__(self, options: SourceOptions, *, typed: bool = True):
        """``typed=False``: CSV columns stay text as read (the schema is still inferred,
        for creating the table); for targets that convert and check values themselves."""
        self.options = options
        self.typed = typed
        self.files = discover(options.paths, options.format)
        self.plan: SchemaPlan | None = None
        self._budget = _Budget(options.limit)
        self._plan_lock = threading.Lock()
        self._empty_files: set[str] = set()  # files read whole that held no record

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
        """Every file in order."""
        for source in self.files:
            yield from self.batches_of(source)

    def batches_of(self, source: SourceFile) -> Iterator[SourceBatch]:
        """One file's batches. Safe to run for different files on different threads."""
        if self._budget.exhausted:
            return
        if source.format == "parquet":
            # here, not at the top: pyarrow.parquet (and pyarrow.fs with it) would cost
            # every CSV run ~8 ms of start-up
            from bulkload.sources.parquet_reader import read_parquet

            chunks = read_parquet(source, self.options.batch_size)
        else:
            chunks = read_csv(source, self.options.csv)
        dialect = None
        if source.format == "csv":
            delimiter = csv_delimiter(source, self.options.csv)
            dialect = CsvDialect(delimiter, self.options.csv.quote_char)
        produced = False
        rebatched = _rebatch(chunks, self.options.batch_size)
        mine = self._share_of(source)
        for index, raw in enumerate(self._budget.take(rebatched)):
            produced = True
            if not mine(index):  # another process's batch: parsed, neither typed nor sent
                with _naming(source):
                    self._resolve_plan(source, raw)
                continue
            with _naming(source), phase("type"):
                batch = self._typed(source, index, raw, dialect)
            yield batch
        if not produced and not self._budget.exhausted:
            self._no_rows_in(source)

    def _share_of(self, source: SourceFile) -> Callable[[int], bool]:
        """Which batch indexes of ``source`` this process loads: all, or under
        ``import --processes P`` those n with (f + n) mod P == i - 1, f the file's
        position among the inputs (so one-batch files are spread too)."""
        share = self.options.process_share
        if share is None:
            return lambda index: True
        number, count = share
        position = next((at for at, f in enumerate(self.files) if f is source), None)
        if position is None:
            position = self.files.index(source)
        first = (number - 1 - position) % count
        return lambda index: index % count == first

    def _resolve_plan(self, source: SourceFile, raw: RawChunk) -> None:
        """The schema, from the first batch read (whichever process loads it)."""
        with self._plan_lock:
            if self.plan is None:
                self.plan = SchemaPlan.resolve(
                    raw.data,
                    select=self.options.select,
                    rename=self.options.rename,
                    types=self.options.types,
                    infer=source.format == "csv",
                )

    def _no_rows_in(self, source: SourceFile) -> None:
        """A header-only file adds no rows and the run goes on; only a run in which no
        input holds any row at all is an error (there is nothing to load or type)."""
        with self._plan_lock:
            self._empty_files.add(source.path)
            all_empty = self.plan is None and len(self._empty_files) == len(self.files)
        if all_empty and len(self.files) == 1:
            raise InputError("has a header but no data rows", source=source.name)
        if all_empty:
            raise InputError(f"none of the {len(self.files)} input files has a data row")

    def _typed(
        self, source: SourceFile, index: int, raw: RawChunk, dialect: CsvDialect | None
    ) -> SourceBatch:
        self._resolve_plan(source, raw)
        assert self.plan is not None
        if self.typed or dialect is None:
            typed, bad = self.plan.conform(raw.data)
        else:
            typed, bad = self.plan.as_text(raw.data), {}
        rejected = list(raw.rejected)
        lines, text = raw.lines, raw.data if dialect else None
        if bad:
            for row, reason in sorted(bad.items()):
                record = None
                if dialect:
                    record = csv_line([c[row].as_py() for c in raw.data.columns], dialect)
                rejected.append(Rejection(source.name, int(lines[row].as_py()), reason, record))
            keep = pa.array([i not in bad for i in range(raw.data.num_rows)])
            lines = lines.filter(keep)
            text = text.filter(keep) if text is not None else None
        return SourceBatch(
            data=typed,
            file=source,
            index=index,
            lines=lines,
            rejected=tuple(rejected),
            bytes_read=raw.bytes_read,
            rows_read=raw.data.num_rows + len(raw.rejected),
            raw=text,
            dialect=dialect,
        )


@contextmanager
def _naming(source: SourceFile) -> Iterator[None]:
    """Typing errors (a missing column, an unloadable Parquet type) name their file."""
    try:
        yield
    except InputError as exc:
        if exc.source is not None:
            raise
        raise InputError(str(exc), source=source.name) from None


def _rebatch(chunks: Iterator[RawChunk], size: int) -> Iterator[RawChunk]:
    """Re-cut the reader's chunks (sized by bytes) into chunks of exactly ``size`` rows.
    When reading fails part-way, the rows read before the failure still go out (a
    short last batch), then the error."""
    pending: list[RawChunk] = []
    pending_rows = 0

    def rest() -> Iterator[RawChunk]:
        if pending and (pending_rows or any(c.rejected for c in pending)):
            yield _merge(pending)

    try:
        for chunk in chunks:
            pending.append(chunk)
            pending_rows += chunk.data.num_rows
            while pending_rows >= size:
                with phase("rebatch"):
                    merged = _merge(pending)
                # a ragged row goes with the rows around it: those before the rest's
                # first row here, the others with the rest (--limit counts in file order)
                rest_starts = _line_at(merged, size)
                before = tuple(r for r in merged.rejected if (r.line or 0) < rest_starts)
                after = tuple(r for r in merged.rejected if (r.line or 0) >= rest_starts)
                head, tail = _split(merged, size, before, after)
                yield head
                pending, pending_rows = [tail], tail.data.num_rows
    except Exception:
        yield from rest()  # what was read before the failure, then the failure
        raise
    yield from rest()


def _line_at(chunk: RawChunk, row: int) -> float:
    """The line of the chunk's row ``row``; past its last row, beyond every line."""
    return chunk.lines[row].as_py() if row < len(chunk.lines) else math.inf


def _split(
    chunk: RawChunk, rows: int, head: tuple[Rejection, ...], tail: tuple[Rejection, ...]
) -> tuple[RawChunk, RawChunk]:
    """The chunk's first ``rows`` rows with the rejected records ``head``, and the rest
    with ``tail``. The bytes go with the records, so a batch counts its own rows' bytes:
    shared by the size of their text (CSV), else by their number (Parquet)."""
    whole = chunk.text if chunk.text is not None else text_size(chunk.data, chunk.rejected)
    part = text_size(chunk.data.slice(0, rows), head)
    if whole and part is not None:
        nbytes, rest = chunk.bytes_read * part // whole, whole - part
    else:
        records = chunk.data.num_rows + len(chunk.rejected)
        nbytes, part, rest = chunk.bytes_read * (rows + len(head)) // max(records, 1), None, None
    others = chunk.data.num_rows - rows
    return (
        RawChunk(chunk.data.slice(0, rows), chunk.lines.slice(0, rows), head, nbytes, part),
        RawChunk(
            chunk.data.slice(rows, others),
            chunk.lines.slice(rows, others),
            tail,
            chunk.bytes_read - nbytes,
            rest,
        ),
    )


def _merge(chunks: list[RawChunk]) -> RawChunk:
    if len(chunks) == 1:
        return chunks[0]
    return RawChunk(
        data=pa.concat_batches([c.data for c in chunks]),
        lines=pa.concat_arrays([c.lines for c in chunks]),
        rejected=tuple(r for c in chunks for r in c.rejected),
        bytes_read=sum(c.bytes_read for c in chunks),
        text=None if any(c.text is None for c in chunks) else sum(c.text or 0 for c in chunks),
    )


class _Budget:
    """``--limit``: records (loaded or rejected while parsing) shared by all readers."""

    def __init__(self, limit: int | None):
        self.remaining = limit
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def take(self, chunks: Iterator[RawChunk]) -> Iterator[RawChunk]:
        for chunk in chunks:
            if self.remaining is None:
                yield chunk
                continue
            with self._lock:
                granted = self._grant(chunk)
            if granted is None:
                return
            yield granted
            if granted is not chunk:
                return

    def _grant(self, chunk: RawChunk) -> RawChunk | None:
        assert self.remaining is not None
        if self.remaining <= 0:
            return None
        records = chunk.data.num_rows + len(chunk.rejected)
        if records <= self.remaining:
            self.remaining -= records
            return chunk
        # Cut in file order: the first `remaining` record numbers, valid or rejected.
        lines = chunk.lines.to_numpy(zero_copy_only=False)
        numbers = np.sort(np.concatenate([lines, [r.line or 0 for r in chunk.rejected]]))
        cutoff = numbers[self.remaining - 1]
        rows = int(np.searchsorted(lines, cutoff, "right"))
        rejected = tuple(r for r in chunk.rejected if (r.line or 0) <= cutoff)
        self.remaining = 0
        # only the bytes of the records within the limit: the rest were not handled
        granted, _ = _split(chunk, rows, rejected, ())
        return granted
