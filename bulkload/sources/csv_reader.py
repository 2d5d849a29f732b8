"""Stream a CSV source as Arrow batches of text columns, rejecting ragged rows.

Parsing is pyarrow's C++ reader; every column is read as text so nothing fails inside
the parser, and typing happens afterwards in :mod:`bulkload.sources.schema`, where a bad
value rejects one row. Line numbers count records: a quoted value spanning several
lines counts once and blank lines are not counted, exactly as in pyarrow's own numbering.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bulkload.config import CsvOptions
from bulkload.errors import InputError
from bulkload.phase_times import phase
from bulkload.sources.batch import Rejection
from bulkload.sources.discovery import STDIN, SourceFile
from bulkload.sources.large_rows import first_oversized_row, line_of_large_row
from bulkload.sources.read_errors import read_errors
from bulkload.sources.reader import RawChunk, text_size
from bulkload.sources.streams import (
    CountingReader,
    DecompressingReader,
    ReplayReader,
    open_source,
)

_PEEK_CHUNK = 64 * 1024
_PEEK_LIMIT = 16 * 1024 * 1024
_BLOCK_SIZE = 1 << 20
# A row may span two of pyarrow's blocks, not three, so one no larger than a block
# always fits. The largest block is --max-field-size plus this: room for the rest of the
# row of a field of that size. (Values up to about twice the block get through, by where
# their row starts: the limit itself is checked on every value.)
_ROW_ROOM = _BLOCK_SIZE
_BLOCK_GROWTH = 8
# A one-column header holding one of these was most likely split on the wrong character.
_LIKELY_DELIMITERS = {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}


class _RowTooLarge(Exception):
    """A row does not fit in the parser's block (pyarrow says it "straddles")."""


def csv_delimiter(source: SourceFile, options: CsvOptions) -> str:
    """--delimiter if given, else a tab for .tsv files and a comma otherwise."""
    if options.delimiter is not None:
        return options.delimiter
    return "\t" if source.extension == ".tsv" else ","


def read_csv(source: SourceFile, options: CsvOptions) -> Iterator[RawChunk]:
    """The file's rows as text columns, in chunks of about one parser block.

    A row larger than the block makes pyarrow's streaming reader fail, and it cannot
    change its block size mid-stream: the file is then read again from the start with
    a larger block, up to ``max_field_size`` and room for the rest of a row, and the
    rows already delivered are skipped (record numbers are the same in every pass). A
    value larger than ``max_field_size`` stops the read, after the rows before it.
    """
    delimiter_given = options.delimiter is not None
    options = replace(options, delimiter=csv_delimiter(source, options))
    block_size = _BLOCK_SIZE
    delivered = _Delivered()
    shares = _ByteShares(source)
    # A file's chunks are handed out one late, so the last one can take what the
    # estimates missed (header, quotes, line ends); not a pipe's, which may pause.
    held: RawChunk | None = None
    late = source.path != STDIN
    try:
        while True:
            # what earlier passes delivered: fixed for this pass, its rows are skipped
            before = delivered.copy()
            try:
                for chunk, ratio in _read_pass(
                    source, options, block_size, delimiter_given, before.highest
                ):
                    chunk = before.not_in(chunk)
                    if not chunk.data.num_rows and not chunk.rejected:
                        continue
                    over = first_oversized_row(chunk.data, options.max_field_size)
                    line = int(chunk.lines[over].as_py()) if over is not None else None
                    if over is not None:
                        chunk = _before_row(chunk, over)
                    delivered.add(chunk)
                    if chunk.data.num_rows or chunk.rejected:
                        text = text_size(chunk.data, chunk.rejected) or 0
                        shared = shares.share(chunk, text, ratio)
                        chunk = replace(chunk, bytes_read=shared, text=text)
                        if not late:
                            yield chunk
                        else:
                            if held is not None:
                                yield held
                            held = chunk
                    if line is not None:
                        raise _too_large(source, options, line)
                break
            except _RowTooLarge:
                block_size = _larger_block(source, options, block_size, delivered.highest)
    except Exception:
        if held is not None:  # the rows read before the failure still go out
            yield held
        raise
    if held is not None:
        yield replace(held, bytes_read=held.bytes_read + shares.rest())


