"""Options are declared once (bulkload.options) and show up everywhere from there: both
commands' help, profile validation, environment variables and the built config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import MISSING, fields, replace

import pytest

from bulkload import options as registry
from bulkload.config import EngineOptions, SweepOptions, TargetOptions
from bulkload.errors import UsageError
from bulkload.options import (
    BACKEND_OPTIONS,
    BENCH,
    IMPORT,
    OPTIONS,
    build_bench_config,
    build_import_config,
    load_profile,
    parse_duration,
)


def _help(run_cli, command: str) -> str:
    result = run_cli(command, "--help", env={"COLUMNS": "200"})
    assert result.code == 0, result.stderr
    return result.stdout


def _listed(text: str, flag: str) -> bool:
    """Whether a row of the help starts with ``flag``."""
    return re.search(rf"^│\s+{re.escape(flag)}\s", text, re.MULTILINE) is not None


def test_each_option_is_declared_once_with_its_own_flags_and_variable():
    names = [option.name for option in OPTIONS]
    flags = [flag for option in OPTIONS for flag in option.flags]
    envvars = [option.envvar for option in OPTIONS if option.envvar]
    assert len(set(names)) == len(names)
    assert len(set(flags)) == len(flags)
    assert len(set(envvars)) == len(envvars)
    for option in OPTIONS:
        assert option.name.isidentifier() and option.panel and option.help, option
        assert option.commands and option.commands <= {IMPORT, BENCH}, option
        if option.env:
            assert option.envvar == f"BULKLOAD_{option.name.upper()}"


def test_both_commands_list_their_options_in_panels(run_cli):
    helps = {command: _help(run_cli, command) for command in (IMPORT, BENCH)}
    for option in OPTIONS:
        if option.argument:
            continue
        for command, text in helps.items():
            assert _listed(text, option.flags[0].split("/")[0]) == (command in option.commands), (
                command,
                option.name,
            )
    for panel in ("Target", "Source", "CSV", "Engine", "Errors and retries", "Output"):
        assert all(f"─ {panel} ─" in text for text in helps.values()), panel
    assert "─ Sweep ─" in helps[BENCH] and "─ Sweep ─" not in helps[IMPORT]
    # the default comes from the declaration, and so does the variable
    assert re.search(r"--batch-size .*\(default: 10000\)", helps[BENCH])
    assert "BULKLOAD_SWEEP_RATE" in helps[BENCH]


def test_shared_options_build_the_same_values_for_both_commands():
    settings = {
        "paths": ["d.csv"],
        "to": "null://",
        "batch_size": "500",
        "concurrency": 3,
        "timeout": "2m",
        "retry_max_wait": "250ms",
        "types": {"a": "int"},
        "null_values": ["NA"],
    }
    imported = build_import_config(settings)
    benched = build_bench_config(settings)
    assert benched.source == imported.source
    assert benched.target == replace(imported.target, build_new_aside=False)
    assert benched.engine == imported.engine
    assert (imported.engine.timeout, imported.engine.retry_max_wait) == (120.0, 0.25)
    assert imported.source.batch_size == 500


def test_builders_refuse_the_other_commands_options():
    with pytest.raises(UsageError, match=r"unknown option\(s\): sweep"):
        build_import_config({"paths": ["d.csv"], "sweep": "1,2"})
    with pytest.raises(UsageError, match=r"unknown option\(s\): checkpoint"):
        build_bench_config({"paths": ["d.csv"], "checkpoint": "c"})


def test_dataclass_defaults_are_the_declared_defaults():
    (concurrency,) = [option for option in OPTIONS if option.name == "concurrency"]
    assert EngineOptions().concurrency == concurrency.default == 8
    assert EngineOptions().timeout == 120.0
    assert TargetOptions().url == "sqlite:///bulkload.db"
    assert SweepOptions().levels == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert SweepOptions().max_time == 300.0
    built = build_import_config({"paths": ["d.csv"]})
    # import builds a new SQLite file aside (not an option: the command's choice)
    imported_target = replace(TargetOptions(), build_new_aside=True)
    assert built.engine == EngineOptions() and built.target == imported_target


def test_the_config_models_own_the_defaults_the_help_shows():
    """An option's default is its model field's; where --help writes it as a user would
    ("64MB", "2s"), that text parses back to the model's value."""
    shown = 0
    for option in OPTIONS:
        if option.model is not None and not option.derived:
            field = {f.name: f for f in fields(option.model)}[option.target]
            assert option.value(None) == option.default, option.name
            assert field.default is MISSING or option.default == field.default, option.name
        if option.default_text is not None:
            assert option.parse(option.default_text, option.flag) == option.default, option.name
            shown += 1
    assert shown >= 9  # sizes, durations, the levels, the regression allowed


def test_every_declared_option_is_listed_with_what_a_reference_shows():
    """declared_options() feeds the docs' CLI reference: flags, help, default, commands."""
    listed = registry.declared_options()
    assert listed[: len(OPTIONS)] == OPTIONS
    for option in listed:
        assert option.full_help and option.commands <= {IMPORT, BENCH}
        assert option.flags or option.argument


