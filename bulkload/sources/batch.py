"""The unit that flows from the sources to the engine."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import pyarrow as pa

from bulkload.sources.discovery import SourceFile


@dataclass(frozen=True, slots=True)
class Rejection:
    """One row that will not be loaded, with where it came from and why."""

    source: str
    line: int | None
    reason: str
    record: str | None = None  # the row's text, as it appeared in the source when known


@dataclass(frozen=True, slots=True)
class CsvDialect:
    delimiter: str
    quote_char: str | None


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Rows ready to write, plus the rows of the same stretch rejected while reading.

    ``lines`` holds the source line of every row of ``data`` (rows are not always
    contiguous: rejected ones are taken out), so a later rejection can name its line.
    ``raw`` holds the same rows as the source's text (CSV), to report a rejected row as
    it appeared.
    """

    data: pa.RecordBatch
    file: SourceFile
    index: int  # 0-based batch number within its file: the checkpoint key
    lines: pa.Array
    rejected: tuple[Rejection, ...] = field(default=())
    #: source bytes of the records read for this batch (their text's share of the bytes
    #: read: the parser reads ahead, see ``read_csv``): what rows per byte, and so the
    #: total rows of the input, are estimated from
    bytes_read: int = 0
    rows_read: int = 0  # records read for this batch: loaded rows plus rejected ones
    raw: pa.RecordBatch | None = None
    dialect: CsvDialect | None = None

    @property
    def source(self) -> str:
        return self.file.name

    @property
    def num_rows(self) -> int:
        rows: int = self.data.num_rows
        return rows

    def line_of(self, row: int) -> int:
        line: int = self.lines[row].as_py()
        return line

    def record_text(self, row: int) -> str:
        """Row ``row`` as source text: a CSV line in the source's dialect, else JSON."""
        if self.raw is not None and self.dialect is not None:
            values = [column[row].as_py() for column in self.raw.columns]
            return csv_line(values, self.dialect)
        named = {
            name: self.data.column(i)[row].as_py() for i, name in enumerate(self.data.schema.names)
        }
        return json.dumps(named, default=str, ensure_ascii=False)

    def rejection(self, row: int, reason: str) -> Rejection:
        return Rejection(self.source, self.line_of(row), reason, self.record_text(row))


def csv_line(values: list[object], dialect: CsvDialect) -> str:
    out = io.StringIO()
    if dialect.quote_char is None:
        writer = csv.writer(
            out, delimiter=dialect.delimiter, quoting=csv.QUOTE_NONE, escapechar="\\"
        )
    else:
        writer = csv.writer(out, delimiter=dialect.delimiter, quotechar=dialect.quote_char)
    writer.writerow(["" if v is None else v for v in values])
    return out.getvalue().rstrip("\r\n")
