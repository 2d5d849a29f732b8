"""``null://``: accepts and discards every batch, to measure sources and engine alone."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from bulkload.backends.base import BatchKey, ErrorKind, TableSpec
from bulkload.config import TargetOptions


class NullBackend:
    schemes: ClassVar[tuple[str, ...]] = ("null",)
    max_concurrency: int | None = None
    accepts_text = False  # types are still checked, so null:// measures the whole pipeline

    def __init__(self, url: str, options: TargetOptions):
        self.url = url
        self.rows_written = 0

    async def open(self, table: TableSpec) -> None:
        self.table = table

    def encode(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        self.rows_written += payload.num_rows

    async def reset(self) -> None:
        self.rows_written = 0

    async def committed_keys(self) -> list[BatchKey]:
        return []

    async def forget_checkpoints(self, table: str) -> int:
        return 0

    async def close(self) -> None:
        return None

    def classify(self, error: BaseException) -> ErrorKind:
        return ErrorKind.FATAL

    def describe(self) -> str:
        return "null://"
