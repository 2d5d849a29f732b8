"""The data a sweep writes: read or generated once, encoded once per batch size, then
written in a cycle, so a write costs the tool no parsing and no encoding.

The pool holds enough batches that every writer has its own and more (twice the largest
level, at least 16), within a memory budget; a level that writes more rows than the pool
holds cycles through it again, so keys repeat from then on (``--reset`` and a data set
larger than a level's writes keep them unique within a level).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bulkload.backends.base import Backend

#: Arrow bytes the pool may hold (the encoded payloads come on top)
POOL_BYTES = 256 * 1024 * 1024
MIN_POOL_BATCHES = 16


@dataclass(frozen=True, slots=True)
class PooledBatch:
    data: pa.RecordBatch
    payload: Any  # what the backend's write() takes
    rows: int
    nbytes: int


class BatchPool:
    def __init__(self, batches: list[PooledBatch]):
        if not batches:
            raise ValueError("a pool needs at least one batch")
        self.batches = batches
        self._cycle = itertools.cycle(batches)

    def next(self) -> PooledBatch:
        return next(self._cycle)

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def pool_size(max_concurrency: int) -> int:
    return max(2 * max_concurrency, MIN_POOL_BATCHES)


def build_pool(batches: Iterable[pa.RecordBatch], backend: Backend, size: int) -> BatchPool:
    """Take up to ``size`` batches (within :data:`POOL_BYTES`) and encode each for the
    backend. CPU work: run it off the event loop."""
    pooled: list[PooledBatch] = []
    held = 0
    for data in _limited(batches, size):
        if data.num_rows == 0:
            continue
        pooled.append(PooledBatch(data, backend.encode(data), data.num_rows, data.nbytes))
        held += data.nbytes
        if held >= POOL_BYTES:
            break
    return BatchPool(pooled)


def _limited(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    iterator = iter(batches)
    try:
        yield from itertools.islice(iterator, size)
    finally:
        close = getattr(iterator, "close", None)  # stop a file reader early
        if close is not None:
            close()
