"""A level's per-operation figures survive JSON and merge per operation (shards)."""

from __future__ import annotations

from bulkload.stats.level import LevelResult
from bulkload.stats.operation import OperationResult


def _shard(start: float, hits: int, misses: int) -> LevelResult:
    hit = OperationResult("hit", count=hits, rows=hits)
    miss = OperationResult("miss", count=misses, rows=0, errors=1)
    for _ in range(hits):
        hit.latency.record(0.001)
    for _ in range(misses):
        miss.latency.record(0.004)
    return LevelResult(
        concurrency=2, batch_size=1, started_at=start, finished_at=start + 1.0,
        elapsed_s=1.0, batches=hits + misses, rows=hits, kind="query",
        operations={"hit": hit, "miss": miss},
    )  # fmt: skip


def test_operations_round_trip_through_json():
    level = _shard(100.0, 30, 10)
    back = LevelResult.from_dict(level.to_dict())
    assert back.kind == "query"
    assert {n: (o.count, o.rows, o.errors) for n, o in back.operations.items()} == {
        "hit": (30, 30, 0),
        "miss": (10, 0, 1),
    }
    assert back.operations["miss"].latency.count == 10
    assert level.to_dict()["operations"]["hit"]["per_s"] == 30.0


def test_shards_merge_per_operation():
    merged = LevelResult.merge([_shard(100.0, 30, 10), _shard(100.0, 20, 5)])
    assert merged.kind == "query" and merged.batches == 65
    hit, miss = merged.operations["hit"], merged.operations["miss"]
    assert (hit.count, hit.rows, miss.count, miss.errors) == (50, 50, 15, 2)
    assert miss.latency.count == 15 and hit.latency.percentile_ms(50) < 2


def test_a_write_level_saved_before_operations_existed_still_reads():
    data = _shard(0.0, 1, 1).to_dict()
    del data["operations"], data["kind"]
    old = LevelResult.from_dict(data)
    assert old.kind == "write" and old.operations == {}