class _ByteShares:
    """The source bytes of each chunk's rows. The parser reads ahead of the rows it
    returns (a block or more), so the bytes consumed when a chunk comes are not its
    own: a run that stops early (--limit) or skips the first chunks (--resume) would
    count the wrong ones. Each chunk gets the size of its rows' text instead (times
    the compression ratio so far), never more than was consumed, and the file's last
    chunk the rest: a file's chunks add up to the bytes read from it."""

    def __init__(self, source: SourceFile):
        self._size = None if source.compression or source.path == STDIN else source.size
        self._reported = 0
        self._consumed = 0

    def share(self, chunk: RawChunk, text: int, ratio: float) -> int:
        self._consumed = max(self._consumed, chunk.bytes_read)  # cumulative in its pass
        estimate = int(text * ratio)
        share = max(0, min(estimate, self._consumed - self._reported))
        self._reported += share
        return share

    def rest(self) -> int:
        return max(0, max(self._consumed, self._size or 0) - self._reported)


def _larger_block(source: SourceFile, options: CsvOptions, block_size: int, line: int) -> int:
    largest = options.max_field_size + _ROW_ROOM
    # pyarrow does not say which row straddled: only that it follows the rows delivered.
    row = f"a row after line {line}" if line else "a row"
    if block_size >= largest:
        delimiter = csv_delimiter(source, options)
        limit = options.max_field_size
        found = line_of_large_row(source, options, delimiter, line, limit, largest)
        raise _too_large(source, options, found, "this row" if found else row)
    if source.path == STDIN:
        raise InputError(
            f"{row} is larger than the {_megabytes(block_size)} read "
            "block, and stdin cannot be read twice to retry with a larger one: "
            "pass the file by name",
            source=source.name,
        )
    return min(block_size * _BLOCK_GROWTH, largest)


def _too_large(
    source: SourceFile, options: CsvOptions, line: int | None, row: str = "this row"
) -> InputError:
    return InputError(
        f"{row} is larger than --max-field-size "
        f"({_megabytes(options.max_field_size)}); raise it to load this row",
        source=source.name,
        line=line,
    )


def _before_row(chunk: RawChunk, index: int) -> RawChunk:
    """The chunk's records before its row ``index`` (valid rows and ragged ones)."""
    line = int(chunk.lines[index].as_py())
    return RawChunk(
        chunk.data.slice(0, index),
        chunk.lines.slice(0, index),
        tuple(r for r in chunk.rejected if (r.line or 0) < line),
        chunk.bytes_read,
    )


def _megabytes(size: int) -> str:
    """A size as --max-field-size takes it: in MB, or KB (bytes) below a MB (a KB)."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):g} MB"
    return f"{size / 1024:g} KB" if size >= 1024 else f"{size} bytes"


class _Delivered:
    """What earlier passes over a file delivered, for a re-read to skip: the valid rows
    up to a record number (they come in order) and the ragged rows by number (one may
    be delivered before valid rows that precede it have been)."""

    def __init__(self) -> None:
        self.rows_to = 0  # every valid row numbered up to this one
        self.rejected: set[int] = set()

    def copy(self) -> _Delivered:
        other = _Delivered()
        other.rows_to, other.rejected = self.rows_to, set(self.rejected)
        return other

    @property
    def highest(self) -> int:
        return max(self.rows_to, max(self.rejected, default=0))

    def add(self, chunk: RawChunk) -> None:
        self.rows_to = max(self.rows_to, _last_row_line(chunk))
        self.rejected.update(r.line or 0 for r in chunk.rejected)

    def not_in(self, chunk: RawChunk) -> RawChunk:
        """The part of a chunk not delivered yet."""
        if not self.rows_to and not self.rejected:
            return chunk
        lines = chunk.lines.to_numpy(zero_copy_only=False)
        start = int(np.searchsorted(lines, self.rows_to, side="right"))
        rejected = tuple(r for r in chunk.rejected if (r.line or 0) not in self.rejected)
        if start == 0 and len(rejected) == len(chunk.rejected):
            return chunk
        keep = len(lines) - start
        return RawChunk(
            chunk.data.slice(start, keep),
            chunk.lines.slice(start, keep),
            rejected,
            chunk.bytes_read,
        )


def _last_row_line(chunk: RawChunk) -> int:
    """The line of the chunk's last valid row (0 without rows)."""
    return int(chunk.lines[len(chunk.lines) - 1].as_py()) if len(chunk.lines) else 0


