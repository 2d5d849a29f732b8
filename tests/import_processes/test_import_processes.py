"""import --processes P: real child processes each load their share of the batches into
real targets (the HTTP ingest server, PostgreSQL); the rows arrive exactly once (read =
loaded + rejected, counted by the server or the table), rejected rows land in the one
bad-records file, a resume works with another P, a failed child or a signal stops them
all with the right exit code and no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bulkload.config import SourceOptions
from bulkload.sources import BatchSource
from tests.conftest import running, shares_of
from tests.servers.fixtures import IngestServer

pytestmark = [pytest.mark.timeout(180)]

ROWS = 3000


def events(path: Path, rows: int = ROWS, *, first: int = 0, bad: set[int] = frozenset()) -> Path:
    """id,name,amount: rows ``first..first+rows-1``; the ids in ``bad`` get amount 'x'."""
    lines = ["id,name,amount"]
    lines += [f"{i},n{i},{'x' if i in bad else i * 2}" for i in range(first, first + rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def summary(tmp_path: Path, name: str = "s.json") -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / name).read_text())
    return document


def accounted(document: dict[str, Any]) -> None:
    assert document["rows_read"] == document["rows_loaded"] + document["rows_rejected"]
    assert document["rows_unfinished"] == 0


def server_ids(ingest: IngestServer) -> list[int]:
    return sorted(int(row["id"]) for row in ingest.state()["rows"])


# ----------------------------------------------------------------------------- the share


def test_every_batch_of_every_file_goes_to_exactly_one_process(tmp_path: Path):
    paths = [str(events(tmp_path / f"p{k}.csv", rows, first=1000 * k)) for k, rows in
             enumerate([700, 50, 50, 260])]  # fmt: skip
    options = SourceOptions(paths=tuple(paths), batch_size=100)
    whole = [(b.file.path, b.index, b.data.num_rows) for b in BatchSource(options).batches()]
    shares = []
    for index in (1, 2, 3):
        share = SourceOptions(paths=tuple(paths), batch_size=100, process_share=(index, 3))
        shares.append(
            [(b.file.path, b.index, b.data.num_rows) for b in BatchSource(share).batches()]
        )
    assert sorted(b for share in shares for b in share) == sorted(whole)  # each once, same cut
    assert all(len(share) in (4, 5) for share in shares)  # one-batch files spread too


# ----------------------------------------------------------------------------- HTTP


def test_http_rows_arrive_once_each_despite_faults(run_cli, ingest: IngestServer, tmp_path):
    events(tmp_path / "e.csv")
    # a request dropped after the server stored it, one refused for a while: retried,
    # and the idempotency key makes the retry of the stored one a duplicate
    ingest.control(
        idempotency_header="Idempotency-Key",
        script=[{}, {}, {"drop": "after_store"}, {}, {"status": 503, "retry_after": "0"}],
    )
    result = run_cli(
        "import", "e.csv", "--to", f"{ingest.url}/ingest", "--http-format", "ndjson",
        "--http-idempotency-key", "Idempotency-Key", "--batch-size", "50", "-c", "6",
        "--processes", "3", "--json", "s.json", "--progress", "off", "--retry-max-wait", "0.1",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert server_ids(ingest) == list(range(ROWS))
    assert ingest.state()["duplicates"] >= 1
    document = summary(tmp_path)
    accounted(document)
    assert document["rows_loaded"] == ROWS and document["batches"] == ROWS // 50
    assert document["latency_samples"] == ROWS // 50
    assert document["retry_causes"]["HTTP 503: try later"] == 1
    assert document["concurrency"] == 6 and document["effective_concurrency"] == 6
    processes = document["processes"]
    assert [p["index"] for p in processes] == [1, 2, 3]
    assert len({p["pid"] for p in processes}) == 3 and os.getpid() not in {
        p["pid"] for p in processes
    }
    assert [p["rows_loaded"] for p in processes] == [1000, 1000, 1000]  # batches n mod 3
    assert "3 processes, rows loaded: 1,000 + 1,000 + 1,000" in result.stdout


def test_rejected_rows_of_every_process_land_in_the_one_bad_records_file(
    run_cli, ingest: IngestServer, tmp_path: Path
):
    bad = {5, 160, 777, 1234, 2999}
    events(tmp_path / "e.csv", bad=bad)
    result = run_cli(
        "import", "e.csv", "--to", f"{ingest.url}/ingest", "--batch-size", "100", "-c", "4",
        "--type", "amount=int", "--processes", "2", "--json", "s.json", "--progress", "off",
        "--bad-records", "bad.csv",
    )  # fmt: skip
    assert result.code == 1, result.stderr
    assert server_ids(ingest) == sorted(set(range(ROWS)) - bad)
    document = summary(tmp_path)
    accounted(document)
    assert document["rows_rejected"] == len(bad)
    assert document["bad_records"] == "bad.csv"
    lines = (tmp_path / "bad.csv").read_text().splitlines()
    assert lines[0] == "source,line,reason,record"
    assert sorted(int(line.split(",")[1]) for line in lines[1:]) == sorted(i + 2 for i in bad)
    assert len(document["rejections_sample"]) == len(bad)
    assert not list(tmp_path.glob("process-*"))  # the children's parts stayed in scratch


def test_a_failing_child_stops_the_others_and_nothing_is_miscounted(
    run_cli, ingest: IngestServer, tmp_path: Path
):
    events(tmp_path / "e.csv", rows=20_000)
    ingest.control(script=[{}] * 6 + [{"status": 401}])  # the 7th request: credentials
    result = run_cli(
        "import", "e.csv", "--to", f"{ingest.url}/ingest", "--batch-size", "20", "-c", "2",
        "--processes", "2", "--json", "s.json", "--progress", "off",
        "--rate", "2000",  # 10 s each: the other one is still loading when stopped
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("bulkload: error")]
    assert len(errors) == 1, result.stderr
    assert result.code == 5, result.stderr
    assert "process " in errors[0] and " exited 5: " in errors[0] and "401" in errors[0]
    assert "rows were loaded before this error" in errors[0]
    assert "Traceback" not in result.stderr
    document = summary(tmp_path)
    assert document["outcome"] == "failed" and "401" in document["error"]
    accounted(document)
    # what the summary says was loaded is exactly what the server holds, once each
    ids = server_ids(ingest)
    assert len(ids) == len(set(ids)) == document["rows_loaded"] < 20_000
    codes = sorted(p["exit_code"] for p in document["processes"])
    assert codes == [4, 5]  # the other one was stopped cleanly
    assert document["elapsed_s"] < 5


def test_http_interrupted_then_resumed_with_another_p_stores_each_row_once(
    ingest: IngestServer, tmp_path: Path
):
    rows = 20_000
    events(tmp_path / "e.csv", rows=rows)
    ingest.control(idempotency_header="Idempotency-Key")
    http = ("--to", f"{ingest.url}/ingest", "--http-idempotency-key", "Idempotency-Key",
            "--batch-size", "20", "--checkpoint", "run.ckpt")  # fmt: skip
    proc = _start(tmp_path, *http, "--processes", "3", "-c", "3", "--rate", "4000")
    deadline = time.monotonic() + 60
    while len(ingest.state()["rows"]) < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    first = summary(tmp_path)
    accounted(first)
    assert first["rows_loaded"] == len(ingest.state()["rows"]) < rows
    resumed = subprocess.run(
        [sys.executable, "-m", "bulkload", "import", "e.csv", *http, "--processes", "2",
         "-c", "4", "--resume", "--json", "s.json", "--progress", "off"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    second = summary(tmp_path)
    assert second["rows_skipped"] == first["rows_loaded"]
    assert second["rows_loaded"] == rows - first["rows_loaded"]
    assert server_ids(ingest) == list(range(rows))


@pytest.mark.parametrize("mode", ["replace", "truncate"])
def test_a_resume_with_replace_or_truncate_keeps_the_rows_of_the_run_it_resumes(
    run_cli, ingest: IngestServer, tmp_path: Path, mode: str
):
    """The parent prepares the table as a one-process run would: once the checkpoint
    records rows, --if-exists applied to the first run only and the resumed run appends
    (the parent emptied the table, then the children skipped the rows it had held)."""
    events(tmp_path / "e.csv")
    http = ("--to", ingest.url, "--http-preset", "clickhouse", "--table", "events",
            "--batch-size", "100", "--checkpoint", "run.ckpt", "--if-exists", mode,
            "--processes", "2", "--progress", "off")  # fmt: skip
    assert run_cli("import", "e.csv", *http, "--limit", "1000").code == 0
    result = run_cli("import", "e.csv", *http, "--resume", "--json", "s.json")
    assert result.code == 0, result.stderr
    document = summary(tmp_path)
    assert (document["rows_skipped"], document["rows_loaded"]) == (1000, ROWS - 1000)
    stored = ingest.state()["tables"]["events"]["rows"]
    assert sorted(int(row["id"]) for row in stored) == list(range(ROWS))


def test_each_process_gets_its_share_of_the_limits():
    from bulkload.options import build_import_config
    from bulkload.parallel.shares import import_share

    config = build_import_config(
        {"paths": ["e.csv"], "to": "http://127.0.0.1:9/", "concurrency": 10, "rate": 900,
         "max_batches_per_sec": 30, "max_bytes_per_sec": 3e6, "max_errors": "5",
         "connections": 7, "processes": 3, "checkpoint": "c.json"}
    )  # fmt: skip
    shares = [import_share(config, (i, 3), Path("/scratch")) for i in (1, 2, 3)]
    assert sum(c.engine.concurrency for c in shares) == 10
    assert sum(c.target.connections or 0 for c in shares) == 7
    assert sum(c.engine.max_errors or 0 for c in shares) == 5
    assert sum(c.engine.rate or 0 for c in shares) == pytest.approx(900)
    assert sum(c.engine.max_batches_per_sec or 0 for c in shares) == pytest.approx(30)
    assert sum(c.engine.max_bytes_per_sec or 0 for c in shares) == pytest.approx(3e6)
    for index, child in enumerate(shares, 1):
        assert child.source.process_share == (index, 3)
        assert child.target.if_exists == "append" and child.processes == 1
        assert child.engine.checkpoint == f"/scratch/process-{index}.checkpoint.json"
        assert child.report.bad_records == f"/scratch/process-{index}.bad-records.csv"
        assert child.report.json_path is None


def test_refusals_are_one_line(run_cli, write_file):
    write_file("e.csv", "id\n1\n2\n")
    cases = [
        (["--to", "sqlite:///x.db"], "takes one writer at a time"),
        (["--to", "null://", "-c", "2"], "needs --concurrency 3 or more"),
        (["--to", "postgresql://127.0.0.1/test", "--connections", "2"], "--connections 3"),
        (["--to", "null://", "--cluster", "local:2"], "exclude each other"),
    ]
    for extra, message in cases:
        result = run_cli("import", "e.csv", "--processes", "3", *extra)
        assert result.code == 3, (extra, result.stderr)
        assert message in result.error_line and len(result.stderr.splitlines()) == 1
    result = run_cli("import", "-", "--table", "t", "--to", "null://", "--processes", "2",
                     stdin=b"id\n1\n")  # fmt: skip
    assert result.code == 3 and "stdin (-) can be read once" in result.error_line


def test_one_process_is_the_usual_run(run_cli, write_file, tmp_path: Path):
    write_file("e.csv", "id\n1\n2\n")
    result = run_cli("import", "e.csv", "--to", "null://", "--processes", "1", "--json", "s.json")
    assert result.code == 0, result.stderr
    assert "processes" not in summary(tmp_path)


def test_many_small_files_and_a_limit(run_cli, tmp_path: Path):
    for k in range(7):
        events(tmp_path / f"part{k}.csv", rows=30, first=100 * k)
    result = run_cli(
        "import", "part*.csv", "--to", "null://", "--batch-size", "20", "--processes", "3",
        "-c", "3", "--json", "s.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = summary(tmp_path)
    accounted(document)
    assert document["rows_loaded"] == 210 and document["batches"] == 14
    assert all(p["rows_loaded"] > 0 for p in document["processes"])
    # --limit counts the rows of every batch, whichever process loads it
    result = run_cli(
        "import", "part*.csv", "--to", "null://", "--batch-size", "20", "--processes", "3",
        "-c", "3", "--json", "s.json", "--progress", "off", "--limit", "95",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert summary(tmp_path)["rows_loaded"] == 95


def test_an_unreachable_target_is_found_before_any_process_starts(run_cli, tmp_path: Path):
    events(tmp_path / "e.csv", rows=10)
    result = run_cli(
        "import", "e.csv", "--to", "http://127.0.0.1:9/ingest", "--processes", "2",
        "--json", "s.json",
    )  # fmt: skip
    assert result.code == 5, result.stderr
    assert "cannot connect to 127.0.0.1:9" in result.error_line
    assert len(result.stderr.splitlines()) == 1
    document = summary(tmp_path)
    assert document["outcome"] == "failed" and "127.0.0.1:9" in document["error"]


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkload", "import", "e.csv", "--json", "s.json",
         "--progress", "plain", *args],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # the test's signals reach the parent only, as a terminal's
    )  # fmt: skip


def _children_started(proc: subprocess.Popen[str], count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        children = shares_of(proc.pid)
        if len(children) == count:
            return children
        time.sleep(0.05)
    raise AssertionError(f"no {count} children (exit {proc.poll()})")


def _wait_for_progress(children: list[int], seconds: float = 4.0) -> None:
    """Time for each child to start (spawned: a second or two on a loaded machine),
    open the target and load rows (its counters reach the parent over a queue, which a
    test cannot read: it waits long enough instead)."""
    time.sleep(seconds)
    assert all(running(pid) for pid in children)


def test_a_second_signal_stops_the_children_at_once(tmp_path: Path):
    # the target stops answering 1 s in: after the first signal each child waits for its
    # writes in flight; the second cancels them, and the counts still add up
    events(tmp_path / "e.csv", rows=100_000)
    proc = _start(
        tmp_path, "--to", "sim://?latency=2ms&stall=120s&stall_at=1s", "--batch-size", "10",
        "--processes", "2", "-c", "4",
    )  # fmt: skip
    children = _children_started(proc, 2)
    _wait_for_progress(children)  # each has loaded rows, and is into the stall (1 s on)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert proc.poll() is None  # the writes in flight are stalled
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert time.monotonic() - started < 8  # not the parent's last resort (10 s, then kill)
    assert "Traceback" not in err and "bulkload: error" not in err
    assert "the 2 processes finish their batches in flight" in err
    assert not [pid for pid in children if running(pid)]
    document = summary(tmp_path)
    assert document["outcome"] == "interrupted"
    accounted(document)
    assert 0 < document["rows_loaded"] < 100_000
    assert [p["exit_code"] for p in document["processes"]] == [4, 4]


def test_a_child_killed_by_a_signal_is_named_and_stops_the_others(tmp_path: Path):
    events(tmp_path / "e.csv", rows=100_000)
    proc = _start(
        tmp_path, "--to", "sim://?latency=2ms", "--batch-size", "10", "--processes", "2",
        "-c", "4", "--rate", "4000",
    )  # fmt: skip
    children = sorted(_children_started(proc, 2))
    _wait_for_progress(children)  # both loading (25 s at --rate 4000)
    os.kill(children[1], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    errors = [line for line in err.splitlines() if line.startswith("bulkload: error")]
    assert len(errors) == 1, err
    assert f"process 2/2 (pid {children[1]}) was killed by signal 9" in errors[0]
    assert proc.returncode == 2
    assert not [pid for pid in children if running(pid)]
    document = summary(tmp_path)
    assert document["outcome"] == "failed" and "killed by signal 9" in document["error"]
    (first, killed) = document["processes"]
    assert first["exit_code"] == 4 and first["outcome"] == "interrupted"
    assert killed["exit_code"] == 2 and killed["outcome"] == "killed"
    # the killed one's last published counters are counted (up to half a second old)
    assert killed["rows_loaded"] > 0


# ----------------------------------------------------------------------------- PostgreSQL


def _pg_import(dsn: str, schema: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "bulkload", "import", "e.csv", "--to", dsn, "--schema-name",
        schema, "--table", "events", "--batch-size", "100", "--checkpoint", "run.ckpt",
        "--json", "s.json", "--progress", "off", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}


def _held(sql, schema: str) -> tuple[int, int]:
    try:
        count, distinct = sql(f'SELECT count(*), count(DISTINCT id) FROM "{schema}".events')[0]
    except Exception:  # not created yet
        return 0, 0
    return int(count), int(distinct)


def _wait_rows(sql, schema: str, at_least: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _held(sql, schema)[0] >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"the import made no progress (exit {proc.poll()})")


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not [pid for pid in pids if running(pid)]:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_pg_interrupted_then_resumed_with_another_p_holds_each_row_once(
    tmp_path: Path, pg, how: signal.Signals
):
    dsn, schema, sql = pg
    rows = 30_000
    events(tmp_path / "e.csv", rows=rows)
    proc = subprocess.Popen(
        _pg_import(dsn, schema, "--processes", "3", "-c", "3", "--rate", "6000"),
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # the signal reaches the parent only, as a terminal's
    )  # fmt: skip
    _wait_rows(sql, schema, 3000, proc)
    children = shares_of(proc.pid)
    assert len(children) == 3
    proc.send_signal(how)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "Traceback" not in err and "bulkload: error" not in err
    assert not [pid for pid in children if running(pid)]
    first = summary(tmp_path)
    assert first["outcome"] == "interrupted"
    accounted(first)
    loaded = first["rows_loaded"]
    assert _held(sql, schema) == (loaded, loaded) and 0 < loaded < rows
    keys = json.loads((tmp_path / "run.ckpt").read_text())["sources"]
    (committed,) = keys.values()
    assert sum(count for _, _, count in committed["committed"]) == loaded

    resumed = subprocess.run(
        _pg_import(dsn, schema, "--processes", "2", "-c", "4", "--resume"),
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    second = summary(tmp_path)
    accounted(second)
    assert second["rows_skipped"] == loaded
    assert second["rows_loaded"] == rows - loaded
    assert _held(sql, schema) == (rows, rows)
    (committed,) = json.loads((tmp_path / "run.ckpt").read_text())["sources"].values()
    assert sum(count for _, _, count in committed["committed"]) == rows


def test_pg_parent_killed_its_children_stop_and_a_resume_is_exactly_once(tmp_path: Path, pg):
    dsn, schema, sql = pg
    rows = 30_000
    events(tmp_path / "e.csv", rows=rows)
    # a parent killed with -9 cannot remove its scratch directory: keep it in tmp_path
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen(
        _pg_import(dsn, schema, "--processes", "2", "-c", "2", "--rate", "6000"),
        cwd=tmp_path, env={**_env(), "TMPDIR": str(scratch)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    _wait_rows(sql, schema, 2000, proc)
    children = shares_of(proc.pid)
    assert len(children) == 2
    proc.kill()
    proc.communicate(timeout=30)
    # with their parent gone the children stop as after a Ctrl-C (no orphan loads on)
    assert _gone_within(children, 20), "the children outlived their parent"
    loaded = _held(sql, schema)[0]
    assert 0 < loaded < rows
    resumed = subprocess.run(
        _pg_import(dsn, schema, "--processes", "3", "-c", "3", "--resume"),
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    # the checkpoint file never got the killed run's keys: the bookkeeping table did
    assert summary(tmp_path)["rows_skipped"] == loaded
    assert _held(sql, schema) == (rows, rows)


def test_pg_if_exists_replace_is_done_once_before_the_children_append(run_cli, tmp_path, pg):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".events (id bigint, name text, amount bigint)')
    sql(f"INSERT INTO \"{schema}\".events VALUES (-1, 'old', 0)")
    events(tmp_path / "e.csv")
    result = run_cli(
        "import", "e.csv", "--to", dsn, "--schema-name", schema, "--table", "events",
        "--if-exists", "replace", "--batch-size", "100", "--processes", "3", "-c", "6",
        "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert _held(sql, schema) == (ROWS, ROWS)
    assert sql(f'SELECT min(id) FROM "{schema}".events')[0][0] == 0
