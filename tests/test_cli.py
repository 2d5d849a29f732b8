"""The CLI end to end: the JSON summary, output modes, profiles, environment, commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bulkload.cli.views import import_progress as progress
from tests.conftest import read_table

CSV = "id,name,score\n" + "".join(f"{i},n{i},{i * 0.5}\n" for i in range(1, 101))


def test_json_summary_file(run_cli, write_file, tmp_path: Path):
    write_file("d.csv", CSV)
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        "sqlite:///o.db",
        "--batch-size",
        "30",
        "-c",
        "4",
        "--json",
        "out.json",
        "-q",
    )
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["outcome"] == "completed"
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (100, 100, 0)
    assert summary["batches"] == 4
    assert summary["batch_size"] == 30 and summary["concurrency"] == 4
    assert summary["effective_concurrency"] == 1  # SQLite takes one writer
    assert summary["bytes_read"] == len(CSV.encode())
    assert summary["target"] == "sqlite:///o.db" and summary["table"] == "d"
    assert summary["elapsed_s"] > 0 and summary["rows_per_s"] > 0
    latency = summary["latency_ms"]
    assert set(latency) == {"p50", "p90", "p99", "p999", "max", "mean", "stdev"}
    assert (
        0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p999"] <= latency["max"]
    )
    assert summary["latency_samples"] == 4


def test_json_to_stdout_keeps_the_summary_on_stderr(run_cli, write_file):
    write_file("d.csv", CSV)
    result = run_cli("import", "d.csv", "--to", "null://", "--json", "-", "-q")
    assert result.code == 0
    assert json.loads(result.stdout)["rows_loaded"] == 100
    assert "rows loaded" in result.stderr


def test_a_real_process_reads_stdin_and_exits_with_its_code(run_cli_subprocess, tmp_path: Path):
    # run_cli runs in-process; once, the whole way: python -m bulkload, pipes, exit status
    result = run_cli_subprocess(
        "import",
        "-",
        "--table",
        "t",
        "--to",
        "sqlite:///o.db",
        "--type",
        "n=int",
        "--json",
        "-",
        "-q",
        stdin=b"n\n1\n2\nx\n",
    )
    assert result.code == 1, result.stderr  # one row rejected
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (3, 2, 1)
    assert read_table(tmp_path / "o.db", "t") == [(1,), (2,)]


def test_human_summary(run_cli, write_file):
    write_file("d.csv", CSV)
    result = run_cli("import", "d.csv", "--to", "sqlite:///o.db", "--batch-size", "10", "-q")
    assert result.code == 0
    out = result.stdout
    assert "bulkload import → sqlite:///o.db  table d  (completed)" in out
    assert "read = loaded + rejected: 100 = 100 + 0 ✓" in out
    assert "batch write latency (ms):" in out and "p50" in out and "p99.9" in out
    assert "█" in out  # the latency histogram


def test_plain_progress_lines_when_not_a_terminal(run_cli, write_file, monkeypatch):
    write_file("d.csv", CSV)
    # a line every 50 ms instead of 5 s, for a run of ~0.5 s (10 writes of 50 ms)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.05)
    result = run_cli(
        "import",
        "d.csv",
        *("--to", "sim://?latency=50ms", "--batch-size", "10", "-c", "1"),
        env={"NO_COLOR": ""},  # colour allowed: a pipe must still get plain text
    )
    assert result.code == 0, result.stderr
    # progress goes to stderr; in a pipe it is plain lines, never terminal control codes
    status = [line for line in result.stderr.splitlines() if " rows/s  " in line]
    assert len(status) >= 3, result.stderr
    assert all(re.match(r"^[\d,]+ rows  [\d,]+ rows/s  ", line) for line in status), status
    assert "\x1b[" not in result.stderr and "\r" not in result.stderr


def test_config_profile_and_precedence(run_cli, write_file, tmp_path: Path):
    write_file("d.csv", CSV)
    write_file(
        "p.toml",
        'to = "sqlite:///from_profile.db"\n[import]\ntable = "from_profile"\nbatch_size = 10\n'
        'quiet = true\n[import.types]\nscore = "string"\n',
    )
    result = run_cli("import", "d.csv", "--config", "p.toml", "--json", "-")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["batches"] == 10 and summary["table"] == "from_profile"
    assert read_table(tmp_path / "from_profile.db", "from_profile")[0] == (1, "n1", "0.5")
    # environment beats the profile; a flag beats both
    env = {"BULKLOAD_BATCH_SIZE": "25"}
    result = run_cli("import", "d.csv", "--config", "p.toml", "--json", "-", env=env)
    assert json.loads(result.stdout)["batches"] == 4
    result = run_cli(
        "import", "d.csv", "--config", "p.toml", "--batch-size", "50", "--json", "-", env=env
    )
    assert json.loads(result.stdout)["batches"] == 2


def test_bad_profile(run_cli, write_file):
    write_file("d.csv", CSV)
    write_file("bad.toml", "batch_size = \n")
    assert run_cli("import", "d.csv", "--config", "bad.toml").code == 3
    write_file("typo.toml", "bach_size = 3\n")
    result = run_cli("import", "d.csv", "--config", "typo.toml")
    assert result.code == 3 and "bach_size" in result.error_line
    assert run_cli("import", "d.csv", "--config", "missing.toml").code == 3


def test_shipped_profiles_work(run_cli, write_file, tmp_path: Path):
    root = Path(__file__).resolve().parents[1]
    sample = root / "sample-data" / "orders.csv"
    for name in ("sqlite", "null", "sim"):
        profile = root / "configs" / f"{name}.toml"
        extra = ["--to", "sqlite:///o.db"] if name == "sqlite" else []
        result = run_cli("import", str(sample), "--config", str(profile), *extra)
        assert result.code == 0, (name, result.stderr + result.stdout)


def test_shipped_postgres_profile_works(pg, run_cli):
    dsn, schema, sql = pg
    root = Path(__file__).resolve().parents[1]
    result = run_cli(
        "import",
        str(root / "sample-data" / "orders.csv"),
        "--config",
        str(root / "configs" / "postgres.toml"),
        "--to",
        dsn,
        "--schema-name",
        schema,
    )
    assert result.code == 0, result.stderr + result.stdout
    assert sql(f'SELECT count(*) FROM "{schema}".orders')[0][0] == 1000


def test_backends_command_lists_builtins(run_cli):
    result = run_cli("backends")
    assert result.code == 0
    assert "sqlite://" in result.stdout and "null://" in result.stdout


def test_version_and_help(run_cli):
    assert run_cli("--version").stdout.startswith("bulkload ")
    result = run_cli("import", "--help")
    assert result.code == 0 and "--concurrency" in result.stdout and "--if-exists" in result.stdout


def test_console_script_is_installed():
    import shutil
    import subprocess
    import sys

    script = Path(sys.executable).parent / "bulkload"
    assert script.exists() or shutil.which("bulkload")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("bulkload ")