def _ragged_last(chunk: RawChunk) -> Rejection | None:
    """The chunk's last record when it is a ragged row (after its last valid row)."""
    ragged = max(chunk.rejected, key=lambda r: r.line or 0, default=None)
    if ragged is not None and (ragged.line or 0) > _last_row_line(chunk):
        return ragged
    return None


def _highest_line(chunk: RawChunk) -> int:
    return max(_last_row_line(chunk), max((r.line or 0 for r in chunk.rejected), default=0))


def _read_pass(
    source: SourceFile,
    options: CsvOptions,
    block_size: int,
    delimiter_given: bool,
    last_line: int,
) -> Iterator[tuple[RawChunk, float]]:
    """One read of the file from its start; ``bytes_read`` of each chunk is cumulative.
    With each chunk: the source bytes per byte of text read so far."""
    stream, counter = open_source(source)
    try:
        with read_errors(source.name):
            prefix = _peek(stream, options.skip_rows)
        if not prefix.strip():
            raise InputError("file is empty", source=source.name)
        _refuse_parquet(prefix, source)
        names = _column_names(prefix, options, source, delimiter_given)
        header_rows = options.skip_rows + (1 if options.header else 0)
        invalid: list[Rejection] = []
        replay = ReplayReader(prefix, stream, _end_marker(options, prefix))
        with read_errors(source.name, _explain, last_line or None), _straddling():
            reader = _open_arrow_reader(
                replay, names, header_rows, options, invalid, source, block_size
            )
        chunks = _chunks(reader, names, invalid, header_rows, counter, source)
        for chunk in _check_quotes_closed(chunks, replay, source, options):
            # source bytes per byte of text: 1, or what the compression saved so far
            yield chunk, _compression_ratio(stream)
    finally:
        stream.close()


def _compression_ratio(stream: BinaryIO) -> float:
    """Source bytes per byte of text: of what the decompressor was fed and gave so far
    (1 for a file read as it is)."""
    if isinstance(stream, DecompressingReader) and stream.produced > 0:
        return stream.fed / stream.produced
    return 1.0


@contextmanager
def _straddling() -> Iterator[None]:
    try:
        yield
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc):
            raise _RowTooLarge from None
        raise


def _chunks(
    reader: pacsv.CSVStreamingReader,
    names: list[str],
    invalid: list[Rejection],
    header_rows: int,
    counter: CountingReader,
    source: SourceFile,
) -> Iterator[RawChunk]:
    valid_seen = 0
    invalid_numbers: list[int] = []  # record numbers of ragged rows, ascending
    # Ragged rows not handed out yet. pyarrow parses a block ahead of the batch it
    # returns, so a ragged row of the next block is reported with this one: it waits
    # for the batch whose rows it falls among (a chunk's rejections are its own).
    pending: list[Rejection] = []
    while True:
        last_line = header_rows + valid_seen + len(invalid_numbers)
        with read_errors(source.name, _explain, last_line), _straddling(), phase("read/parse"):
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
        invalid_numbers.extend(r.line for r in invalid if r.line is not None)
        pending.extend(invalid)
        invalid.clear()
        # (ragged numbers beyond this batch's rows leave their numbering unchanged)
        lines = _record_numbers(valid_seen, batch.num_rows, header_rows, invalid_numbers)
        valid_seen += batch.num_rows
        if not len(lines):
            continue  # its ragged rows, if any, go with the next rows (or at the end)
        last = int(lines[-1])
        rejected = tuple(r for r in pending if r.line is None or r.line < last)
        pending = [r for r in pending if r.line is not None and r.line > last]
        yield RawChunk(batch, _int64_array(lines), rejected, counter.bytes_read)
    pending.extend(invalid)
    if pending:
        # Ragged rows after the last batch (or in a file of nothing but ragged rows):
        # pyarrow yields no batch for them, but they were read and must be rejected.
        # pa.nulls, not pa.array([]): that would import pandas, when installed (0.3 s)
        empty = pa.RecordBatch.from_arrays([pa.nulls(0, pa.string()) for _ in names], names)
        lines = _int64_array(np.array([], dtype=np.int64))
        yield RawChunk(empty, lines, tuple(pending), counter.bytes_read)


