"""Option values are checked before anything runs, and the help says what options take."""

from __future__ import annotations

import re

import pytest

from bulkload.errors import UsageError
from bulkload.options import build_import_config
from tests.conftest import read_table


def test_no_arguments_prints_the_help(run_cli):
    result = run_cli()
    assert result.code == 0
    assert "Usage: bulkload" in result.stdout and "import" in result.stdout
    assert result.stderr == ""


def test_flags_show_no_value_placeholder_in_help(run_cli):
    for command in (("import",), ("forget-checkpoints",), ()):
        result = run_cli(*command, "--help")
        assert result.code == 0, command
        assert "<bool>" not in result.stdout, (command, result.stdout)
    text = run_cli("import", "--help").stdout
    # a flag's row goes straight from its name(s) to its help text
    assert re.search(r"--fail-fast\s+Abort on the first error", text), text
    assert re.search(r"--wal\s+--no-wal\s+SQLite: WAL journal", text), text
    assert re.search(r"--quiet\s+-q\s+No progress display", text), text
    # options that take a value still say so
    assert re.search(r"--rate\s+<float>", text), text


def test_to_help_lists_the_builtin_schemes(run_cli):
    text = " ".join(run_cli("import", "--help").stdout.split())
    for scheme in ("sqlite:///", "postgresql://", "postgres://", "null://", "sim://"):
        assert scheme in text, scheme


@pytest.mark.parametrize("option", ["--rate", "--max-batches-per-sec", "--max-bytes-per-sec"])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_rates_must_be_positive(run_cli, write_file, tmp_path, option, value):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", "sqlite:///o.db", option, value)
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: {option} must be greater than 0")
    assert "rows read" not in result.stdout  # refused before anything ran
    assert not (tmp_path / "o.db").exists()


def test_zero_waits_mean_zero():
    engine = build_import_config(
        {"paths": ["a.csv"], "retry_max_wait": 0, "breaker_cooldown": "0"}
    ).engine
    assert engine.retry_max_wait == 0
    assert engine.breaker_cooldown == 0
    defaults = build_import_config({"paths": ["a.csv"]}).engine
    assert (defaults.retry_max_wait, defaults.breaker_cooldown, defaults.timeout) == (5, 5, 120)
    assert build_import_config({"paths": ["a.csv"], "timeout": 0}).engine.timeout is None


@pytest.mark.parametrize("option", ["retry_max_wait", "breaker_cooldown", "timeout"])
def test_negative_or_non_finite_seconds_are_refused(option):
    for value in (-1, "nan", "inf"):
        with pytest.raises(UsageError, match=option.replace("_", "-")):
            build_import_config({"paths": ["a.csv"], option: value})


def test_bad_type_is_refused_before_anything_runs(run_cli, write_file, tmp_path):
    write_file("a.csv", "num,b\n1,x\n")
    for spec, reason in (
        ("num=varchar", "unknown type 'varchar'"),
        ("num=decimal(50,2)", "decimal precision must be 1..38"),
    ):
        result = run_cli("import", "a.csv", "--to", "sqlite:///o.db", "--type", spec)
        assert result.code == 3, spec
        assert result.error_line.startswith(f"bulkload: error: --type {spec}: {reason}")
        assert result.stdout == "", result.stdout  # no empty summary before the error
        assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "o.db").exists()


def test_good_types_still_apply(run_cli, write_file, tmp_path):
    write_file("a.csv", "num,price\n1,2.50\n")
    result = run_cli(
        "import", "a.csv", "--to", "sqlite:///o.db", "-q", "--type", "num=text,price=decimal(9,2)"
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "a") == [("1", "2.50")]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://u:pw5ecret@127.0.0.1:99999/test", "Port out of range 0-65535"),
        ("postgresql://u:pw5ecret@127.0.0.1:abc/test", "Port could not be cast"),
        ("postgresql://u:pw5ecret@[::1/test", "Invalid IPv6 URL"),
    ],
)
def test_malformed_target_url_is_bad_usage_without_its_password(run_cli, write_file, url, reason):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", url, "--json", "s.json")
    assert result.code == 3  # was exit 2, "internal error: OverflowError/ValueError"
    assert result.error_line.startswith("bulkload: error: --to: invalid URL ")
    assert reason in result.error_line
    assert "pw5ecret" not in result.stderr
