"""The library's keyword API: ``bulkload.load(path, to=..., table=..., concurrency=...)``,
``load_async`` and ``bulkload.bench(...)``, against real SQLite files and the sim://
target; the keywords are the command line's options, with the config models' defaults."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import bulkload
from bulkload.config import EngineOptions, SourceOptions, TargetOptions
from bulkload.config.keywords import CLI_ONLY
from bulkload.library import import_config
from bulkload.options import BENCH, IMPORT, profile_keys

QUICK = {"warmup": 0, "duration": "0.3s"}


def _csv(tmp_path: Path, rows: int = 25) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(rows)))
    return path


def test_load_with_keywords_into_a_real_sqlite_file(tmp_path: Path):
    db = tmp_path / "x.db"
    stats = bulkload.load(
        _csv(tmp_path), to=f"sqlite:///{db}", table="t", concurrency=2, batch_size=10
    )
    assert (stats.rows_read, stats.rows_loaded, stats.batches) == (25, 25, 3)
    assert stats.outcome is bulkload.Outcome.COMPLETED and stats.outcome == "completed"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM t").fetchone() == (25, 24)


def test_keywords_take_a_list_of_paths_and_text_values(tmp_path: Path):
    first = _csv(tmp_path)
    second = tmp_path / "more.csv"
    second.write_text("id,name\n100,x\n")
    db = tmp_path / "x.db"
    stats = bulkload.load(
        [first, str(second)], to=f"sqlite:///{db}", table="t", batch_size="10", timeout="2s"
    )
    assert stats.rows_loaded == 26


def test_keywords_left_out_take_the_config_models_defaults(tmp_path: Path):
    config = import_config(str(tmp_path / "a.csv"), {"to": "sqlite:///x.db"})
    assert config.engine == EngineOptions()
    assert config.source.batch_size == SourceOptions(paths=()).batch_size
    assert config.target.if_exists == TargetOptions().if_exists
    given = import_config(str(tmp_path / "a.csv"), {"concurrency": 3, "if_exists": "replace"})
    assert (given.engine.concurrency, given.target.if_exists) == (3, "replace")


def test_every_option_of_the_commands_is_a_keyword():
    """The typed keywords follow the registry: an option added to import or bench is a
    keyword of load() or bench() too (or deliberately the command line's only)."""
    assert set(bulkload.LoadKeywords.__optional_keys__) == profile_keys(IMPORT) - CLI_ONLY
    assert set(bulkload.BenchKeywords.__optional_keys__) == profile_keys(BENCH) - CLI_ONLY


def test_a_config_object_is_still_accepted(tmp_path: Path):
    db = tmp_path / "x.db"
    config = bulkload.build_import_config(
        {"paths": [str(_csv(tmp_path))], "to": f"sqlite:///{db}", "table": "t"}
    )
    assert bulkload.load(config).rows_loaded == 25
    with pytest.raises(TypeError, match="not as keywords too"):
        bulkload.load(config, concurrency=2)  # type: ignore[call-arg]


def test_bad_keywords_fail_as_python_and_the_command_line_do(tmp_path: Path):
    path = _csv(tmp_path)
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*concurency"):
        bulkload.load(path, concurency=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="processes"):  # how the CLI runs: not a keyword
        bulkload.load(path, processes=2)  # type: ignore[call-arg]
    with pytest.raises(bulkload.UsageError, match="--concurrency must be at least 1"):
        bulkload.load(path, to=f"sqlite:///{tmp_path / 'x.db'}", concurrency=0)


def test_load_async_with_keywords(tmp_path: Path):
    db = tmp_path / "x.db"

    async def main() -> bulkload.RunStats:
        return await bulkload.load_async(_csv(tmp_path), to=f"sqlite:///{db}", table="t")

    stats = asyncio.run(main())
    assert (stats.rows_loaded, stats.outcome) == (25, "completed")


def _shape(value: Any) -> Any:
    """The keys of a JSON document, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


def _keys(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {key: _keys(item) for key, item in shape.items()}
    if isinstance(shape, list):
        return [_keys(item) for item in shape]
    return None


def test_bench_returns_the_result_the_cli_writes_as_json(run_cli, tmp_path: Path):
    result = bulkload.bench(
        synthetic="rows=3000,columns=3",
        to="sim://?latency=1ms",
        sweep=[1, 2],
        batch_size=50,
        threshold="p99 < 10s",
        **QUICK,
    )
    assert isinstance(result, bulkload.SweepResult)
    assert result.outcome is bulkload.Outcome.COMPLETED
    assert [level.concurrency for level in result.levels] == [1, 2]
    assert all(level.outcome == "completed" and level.rows > 0 for level in result.levels)
    assert result.thresholds and all(gate["ok"] for gate in result.thresholds)
    assert result.command == []  # no argv: a library call

    cli = run_cli(
        "bench", "--synthetic", "rows=3000,columns=3", "--to", "sim://?latency=1ms",
        "--sweep", "1,2", "--batch-size", "50", "--threshold", "p99 < 10s",
        "--warmup", "0", "--duration", "0.3s", "--processes", "1", "--json", "run.json",
    )  # fmt: skip
    assert cli.code == 0, cli.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    document = json.loads(json.dumps(result.to_dict()))
    assert document["outcome"] == saved["outcome"] == "completed"
    # the same document: the same keys, level by level (but the command line that ran
    # it, and what the CLI decided about worker processes: a library call has neither)
    for key in ("command", "processes_decision"):
        saved.pop(key, None)
        document.pop(key, None)
    assert _keys(_shape(document)) == _keys(_shape(saved))


def test_bench_reads_files_and_takes_a_config(tmp_path: Path):
    path = _csv(tmp_path, rows=200)
    db = tmp_path / "b.db"
    result = bulkload.bench(
        path, to=f"sqlite:///{db}", table="b", sweep="1", batch_size=20, **QUICK
    )
    assert (result.table, result.outcome, len(result.levels)) == ("b", "completed", 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM b").fetchone()[0] > 0
    config = bulkload.build_bench_config(
        {"synthetic": "rows=500", "to": "sim://", "sweep": "1", **QUICK}
    )
    assert bulkload.bench(config).outcome == "completed"
    with pytest.raises(TypeError, match="not as keywords too"):
        bulkload.bench(config, sweep="2")


def test_bench_raises_what_stopped_it():
    with pytest.raises(bulkload.UsageError, match="give one of them"):
        bulkload.bench(to="sim://", sweep="1")  # neither files nor synthetic rows
    with pytest.raises(bulkload.UsageError, match="--duration"):
        bulkload.bench(synthetic="rows=10", to="sim://", duration="soon")
    with pytest.raises(bulkload.UsageError, match="reset=True cannot be used with shard="):
        bulkload.bench(synthetic="rows=10", to="sim://", shard="1/2", reset=True)
