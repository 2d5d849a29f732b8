"""bench --processes P: real child processes run the shards i/P together, their results
merged as shards are; Ctrl-C leaves no process behind; a failed child is named."""

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

from bulkload.stats.level import LevelResult, _union_length
from tests.conftest import running, shares_of
from tests.servers.fixtures import IngestServer

pytestmark = pytest.mark.timeout(180)

QUICK = ("--synthetic", "rows=4000,columns=3", "--batch-size", "100", "--warmup", "0")


def saved(tmp_path: Path, name: str = "run.json") -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / name).read_text())
    return document


def test_merged_counts_are_the_sum_of_the_children(run_cli, tmp_path: Path):
    result = run_cli(
        "bench", *QUICK, "--to", "sim://?latency=20ms", "--sweep", "2,4", "--batches", "40",
        "--processes", "2", "--json", "run.json", "--progress", "plain",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "level 2/2: started in 2 processes together" in result.stderr
    assert "2 processes; their measured windows overlapped" in result.stdout
    document = saved(tmp_path)
    children = document["processes"]["children"]
    assert [child["exit_code"] for child in children] == [0, 0]
    assert len({child["pid"] for child in children}) == 2
    for k, level in enumerate(document["levels"]):
        parts = [child["levels"][k] for child in children]
        assert level["batches"] == sum(part["batches"] for part in parts) == 40
        assert level["rows"] == sum(part["rows"] for part in parts) == 4000
        assert LevelResult.from_dict(level).latency.count == 40
    assert [level["concurrency"] for level in document["levels"]] == [2, 4]
    assert document["shard"] is None and "--processes" in document["command"]


def test_a_capacity_bound_level_is_measured_over_the_union_of_windows(run_cli, tmp_path):
    # each process has its own sim server of capacity 1 at 50 ms: at most 20 writes/s each
    result = run_cli(
        "bench", *QUICK, "--to", "sim://?latency=50ms&capacity=1", "--sweep", "4",
        "--batches", "30", "--processes", "2", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = saved(tmp_path)
    (level,) = document["levels"]
    windows = [
        (child["levels"][0]["started_at"], child["levels"][0]["finished_at"])
        for child in document["processes"]["children"]
    ]
    # throughput over the union of the windows, the overlap counted once
    assert level["elapsed_s"] == pytest.approx(_union_length(windows))
    assert level["batches"] == 30
    assert level["batches_per_s"] == pytest.approx(30 / level["elapsed_s"], rel=1e-3)
    # never above what two such servers can do, and (the windows overlapping) near it
    assert level["batches_per_s"] <= 2 * 20 * 1.05
    (overlap,) = document["processes"]["window_overlap"]
    assert overlap > 0.5, windows  # ~0.75 s windows: room for a loaded machine's stall
    assert level["batches_per_s"] >= 2 * 20 * 0.5


def test_rows_reach_the_ingest_server_once(run_cli, ingest: IngestServer, tmp_path: Path):
    result = run_cli(
        "bench", *QUICK, "--to", f"{ingest.url}/ingest", "--sweep", "2,4", "--batches", "10",
        "--processes", "2", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = saved(tmp_path)
    stored = ingest.state()["rows"]
    assert len(stored) == document["rows_written"] >= 2 * 10 * 100
    # the children wrote disjoint key ranges: no row twice within one level's keys
    assert sum(level["rows"] for level in document["levels"]) == 2000


def test_processes_refuse_what_cannot_be_split(run_cli):
    both = run_cli("bench", *QUICK, "--to", "sim://", "--processes", "2", "--shard", "1/2")
    assert both.code == 3
    assert both.error_line.startswith("bulkload: error: --processes and --shard exclude")
    auto = run_cli("bench", *QUICK, "--to", "sim://", "--processes", "2", "--sweep", "auto")
    assert auto.code == 3 and "--processes needs fixed levels" in auto.error_line
    zero = run_cli("bench", *QUICK, "--to", "sim://", "--processes", "0")
    assert zero.code == 3 and "--processes must be at least 1" in zero.error_line
    # a job of a matrix cannot know when the others' writes end: it would empty the table
    # under them (--processes P does it between levels, for its children)
    shard_reset = run_cli("bench", *QUICK, "--to", "sim://", "--shard", "1/2", "--reset")
    assert shard_reset.code == 3
    assert "--reset cannot be used with --shard" in shard_reset.error_line


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bulkload", "bench", *QUICK, "--json", "run.json", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # the test's signals reach the parent only, as a terminal's
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen[str], prefix: str, seen: list[str]) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith(prefix) or not line:
            return


def test_ctrl_c_stops_every_child_and_keeps_the_finished_levels(tmp_path: Path):
    proc = _start(
        tmp_path, "--to", "sim://?latency=2ms", "--sweep", "2,4,8,16,32", "--duration", "1s",
        "--processes", "2", "--progress", "plain",
    )  # fmt: skip
    seen: list[str] = []
    _wait_for(proc, "level 3/", seen)  # two levels done
    children = shares_of(proc.pid)
    assert len(children) == 2, "".join(seen)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, "".join(seen) + err
    assert "Traceback" not in err and "bulkload: error" not in err
    assert not [pid for pid in children if running(pid)]
    document = saved(tmp_path)
    assert document["outcome"] == "interrupted"
    done = [level["concurrency"] for level in document["levels"]]
    assert done == [2, 4]  # the level running (1 s long) was dropped, none started after
    assert "every process drops the level running" in err
    assert all(level["outcome"] == "completed" for level in document["levels"])


def test_a_second_ctrl_c_stops_the_children_at_once(tmp_path: Path):
    # the server stops answering 1 s in: after the first Ctrl-C each child waits for its
    # writes in flight; the second cancels them, and each child still saves its result
    proc = _start(
        tmp_path, "--to", "sim://?latency=2ms&stall=120s&stall_at=1s", "--sweep", "2,4",
        "--duration", "60s", "--processes", "2", "--progress", "plain",
    )  # fmt: skip
    seen: list[str] = []
    _wait_for(proc, "level 1/", seen)
    children = shares_of(proc.pid)
    time.sleep(2)  # into the stall
    proc.send_signal(signal.SIGINT)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, "".join(seen) + err
    # well before the parent's last resort (killing a child 10 s after the second Ctrl-C)
    assert time.monotonic() - started < 8
    assert not [pid for pid in children if running(pid)]
    document = saved(tmp_path)
    assert document["levels"] == []  # the level running was dropped
    assert [child["exit_code"] for child in document["processes"]["children"]] == [4, 4]


def test_a_failed_child_is_named_and_the_others_results_kept(tmp_path: Path):
    proc = _start(
        tmp_path, "--to", "sim://?latency=2ms", "--sweep", "2,4,8", "--duration", "1s",
        "--processes", "2", "--progress", "plain",
    )  # fmt: skip
    seen: list[str] = []
    _wait_for(proc, "level 2/", seen)
    children = sorted(shares_of(proc.pid))
    assert len(children) == 2
    os.kill(children[1], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    errors = [line for line in err.splitlines() if line.startswith("bulkload: error")]
    assert len(errors) == 1, err
    assert f"(pid {children[1]}) was killed by signal 9" in errors[0]
    assert proc.returncode == 2
    document = saved(tmp_path)
    assert document["outcome"] == "failed"
    # the other process's levels are kept (its share only: the killed one saved nothing)
    assert [level["concurrency"] for level in document["levels"]][:1] == [1]
    assert not [pid for pid in children if running(pid)]


def test_each_level_starts_together_even_when_the_shares_end_apart(run_cli, tmp_path: Path):
    # level c=3: shares of 2 and 1 writes in flight, 15 writes each at 100 ms: one child
    # ends its level ~0.7 s before the other; both still start c=4 together
    result = run_cli(
        "bench", *QUICK, "--to", "sim://?latency=100ms", "--sweep", "3,4", "--batches", "30",
        "--processes", "2", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = saved(tmp_path)
    first, second = (
        [child["levels"][k] for child in document["processes"]["children"]] for k in (0, 1)
    )
    # ~0.7 s apart, ~0 s apart: bounds with room for a loaded machine's 300 ms stall; a
    # broken barrier starts them ~0.7 s apart
    assert abs(first[0]["finished_at"] - first[1]["finished_at"]) > 0.3
    assert abs(second[0]["started_at"] - second[1]["started_at"]) < 0.45
    assert document["processes"]["window_overlap"][1] > 0.35  # a broken barrier: ~0.07


def test_reset_empties_the_table_once_every_process_has_ended_its_writes(pg, run_cli):
    """--reset split among processes: one TRUNCATE per level, after every process's
    writes of the level before (not one per process, under a share still writing)."""
    dsn, schema, sql = pg
    target = ("--to", dsn, "--schema-name", schema, "--table", "t", "--progress", "off")
    made = run_cli("bench", *QUICK, *target, "--sweep", "1", "--batches", "1")
    assert made.code == 0, made.stderr
    # each write takes 0.1 s; the log keeps the order of the writes and the TRUNCATEs
    sql(f'CREATE TABLE "{schema}".log (n serial, what text)')
    sql(
        f'CREATE FUNCTION "{schema}".note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
        "IF TG_OP = 'INSERT' THEN PERFORM pg_sleep(0.1); END IF; "
        f'INSERT INTO "{schema}".log (what) VALUES (TG_OP); RETURN NULL; END $$'
    )
    sql(
        f'CREATE TRIGGER note AFTER INSERT OR TRUNCATE ON "{schema}".t '
        f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".note()'
    )
    # c=3 is shares of 2 and 1 in flight: one process ends its 15 writes ~0.7 s early
    result = run_cli(
        "bench", *QUICK, *target, "--sweep", "3,4", "--batches", "30", "--reset",
        "--processes", "2",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    log = [row[0] for row in sql(f'SELECT what FROM "{schema}".log ORDER BY n')]
    assert log == ["TRUNCATE", *["INSERT"] * 30, "TRUNCATE", *["INSERT"] * 30], log
    assert sql(f'SELECT count(*) FROM "{schema}".t')[0][0] == 30 * 100


def test_an_unreachable_target_is_one_line_and_exit_5(run_cli, tmp_path: Path):
    """The parent prepares the target before starting any child: it finds the target
    unreachable once, says so on one line, saves the failed run, exits 5."""
    result = run_cli(
        "bench", *QUICK, "--to", "postgresql://postgres@127.0.0.1:1/test", "--sweep", "2",
        "--batches", "5", "--processes", "2", "--json", "run.json", "--progress", "off",
        env={"COLUMNS": "60"},  # narrower than the line: it must not be wrapped
    )  # fmt: skip
    assert result.code == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bulkload: error")]
    assert len(errors) == 1, result.stderr
    assert "127.0.0.1:1" in errors[0] and "process" not in errors[0]
    document = saved(tmp_path)
    assert document["outcome"] == "failed" and document["levels"] == []
    assert "127.0.0.1:1" in document["error"]


def test_gates_are_judged_on_the_merged_result(run_cli, tmp_path: Path):
    # c=4 merged from two children at c=2: ~20,000 rows/s together, ~10,000 each; a
    # child judging the gate would see no level 4 (and --abort-on-fail would stop it).
    # 160 writes: a 0.8 s window, so a loaded machine's stall of 0.5 s still passes
    # 12,000; a longer one (1.1 s was seen) fails the gate (exit 99): measured again
    for _ in range(3):
        result = run_cli(
            "bench", *QUICK, "--to", "sim://?latency=20ms", "--sweep", "2,4",
            "--batches", "160", "--processes", "2", "--threshold", "rows_per_s@4>12000",
            "--abort-on-fail", "--json", "-", "--progress", "off",
        )  # fmt: skip
        if result.code != 99:
            break
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)  # --json -: stdout holds the merged result only
    (gate,) = document["thresholds"]
    assert gate["ok"] and gate["level"]["concurrency"] == 4, gate
    assert [level["concurrency"] for level in document["levels"]] == [2, 4]


@pytest.mark.parametrize("attempt", range(5))
def test_a_new_schema_and_table_are_made_once_for_every_process(pg, run_cli, attempt):
    """The parent prepares the target before any child writes: a fresh schema and table
    under --processes 2 never race (when each child created them, ~2 runs in 15 failed
    with exit 5 on PostgreSQL's duplicate key in its catalog)."""
    dsn, schema, sql = pg
    fresh = f"{schema}_new"
    try:
        result = run_cli(
            "bench", *QUICK, "--to", dsn, "--schema-name", fresh, "--table", "t",
            "--sweep", "4", "--batches", "8", "--processes", "2", "--progress", "off",
        )  # fmt: skip
        assert result.code == 0, result.stderr
        assert sql(f'SELECT count(*) FROM "{fresh}".t')[0][0] == 8 * 100
    finally:
        sql(f'DROP SCHEMA IF EXISTS "{fresh}" CASCADE')


def test_processes_equal_their_shards_merged(pg, run_cli, tmp_path: Path):
    """--processes P runs the same shares as P --shard runs: the same rows in the table,
    the same counts per level, the same merged histogram counts as `report merge`."""
    dsn, schema, sql = pg
    common = (*QUICK, "--to", dsn, "--schema-name", schema, "--sweep", "2,4", "--batches", "9")
    together = run_cli(
        "bench", *common, "--table", "p", "--processes", "2", "--json", "p.json",
        "--progress", "off",
    )  # fmt: skip
    assert together.code == 0, together.stderr
    for index in (1, 2):
        shard = run_cli(
            "bench", *common, "--table", "s", "--shard", f"{index}/2", "--json", f"s{index}.json",
            "--processes", "1", "--progress", "off",
        )  # fmt: skip
        assert shard.code == 0, shard.stderr
    merged = run_cli("report", "merge", "s1.json", "s2.json", "-o", "s.json")
    assert merged.code == 0, merged.stderr

    def rows(table: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in sql(f'SELECT * FROM "{schema}".{table} ORDER BY 1, 2, 3')]

    assert rows("p") == rows("s") and len(rows("p")) == 2 * 9 * 100
    by_both = (saved(tmp_path, name)["levels"] for name in ("p.json", "s.json"))
    pairs = list(zip(*by_both, strict=True))
    assert len(pairs) == 2
    for by_processes, by_shards in pairs:
        for counter in ("concurrency", "batch_size", "rows", "batches", "errors"):
            assert by_processes[counter] == by_shards[counter], counter
        counts = [LevelResult.from_dict(level).latency.count for level in (by_processes, by_shards)]
        assert counts == [9, 9]


def test_a_level_below_the_process_count_says_what_was_measured(run_cli, tmp_path: Path):
    """--sweep 1,4 with --processes 2: each process runs at least 1 write, so c=1 runs
    as c=2. It was measured silently as c=2; now a warning says so, and the JSON level
    records the concurrency measured."""
    result = run_cli(
        "bench", *QUICK, "--to", "sim://?latency=5ms", "--sweep", "1,4", "--batches", "20",
        "--processes", "2", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    said = result.stdout + result.stderr
    assert said.count("c=1 is below the 2 shards or processes") == 1, said
    assert "measured at c=2" in said
    document = saved(tmp_path)
    assert [level["concurrency"] for level in document["levels"]] == [2, 4]
    assert any("c=1 is below" in warning for warning in document["warnings"])
    assert not any("c=4 is below" in warning for warning in document["warnings"])


def test_an_in_flight_cap_below_the_process_count_says_what_was_carried(run_cli, tmp_path: Path):
    """--sweep-rate with -c 1 and --processes 2: each process carries at least 1 write,
    so up to 2 were in flight. It was silent; a warning says so once, in the JSON too."""
    result = run_cli(
        "bench", *QUICK, "--to", "sim://?latency=5ms", "--sweep-rate", "100", "-c", "1",
        "--processes", "2", "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    said = result.stdout + result.stderr
    assert said.count("-c 1 is below the 2 shards or processes") == 1, said
    assert "up to 2 were in flight" in said
    document = saved(tmp_path)
    assert any("-c 1 is below" in warning for warning in document["warnings"])


def test_an_in_flight_cap_of_at_least_the_process_count_is_not_warned_of():
    from bulkload.bench.run import raised_cap

    assert raised_cap(2, 2) == [] and raised_cap(64, 4) == []
    assert len(raised_cap(3, 4)) == 1
