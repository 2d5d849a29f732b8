"""Stream a CSV source as Arrow batches of text columns, rejecting ragged rows.

Parsing is pyarrow's C++ reader; every column is read as text so nothing fails inside
the parser, and typing happens afterwards in :mod:`bulkload.sources.schema`, where a bad
value rejects one row. Line numbers count records: a quoted value spanning several
lines counts once and blank lines are not counted, exactly as in pyarrow's own numbering.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bulkload.config import CsvOptions
from bulkload.errors import InputError
from bulkload.sources.batch import Rejection
from bulkload.sources.discovery import SourceFile
from bulkload.sources.reader import RawChunk
from bulkload.sources.streams import ReplayReader, open_source

_PEEK_CHUNK = 64 * 1024
_PEEK_LIMIT = 16 * 1024 * 1024
_BLOCK_SIZE = 1 << 20


def read_csv(source: SourceFile, options: CsvOptions) -> Iterator[RawChunk]:
    stream, counter = open_source(source)
    try:
        try:
            prefix = _peek(stream, options.skip_rows)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read: {exc}", source=source.name) from None
        if not prefix.strip():
            raise InputError("file is empty", source=source.name)
        names = _column_names(prefix, options, source)
        header_rows = options.skip_rows + (1 if options.header else 0)
        invalid: list[Rejection] = []
        replay = ReplayReader(prefix, stream, _quote_byte(options))
        reader = _open_arrow_reader(replay, names, header_rows, options, invalid, source)
        chunks = _chunks(reader, invalid, header_rows, counter, source)
        yield from _check_quotes_closed(chunks, replay, source)
    finally:
        stream.close()


def _chunks(
    reader: pacsv.CSVStreamingReader,
    invalid: list[Rejection],
    header_rows: int,
    counter: object,
    source: SourceFile,
) -> Iterator[RawChunk]:
    valid_seen = 0
    invalid_numbers: list[int] = []  # record numbers of ragged rows, ascending
    bytes_reported = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise InputError(_explain(str(exc)), source=source.name) from None
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"cannot read: {exc}", source=source.name) from None
        rejected = tuple(invalid)
        invalid.clear()
        invalid_numbers.extend(r.line for r in rejected if r.line is not None)
        lines = _record_numbers(valid_seen, batch.num_rows, header_rows, invalid_numbers)
        valid_seen += batch.num_rows
        total = getattr(counter, "bytes_read", 0)
        yield RawChunk(batch, _int64_array(lines), rejected, total - bytes_reported)
        bytes_reported = total


def _quote_byte(options: CsvOptions) -> bytes | None:
    """The quote as one byte, when the encoding writes it as one (utf-8, latin-1, ...)."""
    if options.quote_char is None:
        return None
    encoded = options.quote_char.encode(options.encoding, errors="ignore")
    return encoded if len(encoded) == 1 and encoded.isascii() else None


def _check_quotes_closed(
    chunks: Iterator[RawChunk], replay: ReplayReader, source: SourceFile
) -> Iterator[RawChunk]:
    """Hold back the last chunk until the end of the file: if a quote was never closed,
    the parser has folded the rest of the file into one value of the last row, and
    loading it would silently turn many rows into one."""
    last: RawChunk | None = None
    for chunk in chunks:
        if last is not None:
            yield last
        last = chunk
    if last is None:
        return
    if replay.counted % 2 and last.data.num_rows and _last_row_spans_lines(last.data):
        line = last.lines[len(last.lines) - 1].as_py()
        raise InputError(
            "broken quoting: a quoted field opened in this row is never closed",
            source=source.name,
            line=line,
        )
    yield last


def _last_row_spans_lines(batch: pa.RecordBatch) -> bool:
    row = batch.slice(batch.num_rows - 1, 1)
    return any("\n" in (column[0].as_py() or "") for column in row.columns)


def _int64_array(values: np.ndarray) -> pa.Array:
    """Zero-copy; pa.array() would first import numpy.ma (15 ms) to rule out a mask."""
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _record_numbers(start: int, count: int, header_rows: int, invalid: list[int]) -> np.ndarray:
    """Record numbers of valid rows ``start .. start+count`` (0-based among valid rows).

    Valid rows are numbered header_rows+1, +2, ... with the ragged rows' numbers left
    out; the k-th surviving number is k + (ragged numbers <= it), found by searchsorted
    on ``invalid[i] - i`` (non-decreasing), in O(count log ragged).
    """
    candidates = np.arange(start, start + count, dtype=np.int64) + header_rows + 1
    if not invalid:
        return candidates
    holes = np.asarray(invalid, dtype=np.int64) - header_rows - 1
    shifted = holes - np.arange(len(holes), dtype=np.int64)
    return candidates + np.searchsorted(shifted, candidates - header_rows - 1, side="right")


def _peek(stream: BinaryIO, skip_rows: int) -> bytes:
    """Read enough of the start of the stream to hold the skipped rows and the header."""
    read = stream.read
    prefix = b""
    while len(prefix) < _PEEK_LIMIT:
        chunk = read(_PEEK_CHUNK)
        if not chunk:
            break
        prefix += chunk
        if prefix.count(b"\n") > skip_rows + 1:
            break
    return bytes(prefix)


def _column_names(prefix: bytes, options: CsvOptions, source: SourceFile) -> list[str]:
    encoding = "utf-8-sig" if options.encoding == "utf-8" else options.encoding
    text = prefix.decode(encoding, errors="replace")
    quoting: Literal[0, 1, 2, 3] = (
        csv.QUOTE_NONE if options.quote_char is None else csv.QUOTE_MINIMAL
    )
    rows = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=options.delimiter,
        quotechar=options.quote_char,
        quoting=quoting,
    )
    try:
        for _ in range(options.skip_rows):
            next(rows)
        first = next(rows)
    except StopIteration:
        raise InputError(
            "no header row: the file ends within --skip-rows", source=source.name
        ) from None
    except csv.Error as exc:
        raise InputError(f"cannot parse the header: {exc}", source=source.name) from None
    if options.columns:
        if not options.header and len(options.columns) != len(first):
            raise InputError(
                f"--columns names {len(options.columns)} columns "
                f"but the first row has {len(first)}",
                source=source.name,
            )
        return list(options.columns)
    if "\ufffd" in "".join(first):
        raise InputError(
            f"the header is not valid {options.encoding} text (use --encoding)", source=source.name
        )
    names = [name.strip() or f"column_{i + 1}" for i, name in enumerate(first)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"the header repeats column name(s) {', '.join(map(repr, duplicates))}; "
            "name the columns with --columns",
            source=source.name,
        )
    return names


def _open_arrow_reader(
    stream: io.RawIOBase,
    names: list[str],
    header_rows: int,
    options: CsvOptions,
    invalid: list[Rejection],
    source: SourceFile,
) -> pacsv.CSVStreamingReader:
    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        invalid.append(
            Rejection(
                source=source.name,
                line=row.number,
                reason=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                record=row.text,
            )
        )
        return "skip"

    try:
        return pacsv.open_csv(
            io.BufferedReader(stream, buffer_size=_BLOCK_SIZE),
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=header_rows,
                encoding=options.encoding,
                block_size=_BLOCK_SIZE,
                use_threads=False,  # keeps ragged-row callbacks in file order
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=options.quote_char if options.quote_char is not None else False,
                newlines_in_values=True,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=["", *options.null_values],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(_explain(str(exc)), source=source.name) from None


def _explain(message: str) -> str:
    """pyarrow's messages, made into one line a user can act on."""
    first = message.strip().splitlines()[0] if message.strip() else "malformed CSV"
    if "invalid UTF8" in message or "UTF8" in first:
        return "text is not valid UTF-8 (pass --encoding, e.g. --encoding latin-1)"
    if (
        "quote" in first.lower()
        or "unterminated" in first.lower()
        or "end of file" in first.lower()
    ):
        return f"broken quoting: {first}"
    return first.removeprefix("CSV parse error: ")