def test_the_config_package_does_not_import_the_option_registry():
    """The inversion: the models and parsers are below the command line's registry
    (config.py used to take its defaults from bulkload.options)."""
    script = "import sys, bulkload.config; print('bulkload.options' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


def test_backends_declare_their_own_options_next_to_their_code(run_cli):
    from bulkload.backends.http import HttpBackend
    from bulkload.backends.mysql import MySQLBackend
    from bulkload.backends.postgresql import PostgresBackend
    from bulkload.backends.sqlite import SQLiteBackend

    owners = {
        "sqlite": SQLiteBackend,
        "postgresql": PostgresBackend,
        "mysql": MySQLBackend,
        "http": HttpBackend,
    }
    shared = {f.name for f in fields(TargetOptions)} - {"backends"}
    assert set(BACKEND_OPTIONS) == set(owners)
    for name, declared in BACKEND_OPTIONS.items():
        assert owners[name].own_options is declared
        (model,) = {option.model for option in declared}  # one model of its own each
        assert model is not None and model is not TargetOptions
        assert {f.name for f in fields(model)} == {option.target for option in declared}
        assert not shared & {option.name for option in declared}, name
        assert all(option in OPTIONS for option in declared)
    listed = run_cli("backends", env={"COLUMNS": "300"})
    assert listed.code == 0
    assert "options: --schema-name, --pg-method, --pg-format, --on-conflict, --key" in (
        listed.stdout
    )
    assert "options: --wal/--no-wal" in listed.stdout
    assert "options: --mysql-method" in listed.stdout


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("2s", 2.0), ("1m", 60.0), ("1.5", 1.5), ("200us", 0.0002), (3, 3.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "--x") == pytest.approx(seconds)


def test_profile_sections_per_command(write_file, tmp_path):
    write_file(
        "p.toml",
        'to = "null://"\nsweep = "1,2"\n[import]\nbatch_size = 7\n'
        '[bench]\nbatch_size = 9\nwarmup = "1s"\n[bench.synthetic]\nrows = 10\n',
    )
    path = tmp_path / "p.toml"
    # a top-level key goes to the commands that take it; a section to its command
    assert load_profile(path, IMPORT) == {"to": "null://", "batch_size": 7}
    assert load_profile(path, BENCH) == {
        "to": "null://",
        "sweep": "1,2",
        "batch_size": 9,
        "warmup": "1s",
        "synthetic": {"rows": 10},
    }
    config = build_bench_config(load_profile(path, BENCH))
    assert config.synthetic is not None and config.synthetic.rows == 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("bach_size = 3\n", r"unknown option\(s\): bach_size$"),
        ("[import]\nsweep = 3\n", r"unknown option\(s\) in \[import\]: sweep \(a bench option\)"),
        ("[bench]\nresume = true\n", r"in \[bench\]: resume \(a import option\)"),
        ("[bench]\nduraton = 3\n", r"in \[bench\]: duraton$"),
        ("bench = 3\n", r"\[bench\] must be a table"),
    ],
)
def test_profile_unknown_keys(write_file, tmp_path, content, message):
    write_file("p.toml", content)
    for command in (IMPORT, BENCH):  # a typo anywhere in the profile is reported
        with pytest.raises(UsageError, match=message):
            load_profile(tmp_path / "p.toml", command)


def test_profile_error_through_the_cli(run_cli, write_file):
    write_file("d.csv", "a\n1\n")
    write_file("p.toml", "[import]\nwarmup = '1s'\n")
    result = run_cli("import", "d.csv", "--config", "p.toml")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: p.toml: unknown option(s) in [import]: warmup (a bench option)"
    )


def test_import_takes_durations_and_environment(run_cli, write_file):
    write_file("d.csv", "a\n1\n2\n3\n")
    env = {"BULKLOAD_TIMEOUT": "1m", "BULKLOAD_BATCH_SIZE": "2", "BULKLOAD_QUIET": "1"}
    result = run_cli(
        "import", "d.csv", "--to", "null://", "--retry-max-wait", "10ms", "--json", "-", env=env
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["batches"] == 2


def test_bad_boolean_variable_is_named(run_cli, write_file):
    write_file("d.csv", "a\n1\n")
    result = run_cli("import", "d.csv", "--to", "null://", env={"BULKLOAD_WAL": "maybe"})
    assert result.code == 3
    assert result.error_line == "bulkload: error: --wal must be true or false, not 'maybe'"


def test_only_table_options_take_tables(write_file, tmp_path):
    write_file("p.toml", "[types]\na = 'int'\n[import.batch_size]\nx = 1\n")
    settings = load_profile(tmp_path / "p.toml", IMPORT)
    assert settings["types"] == {"a": "int"}
    with pytest.raises(UsageError, match=r"^--batch-size takes a value, not a table$"):
        build_import_config({"paths": ["d.csv"], **settings})


def test_a_fraction_is_not_a_whole_number():
    with pytest.raises(UsageError, match=r"^--batch-size must be a whole number, not 10\.5$"):
        build_import_config({"paths": ["d.csv"], "batch_size": 10.5})
    assert build_import_config({"paths": ["d.csv"], "batch_size": 10.0}).source.batch_size == 10
