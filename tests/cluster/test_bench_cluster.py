"""``bulkload bench --cluster``: each level runs on a LocalCluster's 2 worker processes
at once, and the merged level is exactly the workers' counts added, its throughput over
the union of their windows (never double-counted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(240)

QUICK = ("--synthetic", "rows=4000,columns=3", "--batch-size", "100", "--warmup", "0")
CLUSTER = ("--cluster", "local:2", "--progress", "off")
#: per worker: 2 batches served at once, 50 ms each -> at most 40 batches/s
SIM = "sim://?latency=50ms&capacity=2"
SIM_MAX_BATCHES_PER_S = 2 * 2 / 0.050  # two workers, each with its own simulated server


def saved(tmp_path: Path, name: str = "run.json") -> dict[str, Any]:
    found: dict[str, Any] = json.loads((tmp_path / name).read_text())
    return found


def test_a_sweep_on_two_workers_is_their_counts_added(run_cli_subprocess, tmp_path: Path):
    result = run_cli_subprocess(
        "bench", *QUICK, *CLUSTER, "--to", SIM, "--sweep", "2,8", "--batches", "80",
        "--json", "run.json", timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run = saved(tmp_path)
    cluster = run["machine"]["cluster"]
    assert cluster["address"] == "local:2"
    assert len(cluster["workers"]) == 2
    assert all(worker["host"] and worker["address"] for worker in cluster["workers"])
    assert [lvl["concurrency"] for lvl in run["levels"]] == [2, 8]
    for level, measured in zip(run["levels"], cluster["levels"], strict=True):
        workers = measured["workers"]
        assert len(workers) == 2
        # exactly the workers' counts: 80 batch writes of 100 rows, split between them
        assert level["batches"] == sum(w["batches"] for w in workers) == 80
        assert level["rows"] == sum(w["rows"] for w in workers) == 8000
        assert all(w["batches"] == 40 for w in workers)
        assert level["errors"] == 0
        # throughput over the union of the windows: at most the workers' rates added
        union = max(w["finished_at"] for w in workers) - min(w["started_at"] for w in workers)
        assert level["elapsed_s"] == pytest.approx(union, rel=1e-6)
        assert level["rows_per_s"] == pytest.approx(level["rows"] / union, rel=1e-3)
        assert level["rows_per_s"] <= sum(w["rows_per_s"] for w in workers) * 1.001
        # the barrier: both workers measured at the same time (loaded machine: generous)
        assert measured["window_overlap"] > 0.3  # ~1 s windows, workers set up apart
    assert run["rows_written"] == 16000
    # c=8 is bound by the simulated servers' capacity: the merged rate cannot exceed it
    bound = run["levels"][1]
    assert bound["rows_per_s"] / 100 <= SIM_MAX_BATCHES_PER_S * 1.1
    assert bound["rows_per_s"] / 100 > SIM_MAX_BATCHES_PER_S * 0.3  # and both ran


@pytest.mark.postgres
def test_postgresql_holds_every_row_and_never_sees_the_password_in_output(
    run_cli_subprocess, tmp_path: Path, pg
):
    dsn, schema, sql = pg
    secret_dsn = dsn.replace("postgres@", "postgres:s3cr3t-pw@")  # trust auth ignores it
    assert "s3cr3t-pw" in secret_dsn
    result = run_cli_subprocess(
        "bench", *QUICK, *CLUSTER, "--to", secret_dsn, "--schema-name", schema,
        "--table", "events", "--sweep", "2,4", "--batches", "20", "--json", "run.json",
        timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    run = saved(tmp_path)
    held = sql(f'SELECT count(*) FROM "{schema}".events')[0][0]
    assert held == run["rows_written"] == 2 * 20 * 100
    everything = result.stdout + result.stderr + (tmp_path / "run.json").read_text()
    assert "s3cr3t-pw" not in everything


def test_without_the_extra_the_error_names_it(run_cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    result = run_cli("bench", *QUICK, *CLUSTER, "--to", SIM, "--sweep", "2", "--batches", "4")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --cluster needs Dask's distributed package: pip install 'bulkload[dask]'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cluster", "nowhere"), "--cluster must be a scheduler address"),
        (("--cluster", "local:2", "--sweep", "auto"), "--cluster needs fixed levels"),
        (("--cluster", "local:2", "--shard", "1/2"), "--cluster and --shard exclude"),
        (("--cluster", "local:2", "--workers", "0"), "--workers"),
    ],
)
def test_bad_cluster_options_are_usage_errors(run_cli, args: tuple[str, ...], message: str):
    result = run_cli("bench", *QUICK, "--to", SIM, "--batches", "4", "--progress", "off", *args)
    assert result.code == 3, result.stderr
    assert message in result.error_line


def test_an_unreachable_scheduler_exits_5_naming_it(run_cli_subprocess):
    result = run_cli_subprocess(
        "bench", *QUICK, "--to", SIM, "--sweep", "2", "--batches", "4", "--progress", "off",
        "--cluster", "tcp://127.0.0.1:1", timeout=90,
    )  # fmt: skip
    assert result.code == 5, result.stderr
    assert result.error_line.startswith(
        "bulkload: error: --cluster: cannot reach the Dask scheduler at tcp://127.0.0.1:1"
    )
