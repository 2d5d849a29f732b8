"""The share runners are library code: used from Python they run real child processes
and hand back the merged result and the failed shares as data; they print nothing,
render nothing and pick no exit code (the CLI does, with one finish())."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkload import event_loop
from bulkload.bench.processes import BenchProcesses
from bulkload.errors import FailureKind
from bulkload.options import build_bench_config, build_import_config
from bulkload.parallel.local_import import ImportProcesses
from bulkload.parallel.runner import ShareEnd
from tests.servers.fixtures import IngestServer

pytestmark = pytest.mark.timeout(180)


def numbered(end: ShareEnd) -> int:
    """A caller's own numbering of how shares ended (the CLI's is its exit codes)."""
    return {None: 0, FailureKind.INTERRUPTED: 1}.get(end.kind, 70)


def test_bench_processes_returns_the_merged_sweep_and_prints_nothing(capfd):
    config = build_bench_config(
        {"synthetic": "rows=4000,columns=3", "to": "sim://?latency=5ms", "sweep": "2,4",
         "batches": "20", "batch_size": "100", "warmup": "0", "processes": "2"}
    )  # fmt: skip
    levels: list[tuple[int, int]] = []
    run = BenchProcesses(
        config,
        argv=["bulkload", "bench"],
        code_of=numbered,
        on_level=lambda started, running: levels.append((started, running)),
    )
    event_loop.run(run.run())
    ended = run.outcome()
    assert ended.failures == [] and not ended.interrupted and ended.error is None
    assert ended.result is not None and ended.result.outcome == "completed"
    assert [level.concurrency for level in ended.result.levels] == [2, 4]
    assert [level.batches for level in ended.result.levels] == [20, 20]
    assert [child["exit_code"] for child in ended.result.processes["children"]] == [0, 0]
    assert [started for started, _ in levels] == [1, 2]
    assert capfd.readouterr() == ("", "")  # the terminal is the caller's


def test_import_processes_returns_a_failed_share_as_data(
    ingest: IngestServer, tmp_path: Path, capfd
):
    lines = ["id,name,amount", *(f"{i},n{i},{i}" for i in range(20_000))]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    ingest.control(script=[{}] * 6 + [{"status": 401}])  # the 7th request: credentials
    config = build_import_config(
        {"paths": [str(tmp_path / "e.csv")], "to": f"{ingest.url}/ingest",
         "batch_size": "20", "concurrency": "2", "processes": "2", "rate": "2000",
         "bad_records": str(tmp_path / "bad.csv")}
    )  # fmt: skip
    run = ImportProcesses(config, argv=["bulkload", "import"], code_of=numbered)
    event_loop.run(run.run())
    ended = run.outcome()
    (failed,) = ended.failures
    assert failed.kind is FailureKind.TARGET and "401" in failed.error
    stats = ended.result
    assert stats.outcome == "failed"
    # the other share was stopped cleanly: interrupted, not failed
    assert sorted(p["exit_code"] for p in stats.processes) == [1, 70]
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected
    assert capfd.readouterr() == ("", "")
