"""``bulkload bench`` options through the real CLI: each one parsed into BenchConfig, and
each bad value refused with one line naming the option, exit 3, before anything runs.

``captured`` stands in for the sweep (``bulkload.cli.bench_command.run_bench``) and keeps the
BenchConfig the CLI built, so what is tested here is the command line, the environment
and the profile, up to that config, without running sweeps (tests/bench runs them)."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from bulkload.config import BenchConfig


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[BenchConfig]:
    configs: list[BenchConfig] = []

    def run_bench(config: BenchConfig, *, argv: Any = ()) -> int:
        configs.append(config)
        return 0

    module = types.ModuleType("bulkload.cli.bench_command")
    module.run_bench = run_bench  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bulkload.cli.bench_command", module)
    return configs


@pytest.fixture
def bench(run_cli, write_file, captured) -> Any:
    """Run ``bulkload bench d.csv ARGS`` (or without the file, with ``files=False``) and
    return the BenchConfig it built."""
    write_file("d.csv", "a,b\n1,x\n")

    def run(*args: str, files: bool = True, env: dict[str, str] | None = None) -> BenchConfig:
        result = run_cli("bench", *(["d.csv"] if files else []), *args, env=env)
        assert result.code == 0, result.stderr
        assert len(captured) == 1
        return captured.pop()

    return run


def refused(run_cli, *args: str) -> str:
    """The one error line of a bench run that must stop with exit 3."""
    result = run_cli("bench", *args)
    assert result.code == 3, (args, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    return result.error_line.removeprefix("bulkload: error: ")


def test_defaults(bench):
    config = bench()
    assert config.source is not None and config.source.paths == ("d.csv",)
    assert config.synthetic is None
    sweep = config.sweep
    assert sweep.levels == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert (sweep.auto, sweep.rates, sweep.batch_sizes) == (False, (), (10_000,))
    assert (sweep.warmup, sweep.duration, sweep.rows, sweep.batches) == (2.0, 10.0, None, None)
    assert (sweep.max_time, sweep.reset, sweep.slo) == (300.0, False, ())
    # import-only options keep their defaults
    assert config.engine.checkpoint is None and config.report.bad_records is None


def test_levels_are_sorted_once_each(bench):
    assert bench("--sweep", "8,2,4,2").sweep.levels == (2, 4, 8)
    auto = bench("--sweep", "auto", "--max-time", "90s").sweep
    assert (auto.auto, auto.levels, auto.max_time) == (True, (), 90.0)


def test_rates_make_the_open_model(bench):
    sweep = bench("--sweep-rate", "200,50.5", "-c", "16").sweep
    assert (sweep.rates, sweep.levels, sweep.auto) == ((50.5, 200.0), (), False)


def test_batch_sizes(bench):
    assert bench("--sweep-batch-size", "5000,100").sweep.batch_sizes == (100, 5000)
    assert bench("--batch-size", "77").sweep.batch_sizes == (77,)


def test_durations_and_bounds(bench):
    sweep = bench("--warmup", "500ms", "--duration", "1m").sweep
    assert (sweep.warmup, sweep.duration) == (0.5, 60.0)
    assert bench("--duration", "1.5").sweep.duration == 1.5
    assert bench("--warmup", "0").sweep.warmup == 0
    rows = bench("--rows", "1000").sweep
    assert (rows.rows, rows.duration, rows.batches) == (1000, None, None)
    batches = bench("--batches", "50").sweep
    assert (batches.batches, batches.duration) == (50, None)


def test_reset_and_slo(bench):
    sweep = bench("--reset", "--slo", "p99<50ms,error_rate<1%", "--slo", "max@all<1s").sweep
    assert sweep.reset is True
    assert [str(t) for t in sweep.slo] == ["p99 < 50 ms", "error_rate < 1%", "max@all < 1 s"]


def test_synthetic_instead_of_files(bench):
    config = bench("--synthetic", "rows=2000,columns=3,seed=7,types=int:string", files=False)
    assert config.source is None
    assert config.synthetic is not None
    assert (config.synthetic.rows, config.synthetic.columns, config.synthetic.seed) == (2000, 3, 7)


def test_shared_options_reach_the_config(bench):
    config = bench(
        *("--to", "sim://?latency=1ms", "--table", "t", "--timeout", "30s"),
        *("--retries", "2", "--rate", "1000", "--json", "s.json", "-q"),
    )
    assert (config.target.url, config.target.table) == ("sim://?latency=1ms", "t")
    assert (config.engine.timeout, config.engine.retries, config.engine.rate) == (30, 2, 1000)
    assert (config.report.json_path, config.report.quiet) == ("s.json", True)


def test_environment_variables(bench):
    env = {"BULKLOAD_SWEEP": "3,1", "BULKLOAD_WARMUP": "1s", "BULKLOAD_RESET": "true"}
    sweep = bench(env=env).sweep
    assert (sweep.levels, sweep.warmup, sweep.reset) == ((1, 3), 1.0, True)


def test_precedence_profile_environment_flag(bench, write_file):
    write_file(
        "p.toml",
        'to = "null://"\nbatch_size = 5\n[bench]\nsweep = [4, 1]\nduration = "3s"\n'
        '[import]\ncheckpoint = "x.ckpt"\n',
    )
    config = bench("--config", "p.toml")
    assert config.target.url == "null://"
    assert (config.sweep.levels, config.sweep.duration, config.sweep.batch_sizes) == (
        (1, 4),
        3.0,
        (5,),
    )
    env = {"BULKLOAD_SWEEP": "2", "BULKLOAD_DURATION": "4s"}
    assert bench("--config", "p.toml", env=env).sweep.levels == (2,)
    flagged = bench("--config", "p.toml", "--sweep", "6", env=env).sweep
    assert (flagged.levels, flagged.duration) == ((6,), 4.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sweep", "0,2"), "--sweep must be at least 1, not 0"),
        (("--sweep", "1,x"), "--sweep must be a whole number, not 'x'"),
        (("--sweep", ","), "--sweep needs at least one value"),
        (("--sweep-batch-size", "0"), "--sweep-batch-size must be at least 1, not 0"),
        (("--sweep-rate", "10,0"), "--sweep-rate must be greater than 0, not 0"),
        (("--sweep-rate", "fast"), "--sweep-rate must be a number, not 'fast'"),
        (("--sweep", "1,2", "--sweep-rate", "10"), "--sweep (concurrency levels) and --sweep-"),
        (("--sweep", "auto", "--sweep-rate", "10"), "--sweep (concurrency levels) and --sweep-"),
        (("--warmup", "soon"), "--warmup must be a duration such as 500ms, 2s, 1m or 1.5"),
        (("--warmup", "-1s"), "--warmup must be a duration such as"),
        (("--warmup", "-1"), "--warmup must not be negative"),
        (("--duration", "0"), "--duration must be longer than 0"),
        (("--duration", "inf"), "--duration must be a finite number"),
        (("--max-time", "0s", "--sweep", "auto"), "--max-time must be longer than 0"),
        (("--max-time", "1m"), "--max-time bounds --sweep auto"),
        (("--rows", "0"), "--rows must be at least 1, not 0"),
        (("--batches", "many"), "--batches must be a whole number, not 'many'"),
        (("--rows", "10", "--batches", "2"), "--rows and --batches each bound a level"),
        (("--duration", "5s", "--rows", "10"), "--duration and --rows each bound a level"),
        (("--slo", "p99<<5ms"), "--slo: bad expression 'p99<<5ms'"),
        (("--slo", "latency<5ms"), "--slo: bad expression 'latency<5ms': unknown metric"),
        (("--synthetic", "rows=0"), "--synthetic: rows must be"),
        (("--synthetic", "columns=3"), "--synthetic: rows is required"),
        (("--synthetic", "rows=10"), "bulkload bench reads files (PATHS) or generated rows"),
        (("--timeout", "soon"), "--timeout must be a duration such as"),
        (("--concurrency", "0"), "--concurrency must be at least 1, not 0"),
    ],
)
def test_bad_values_are_one_line_exit_3(run_cli, write_file, captured, args, message):
    write_file("d.csv", "a,b\n1,x\n")
    files = [] if args[0] == "--synthetic" and args[1] != "rows=10" else ["d.csv"]
    assert refused(run_cli, *files, *args).startswith(message)
    assert captured == []  # refused before the sweep was started


def test_neither_files_nor_synthetic(run_cli, captured):
    line = refused(run_cli)
    assert "PATHS" in line and "--synthetic" in line and "(neither given)" in line


@pytest.mark.parametrize("option", ["--checkpoint", "--resume", "--limit", "--max-errors"])
def test_import_only_options_are_not_bench_options(run_cli, write_file, option):
    write_file("d.csv", "a,b\n1,x\n")
    result = run_cli("bench", "d.csv", option, "1")
    assert result.code == 3
    assert "No such option" in result.error_line and option in result.error_line