def _check_quotes_closed(
    chunks: Iterator[RawChunk], replay: ReplayReader, source: SourceFile, options: CsvOptions
) -> Iterator[RawChunk]:
    """Hold back the last chunk until the end of the file: if a quote was never closed,
    the parser has folded the rest of the file into one value of the last row, and
    loading it would silently turn many rows into one. The end marker's record, if the
    file does not end so, is taken out.

    If a read error cut the file short, every row before the cut is delivered, then the
    error: the record the cut went through is dropped (it is almost surely partial:
    ``12,abc`` of ``12,abcdef``), so the rows loaded are exactly those before it."""
    last: RawChunk | None = None
    highest = 0  # the highest record number handed out
    try:
        for chunk in chunks:
            if last is not None:
                highest = max(highest, _highest_line(last))
                yield last
            last = chunk
    except Exception:
        if last is not None:  # a parse error further on: the rows before it still go out
            yield last
        raise
    if replay.failure is not None:
        kept = _without_last_record(last) if last is not None else None
        if kept is not None and (kept.data.num_rows or kept.rejected):
            highest = max(highest, _highest_line(kept))
            yield kept
        with read_errors(source.name, _explain, highest or None):
            raise replay.failure
    if last is None:
        return
    last, closed = _without_end_marker(last, options)
    if not closed:
        raise InputError(
            "broken quoting: a quoted field opened in this row is never closed",
            source=source.name,
            line=_highest_line(last),
        )
    if last.data.num_rows or last.rejected:
        yield last


def _without_last_record(chunk: RawChunk) -> RawChunk:
    """The chunk less its last record (the highest line: a row, or a ragged one)."""
    rows = len(chunk.lines)
    last_row = chunk.lines[rows - 1].as_py() if rows else 0
    last_ragged = max((r.line or 0 for r in chunk.rejected), default=0)
    if last_row > last_ragged:
        return RawChunk(
            chunk.data.slice(0, rows - 1),
            chunk.lines.slice(0, rows - 1),
            chunk.rejected,
            chunk.bytes_read,
        )
    rejected = tuple(r for r in chunk.rejected if (r.line or 0) != last_ragged)
    return RawChunk(chunk.data, chunk.lines, rejected, chunk.bytes_read)


def _end_marker(options: CsvOptions, prefix: bytes) -> bytes:
    """What the parser is given after the file's last byte, encoded as the file is.

    Its line break ends a last record the file left unterminated: pyarrow reads a final
    ``"x",`` with no line break after it as ``x`` and ``''``, not null. With quoting on,
    it also tells by the parser's own reading whether the file ends inside a quoted
    field: outside one, ``x"`` is a record of its own (a quote inside an unquoted field
    is data); inside one, it closes that field, which then holds the marker's line break.
    """
    text = "\n" if options.quote_char is None else f"\n{_marker_record(options)}\n"
    encoding = codecs.lookup(options.encoding).name
    if encoding in ("utf-16", "utf-32"):  # their byte order is the file's byte-order mark
        mark = codecs.BOM_UTF16_BE if encoding == "utf-16" else codecs.BOM_UTF32_BE
        encoding += "-be" if prefix.startswith(mark) else "-le"
    encoder = codecs.getincrementalencoder(encoding)()
    encoder.encode("a")  # past a byte-order mark, if the encoding writes one
    return encoder.encode(text, final=True)


def _marker_record(options: CsvOptions) -> str:
    letter = next(c for c in "xyz" if c not in (options.delimiter, options.quote_char))
    return f"{letter}{options.quote_char}"


