"""The unit that flows from the sources to the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Rejection:
    """One row that will not be loaded, with where it came from and why."""

    source: str
    line: int | None
    reason: str
    record: str | None = None  # the row's text, as it appeared in the source when known


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Rows ready to write, plus the rows of the same stretch rejected while reading.

    ``lines`` holds the source line of every row of ``data`` (rows are not always
    contiguous: rejected ones are taken out), so a later rejection can name its line.
    """

    data: pa.RecordBatch
    source: str
    index: int  # 0-based batch number within its source: the checkpoint key
    lines: pa.Array
    rejected: tuple[Rejection, ...] = field(default=())
    bytes_read: int = 0  # source bytes consumed since the previous batch
    rows_read: int = 0  # records read for this batch: loaded rows plus rejected ones

    @property
    def first_line(self) -> int | None:
        return self.line_of(0) if len(self.lines) else None

    @property
    def num_rows(self) -> int:
        rows: int = self.data.num_rows
        return rows

    def line_of(self, row: int) -> int:
        line: int = self.lines[row].as_py()
        return line
