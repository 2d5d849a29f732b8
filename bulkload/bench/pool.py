"""The data a sweep writes: read or generated once, encoded once per batch size, then
written in a cycle, so a write costs the tool no parsing and no encoding.

The pool holds enough batches that every writer has its own and more (twice the largest
level, at least 16), within a memory budget; a level that writes more rows than the pool
holds cycles through it again, so keys repeat from then on (``--reset`` and a data set
larger than a level's writes keep them unique within a level).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
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
        #: the next batch, round and round (the cycle's own C method: no Python call)
        self.next: Callable[[], PooledBatch] = itertools.cycle(batches).__next__

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def pool_size(max_concurrency: int) -> int:
    return max(2 * max_concurrency, MIN_POOL_BATCHES)


def take_batches(batches: Iterable[pa.RecordBatch], count: int) -> list[pa.RecordBatch]:
    """Up to ``count`` non-empty batches, within :data:`POOL_BYTES`; the source is closed
    (a file reader stops early). Reading: run it off the event loop."""
    iterator = iter(batches)
    taken: list[pa.RecordBatch] = []
    held = 0
    try:
        for batch in iterator:
            if batch.num_rows == 0:
                continue
            taken.append(batch)
            held += batch.nbytes
            if len(taken) >= count or held >= POOL_BYTES:
                break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return taken


def build_pool(batches: list[pa.RecordBatch], backend: Backend) -> BatchPool:
    """Encode each batch once for the backend. CPU work: run it off the event loop."""
    return BatchPool(
        [PooledBatch(data, backend.encode(data), data.num_rows, data.nbytes) for data in batches]
    )