def _without_end_marker(chunk: RawChunk, options: CsvOptions) -> tuple[RawChunk, bool]:
    """The file's last chunk without the end marker's record, and whether that record was
    there: it is not when the file ends inside a quoted field. Then the last record is
    the one that opened it, with the rest of the file folded into it, and its last field
    (closed by the marker) holds a line break; the marker's record holds none. It is a
    ragged row when the file has several columns (it has one field)."""
    if options.quote_char is None:
        return chunk, True
    ragged = _ragged_last(chunk)
    if ragged is not None:
        if ragged.record != _marker_record(options):
            return chunk, False
        rejected = tuple(r for r in chunk.rejected if r is not ragged)
        return RawChunk(chunk.data, chunk.lines, rejected, chunk.bytes_read), True
    rows = chunk.data.num_rows
    if chunk.data.num_columns != 1 or not rows:
        return chunk, False
    value = chunk.data.column(0)[rows - 1].as_py()
    if value is not None and "\n" in value:
        return chunk, False
    return _without_last_record(chunk), True


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


def _column_names(
    prefix: bytes, options: CsvOptions, source: SourceFile, delimiter_given: bool
) -> list[str]:
    encoding = "utf-8-sig" if options.encoding == "utf-8" else options.encoding
    text = prefix.decode(encoding, errors="replace")
    quoting: Literal[0, 1, 2, 3] = (
        csv.QUOTE_NONE if options.quote_char is None else csv.QUOTE_MINIMAL
    )
    rows = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=csv_delimiter(source, options),
        quotechar=options.quote_char,
        quoting=quoting,
    )
    try:
        for _ in range(options.skip_rows):
            next(rows)
        skipped_lines = rows.line_num
        first = next(rows)
    except StopIteration:
        raise InputError(
            "no header row: the file ends within --skip-rows", source=source.name
        ) from None
    except csv.Error as exc:
        raise InputError(f"cannot parse the header: {exc}", source=source.name) from None
    # pyarrow skips the rows before the data by lines, not by records: a quoted line
    # break in them would make it start the data a record early (the header as a row)
    if skipped_lines > options.skip_rows or (options.header and rows.line_num > skipped_lines + 1):
        raise InputError(
            "a row skipped by --skip-rows, or the header, holds a quoted line break; "
            "bulkload cannot skip such rows exactly: remove them from the file",
            source=source.name,
        )
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
    if not delimiter_given and len(first) == 1:
        _refuse_other_delimiter(first[0], options, source)
    names = [name.strip() or f"column_{i + 1}" for i, name in enumerate(first)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"the header repeats column name(s) {', '.join(map(repr, duplicates))}; "
            "name the columns with --columns",
            source=source.name,
        )
    return names


#: the first (and last) four bytes of every Parquet file
PARQUET_MAGIC = b"PAR1"


def _refuse_parquet(prefix: bytes, source: SourceFile) -> None:
    """A Parquet file read as CSV (``--format csv``) fails on its bytes in ways that point
    to --encoding or to ragged rows: say what the file is instead."""
    if prefix.startswith(PARQUET_MAGIC):
        named = source.name.lower().endswith((".parquet", ".pq"))
        raise InputError(
            "the file looks like Parquet (it starts with PAR1), not CSV: use --format parquet"
            + (" (or drop --format)" if named else ""),
            source=source.name,
        )


def _refuse_other_delimiter(header: str, options: CsvOptions, source: SourceFile) -> None:
    """A header read as one column that holds a common delimiter was split on the wrong
    character: loading it would make one text column of every whole line."""
    for char, spelled in _LIKELY_DELIMITERS.items():
        if char != options.delimiter and char in header:
            raise InputError(
                f"the header is one column {header!r}, which looks separated by {spelled}: "
                f"pass --delimiter {spelled} (or --delimiter {options.delimiter!r} to load "
                "it as one column)",
                source=source.name,
            )


def _open_arrow_reader(
    stream: io.RawIOBase,
    names: list[str],
    header_rows: int,
    options: CsvOptions,
    invalid: list[Rejection],
    source: SourceFile,
    block_size: int,
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

    return pacsv.open_csv(
        io.BufferedReader(stream, buffer_size=_BLOCK_SIZE),
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=header_rows,
            encoding=options.encoding,
            block_size=block_size,
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
