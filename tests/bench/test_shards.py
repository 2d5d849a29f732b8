"""--shard i/N and ``bulkload report merge``: shards together do the work of one run, no
key is written twice, and their merged result equals the single run's counts exactly
(histograms added, never percentiles averaged)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.bench.merge import merge_results, shards_only
from bulkload.bench.result import SweepResult
from bulkload.bench.run import ShardRun
from bulkload.config import BenchConfig
from bulkload.options import build_bench_config
from bulkload.parallel.partition import key_range, part, part_at_least_one
from bulkload.parallel.shares import bench_share
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.level import LevelResult

pytestmark = pytest.mark.timeout(120)

QUICK = ("--synthetic", "rows=4000,columns=3", "--batch-size", "100", "--warmup", "0")


def bench(run_cli: Any, *args: str) -> Any:
    result = run_cli("bench", *QUICK, "--progress", "off", *args)
    assert result.code == 0, result.stderr
    return result


def levels(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((tmp_path / name).read_text())["levels"]
    return found


def test_shares_add_up_and_key_ranges_cover_every_key_once():
    for total in (1, 2, 7, 32, 1001):
        for count in (1, 2, 3, 4):
            shards = [(i, count) for i in range(1, count + 1)]
            assert sum(part(total, shard) for shard in shards) == total
            shares = [part_at_least_one(total, shard) for shard in shards]
            assert min(shares) >= 1
            if total >= count:
                assert sum(shares) == total
            keys = [k for shard in shards for k in range(*_span(key_range(total, shard)))]
            assert keys == list(range(total))  # contiguous, in order, none twice


def _span(first_and_count: tuple[int, int]) -> tuple[int, int]:
    first, count = first_and_count
    return first, first + count


def test_merged_half_shards_equal_a_single_run(run_cli, tmp_path: Path):
    # 50 ms: the timer jitter of a loaded machine is small beside it
    common = ("--to", "sim://?latency=50ms", "--sweep", "2,4", "--batches", "40")
    bench(run_cli, *common, "--json", "single.json")
    bench(run_cli, *common, "--shard", "1/2", "--json", "s1.json")
    bench(run_cli, *common, "--shard", "2/2", "--json", "s2.json")
    shard = json.loads((tmp_path / "s2.json").read_text())
    assert shard["shard"] == {"index": 2, "count": 2}
    assert [(lvl["concurrency"], lvl["batches"]) for lvl in shard["levels"]] == [(1, 20), (2, 20)]

    merged = run_cli("report", "merge", "s1.json", "s2.json", "-o", "all.json")
    assert merged.code == 0, merged.stderr
    # run one after the other, not together: said, as the throughput is over both windows
    assert "c=2 batch 100: the shards' measured windows overlapped 0%" in merged.stderr
    single, together = levels(tmp_path, "single.json"), levels(tmp_path, "all.json")
    halves = list(zip(levels(tmp_path, "s1.json"), levels(tmp_path, "s2.json"), strict=True))
    for one, both, (a, b) in zip(single, together, halves, strict=True):
        for counter in ("concurrency", "batch_size", "rows", "batches", "errors"):
            assert both[counter] == one[counter], counter
        assert both["rows"] == 4000
        whole = LevelResult.from_dict(both)
        assert whole.latency.count == LevelResult.from_dict(one).latency.count == 40
        # the merged p99 is the p99 of the shards' histograms added, not their average
        added = LatencyHistogram.decode(a["latency_hdr"])
        added.merge(LatencyHistogram.decode(b["latency_hdr"]))
        assert whole.latency.percentile_ms(99) == added.percentile_ms(99)
        # against the single run (real timers): the median agrees; a p99 of 40 writes is
        # their slowest one, which a loaded machine moves by tens of ms
        assert both["latency_ms"]["p50"] == pytest.approx(one["latency_ms"]["p50"], rel=0.2)
        assert both["latency_ms"]["p99"] >= 50.0 and one["latency_ms"]["p99"] >= 50.0
        # shards one after another: throughput over both windows
        assert both["elapsed_s"] == pytest.approx(a["elapsed_s"] + b["elapsed_s"], rel=0.05)
    document = json.loads((tmp_path / "all.json").read_text())
    assert document["recommended_concurrency"] in (2, 4)
    assert document["merged_shards"] == {
        "count": 2, "merged": [1, 2], "missing": [], "window_overlap": [0.0, 0.0],
    }  # fmt: skip
    assert "--shard" not in document["command"]


def test_shards_write_no_key_twice(run_cli, tmp_path: Path):
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, int_1, float_2)")
    # 6 batches per shard (and at most 2 more in flight): within a shard's own keys
    common = ("--to", f"sqlite:///{db}", "--table", "t", "--sweep", "2", "--batches", "12")
    written = []
    for index in (1, 2):
        bench(run_cli, *common, "--shard", f"{index}/2", "--json", f"s{index}.json")
        (level,) = levels(tmp_path, f"s{index}.json")
        assert level["rows_rejected"] == 0 and level["batches_failed"] == 0
        written.append(level["rows_written"])
    with sqlite3.connect(db) as conn:
        count, distinct, first, second, beyond = conn.execute(
            "SELECT count(*), count(DISTINCT id), sum(id < 2000), sum(id BETWEEN 2000 AND 3999),"
            " sum(id >= 4000) FROM t"
        ).fetchone()
    assert count == distinct == sum(written) >= 1200
    # shard 1 wrote keys 0..1999 only, shard 2 keys 2000..3999 only
    assert (first, second, beyond) == (written[0], written[1], 0)


def test_file_shards_take_disjoint_batches(run_cli, tmp_path: Path):
    lines = ["id,name"] + [f"{i},n{i}" for i in range(1000)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    db = tmp_path / "f.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE d (id INTEGER PRIMARY KEY, name TEXT)")
    for index in (1, 2):
        result = run_cli(
            "bench", "d.csv", "--to", f"sqlite:///{db}", "--batch-size", "100", "--warmup", "0",
            "--sweep", "1", "--batches", "8", "--shard", f"{index}/2", "--progress", "off",
            "--json", f"f{index}.json",
        )  # fmt: skip
        assert result.code == 0, result.stderr
        (level,) = levels(tmp_path, f"f{index}.json")
        assert level["rows_rejected"] == 0 and level["rows_written"] == 400
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM d ORDER BY id")]
    assert len(ids) == len(set(ids)) == 800  # the PRIMARY KEY refused none: disjoint


def test_merge_refuses_results_that_are_not_shards_of_one_run(run_cli, tmp_path: Path):
    base = ("--to", "sim://?latency=1ms", "--batches", "8")
    bench(run_cli, *base, "--sweep", "2", "--shard", "1/2", "--json", "a.json")
    bench(run_cli, *base, "--sweep", "4", "--shard", "2/2", "--json", "b.json")
    result = run_cli("report", "merge", "a.json", "b.json", "-o", "all.json")
    assert result.code == 3
    assert result.error_line.startswith(
        "bulkload: error: b.json: not a shard of the same run as a.json: its command differs"
    )
    twice = run_cli("report", "merge", "a.json", "a.json", "-o", "all.json")
    assert twice.code == 3 and "shard 1/2 is given twice" in twice.error_line
    document = json.loads((tmp_path / "a.json").read_text())
    document["schema_version"] = 2
    (tmp_path / "v2.json").write_text(json.dumps(document))
    newer = run_cli("report", "merge", "a.json", "v2.json", "-o", "all.json")
    assert newer.code == 3
    assert newer.error_line == "bulkload: error: v2.json: schema_version 2 is not 1"
    assert not (tmp_path / "all.json").exists()


def test_level_merge_adds_histograms_and_unions_windows():
    fast, slow = LevelResult(concurrency=2, batch_size=10), LevelResult(2, 10)
    for level, window, latency in ((fast, (100.0, 110.0), 0.001), (slow, (105.0, 115.0), 0.1)):
        level.started_at, level.finished_at = window
        level.elapsed_s = 10.0
        level.rows, level.batches, level.rows_written = 500, 50, 520
        level.in_flight_mean, level.in_flight_max = 1.9, 2
        level.latency.record_many([latency] * 50)
    merged = LevelResult.merge([fast, slow])
    assert (merged.rows, merged.batches, merged.rows_written) == (1000, 100, 1040)
    assert merged.concurrency == 4 and merged.in_flight_max == 4
    assert merged.in_flight_mean == pytest.approx(3.8)
    assert merged.elapsed_s == 15.0  # 100..115: the overlap counted once
    assert merged.rows_per_s == pytest.approx(1000 / 15)
    assert merged.latency.count == 100
    assert merged.latency.percentile_ms(99) == pytest.approx(100, rel=0.01)  # not ~50
    assert merged.latency.percentile_ms(50) == pytest.approx(1, rel=0.01)


def run_shard(config: BenchConfig, shard: tuple[int, int]) -> SweepResult:
    run = ShardRun(replace(config, sweep=replace(config.sweep, shard=shard)))
    event_loop.run(run.run())
    ended = run.outcome()
    assert ended.error is None and ended.result is not None
    return ended.result


def test_the_in_process_runner_runs_one_shard():
    config = build_bench_config(
        {
            "synthetic": "rows=1000,columns=2",
            "to": "sim://?latency=1ms",
            "sweep": "4",
            "batch_size": 50,
            "warmup": 0,
            "batches": 10,
        }
    )
    result = run_shard(config, (2, 2))
    assert result.shard == {"index": 2, "count": 2}
    (level,) = result.levels
    assert (level.concurrency, level.batches, level.rows) == (2, 5, 250)
    with pytest.raises(Exception, match="--sweep auto"):
        run_shard(build_bench_config({**_auto(), "to": "sim://"}), (1, 2))


def _auto() -> dict[str, Any]:
    return {"synthetic": "rows=1000", "sweep": "auto"}


def test_a_shard_runs_its_share_of_each_level_rate_and_count():
    closed = build_bench_config(
        {"synthetic": "rows=1000", "sweep": "1,8,32", "rows": 1000, "to": "sim://"}
    )
    third = bench_share(closed, (3, 3))
    assert third.sweep.levels == (1, 2, 10) and third.sweep.rows == 333
    assert bench_share(closed, (1, 3)).sweep.levels == (1, 3, 11)  # the remainder first
    open_model = build_bench_config(
        {"synthetic": "rows=1000", "sweep_rate": "100,400", "concurrency": 8, "to": "sim://"}
    )
    half = bench_share(open_model, (2, 2))
    assert half.sweep.rates == (50.0, 200.0) and half.engine.concurrency == 4


def shard_result(index: int, count: int, window: tuple[float, float]) -> SweepResult:
    level = LevelResult(concurrency=2, batch_size=10)
    level.started_at, level.finished_at = window
    level.elapsed_s = window[1] - window[0]
    level.rows, level.batches = 500, 50
    level.latency.record_many([0.001] * 50)
    command = ["bulkload", "bench", "--sweep", "4", "--shard", f"{index}/{count}"]
    return SweepResult(
        model="closed", target="sim://", table="t", command=command,
        levels=[level], shard={"index": index, "count": count},
    )  # fmt: skip


def test_shards_run_together_merge_without_a_warning():
    merged = merge_results([shard_result(1, 2, (100.0, 110.0)), shard_result(2, 2, (100.2, 110.1))])
    assert merged.warnings == []
    assert merged.merged_shards == {
        "count": 2, "merged": [1, 2], "missing": [], "window_overlap": [0.9703],
    }  # fmt: skip
    assert shards_only(merged) is None


def test_a_merge_of_some_of_the_shards_says_which_it_has(run_cli, tmp_path: Path):
    merged = merge_results([shard_result(1, 3, (100.0, 110.0)), shard_result(3, 3, (100, 110))])
    assert shards_only(merged) == "shards 1/3, 3/3 only"
    assert merged.warnings[0].startswith("shards 1/3, 3/3 only: shard 2/3 missing")
    assert merged.merged_shards is not None and merged.merged_shards["missing"] == [2]

    bench(run_cli, "--to", "sim://?latency=1ms", "--sweep", "2", "--batches", "8",
          "--shard", "1/2", "--json", "s1.json")  # fmt: skip
    result = run_cli("report", "merge", "s1.json", "-o", "all.json")
    assert result.code == 0, result.stderr
    assert result.stdout.strip().endswith("(shard 1/2 only)")
    assert "bulkload: warning: shard 1/2 only: shard 2/2 missing" in result.stderr
    document = json.loads((tmp_path / "all.json").read_text())
    assert document["merged_shards"]["missing"] == [2]
    assert document["warnings"][0].startswith("shard 1/2 only")
