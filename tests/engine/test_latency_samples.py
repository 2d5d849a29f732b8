"""A write's latencies are appended to the histograms' buffers inline (no record() call):
the buffers are still folded once they hold FLUSH_AT samples, so memory stays bounded
however long a run lasts, and no sample is lost."""

from __future__ import annotations

import pyarrow as pa

from bulkload import event_loop
from bulkload.backends.null import NullBackend
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.batch_writer import BatchWriter
from bulkload.stats import RunStats
from bulkload.stats.histogram import FLUSH_AT


def test_a_writers_latency_buffers_are_folded_at_their_bound():
    writes = 2 * FLUSH_AT + 10
    batch = pa.record_batch({"id": [1]})

    async def main() -> RunStats:
        backend = NullBackend("null://", TargetOptions(url="null://"))
        stats = RunStats()
        writer = BatchWriter(backend, EngineOptions(concurrency=1), stats)
        longest = 0
        for _ in range(writes):
            error = await writer.write_with_retries(batch, batch, None, due=0.0)
            assert error is None
            longest = max(
                longest, len(stats.latency.pending_s), len(stats.latency_from_due.pending_s)
            )
        await writer.aclose()
        assert longest < FLUSH_AT
        return stats

    stats = event_loop.run(main())
    assert stats.latency.count == writes
    assert stats.latency_from_due.count == writes
