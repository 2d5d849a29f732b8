"""What a format reader yields, before typing and re-batching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bulkload.sources.batch import Rejection


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Rows as the format reader produced them, with their line numbers."""

    data: pa.RecordBatch
    lines: pa.Array
    rejected: tuple[Rejection, ...]
    bytes_read: int
    #: the records' size as CSV text (:func:`text_size`), once known: what its bytes
    #: are shared by when it is cut
    text: int | None = None


def text_size(data: pa.RecordBatch, rejected: tuple[Rejection, ...] = ()) -> int | None:
    """The size of records as CSV text: the values, and a delimiter or line end after
    each (quotes and carriage returns not counted); None for typed columns (Parquet)."""
    if not all(pa.types.is_string(column.type) for column in data.columns):
        return None
    size: int = data.num_rows * data.num_columns + sum(map(_values_size, data.columns))
    return size + sum(len((r.record or "").encode()) + 1 for r in rejected)


def _values_size(column: pa.Array) -> int:
    """The bytes of a string column's values, from its offsets: a batch is cut per
    batch written, and pyarrow's binary_length and sum cost 3x as much."""
    offsets = column.buffers()[1]
    if not len(column) or offsets is None:
        return 0
    ends = np.frombuffer(offsets, np.int32, count=len(column) + 1, offset=column.offset * 4)
    return int(ends[-1] - ends[0])
