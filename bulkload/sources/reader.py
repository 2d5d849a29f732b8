"""What a format reader yields, before typing and re-batching."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from bulkload.sources.batch import Rejection


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Rows as the format reader produced them, with their line numbers."""

    data: pa.RecordBatch
    lines: pa.Array
    rejected: tuple[Rejection, ...]
    bytes_read: int
