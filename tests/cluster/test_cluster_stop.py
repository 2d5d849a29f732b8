"""Stopping ``bench --cluster``, as a library user and from the command line: the
graceful stop drops the level running on every worker and keeps the finished ones;
cancelling the run aborts the tasks at once. Either way no task is left running on
the workers, and the run reports itself interrupted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.bench.dask import ClusterBench
from bulkload.options import build_bench_config
from tests.conftest import children_of, running

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(240)

QUICK = {"synthetic": "rows=4000,columns=3", "batch_size": "100", "warmup": "0"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes, and a client of the test's own to look
    at what its workers run."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def executing(client: Any) -> int:
    """Tasks running on the workers now, and tasks the scheduler still has for them."""
    on_workers = client.run(lambda dask_worker: len(dask_worker.state.executing))
    on_scheduler = client.processing()
    return sum(on_workers.values()) + sum(len(keys) for keys in on_scheduler.values())


def config(address: str, to: str, sweep: str, duration: str) -> Any:
    return build_bench_config(
        {**QUICK, "to": to, "sweep": sweep, "duration": duration, "cluster": address}
    )


def test_a_graceful_stop_keeps_the_finished_levels_and_leaves_no_task(cluster):
    local, client = cluster
    run = ClusterBench(
        config(local.scheduler_address, "sim://?latency=2ms", "2,4,8,16", "1s"),
        argv=["bulkload", "bench"],
    )

    async def main() -> float:
        task = asyncio.create_task(run.run())
        deadline = time.monotonic() + 90
        while not run.rounds:  # the first level ended on both workers
            assert not task.done() and time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # the second level runs (it starts 1 s after it is sent)
        run.stop()
        stopped = time.monotonic()
        await asyncio.wait_for(task, 60)
        return time.monotonic() - stopped

    took = event_loop.run(main())
    ended = run.outcome()
    assert ended.interrupted and ended.failures == [] and ended.error is None
    assert ended.result is not None and ended.result.outcome == "interrupted"
    # the level running (1 s long) was dropped, none started after it
    assert [level.concurrency for level in ended.result.levels] == [2]
    assert took < 20
    assert executing(client) == 0


def test_cancelling_the_run_aborts_every_task_at_once(cluster):
    local, client = cluster
    # the server stops answering 1 s in: a graceful stop would wait for the writes in
    # flight (120 s); the cancel aborts them
    stalled = "sim://?latency=2ms&stall=120s&stall_at=1s"
    run = ClusterBench(config(local.scheduler_address, stalled, "2,4", "60s"))

    async def main() -> float:
        task = asyncio.create_task(run.run())
        deadline = time.monotonic() + 90
        while executing(client) < 2:  # both tasks of the first level run
            assert not task.done() and time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # into the stall
        run.stop()
        await asyncio.sleep(1.0)
        cancelled = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled

    took = event_loop.run(main())
    assert took < 9  # well before the last resort (futures cancelled after 10 s)
    assert executing(client) == 0
    ended = run.outcome(stopped=True)
    assert ended.interrupted and ended.result is None and ended.failures == []


def test_ctrl_c_on_the_command_line_saves_the_finished_levels_and_exits_4(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkload", "bench", "--synthetic", "rows=4000,columns=3",
         "--batch-size", "100", "--warmup", "0", "--to", "sim://?latency=2ms",
         "--sweep", "2,4,8,16", "--duration", "2s", "--cluster", "local:2",
         "--progress", "plain", "--json", "run.json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # the test's signals reach the parent only, as a terminal's
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        # the plan, then levels 1, 2 and 3 started
        seen = [proc.stderr.readline() for _ in range(4)]
        assert seen[0].startswith("bench: 4 levels x 2 s"), seen
        assert seen[-1].startswith("level 3/4: started in 2 workers together"), seen
        assert seen[1].startswith("level 1/4: started in 2 workers together"), seen
        workers = _workers(proc.pid)
        assert len(workers) >= 2, seen
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 4, err
    assert "Traceback" not in err and "bulkload: error" not in err
    assert "every worker drops the level running" in err
    document = json.loads((tmp_path / "run.json").read_text())
    assert document["outcome"] == "interrupted"
    done = [level["concurrency"] for level in document["levels"]]
    assert done == [2, 4]  # the level running (2 s long) was dropped, none started after
    assert all(level["outcome"] == "completed" for level in document["levels"])
    deadline = time.monotonic() + 10  # a moment for a nanny's worker to be reaped
    while [pid for pid in workers if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]


def _workers(pid: int) -> list[int]:
    """The Dask worker processes under ``pid`` (a nanny and its worker each)."""
    found = []
    for child in children_of(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command and b"spawn_main" in command:
            found.append(child)
            found.extend(children_of(child))
    return found


def test_ctrl_c_during_import_on_the_cluster_stops_every_worker_and_exits_4(tmp_path: Path):
    """import --cluster: the first Ctrl-C reaches the workers' tasks (each finishes its
    batches in flight), the summary adds up what they loaded, and no worker is left."""
    lines = ["id,name", *(f"{i},n{i}" for i in range(40_000))]
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkload", "import", "a.csv", "--to", "sim://?latency=2ms",
         "--table", "t", "--batch-size", "100", "--rate", "4000", "--cluster", "local:2",
         "--progress", "off", "--json", "run.json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while len(_workers(proc.pid)) < 2:  # the local cluster's worker processes
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        workers = _workers(proc.pid)
        time.sleep(5.0)  # the tasks load (10 s at 4,000 rows/s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 4, err
    assert "Traceback" not in err and "bulkload: error" not in err
    assert "the workers finish their batches in flight" in err
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert 0 < summary["rows_loaded"] < 40_000
    assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_rejected"]
    deadline = time.monotonic() + 10
    while [pid for pid in workers if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]
