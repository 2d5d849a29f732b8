"""The JSON summary and the bad-records file: written whatever ends the run, never left
truncated, and a failure to write them is one line naming the file.

Full disks are real, not mocked: ``/dev/full`` where a path can be named, else the
``file_size_limit`` of run_cli (RLIMIT_FSIZE with SIGXFSZ ignored), under which a write
past the limit fails with a real OSError (EFBIG), like ENOSPC on a full disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_table

# JSON summaries are over 1 kB; this leaves room for nothing else bulkload writes with
# the null:// target, which writes nothing.
SMALL_FILE_LIMIT = 600

requires_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")


def _hidden_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".") and "tmp" in p.name]


def test_json_summary_is_replaced_atomically_and_a_full_disk_is_one_line(
    run_cli, write_file, tmp_path: Path
):
    write_file("a.csv", "x\n1\n2\n3\n")
    previous = write_file("s.json", '{"previous": "run"}\n')
    result = run_cli(
        "import", "a.csv", "--to", "null://", "--json", "s.json", "-q",
        file_size_limit=SMALL_FILE_LIMIT,
    )  # fmt: skip
    assert result.code == 2
    assert result.error_line == (
        "bulkload: error: --json: cannot write s.json: File too large; "
        "the import itself finished (completed): 3 rows loaded, 0 rejected"
    )
    assert previous.read_text() == '{"previous": "run"}\n'  # not truncated, not half-written
    assert _hidden_leftovers(tmp_path) == []
    assert "rows loaded    3" in result.stdout  # the human summary came first


@requires_dev_full
def test_json_to_a_device_is_written_in_place(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", "sqlite:///o.db", "--json", "/dev/full", "-q")
    assert result.code == 2
    assert result.error_line.startswith(
        "bulkload: error: --json: cannot write /dev/full: No space left on device; "
        "the import itself finished (completed): 1 rows loaded"
    )
    assert read_table(tmp_path / "o.db", "a") == [(1,)]


@requires_dev_full
def test_a_bench_result_that_cannot_be_saved_is_one_line(run_cli):
    result = run_cli(
        "bench", "--synthetic", "rows=2000,columns=3", "--to", "null://", "--sweep", "1",
        "--processes", "1", "--warmup", "0s", "--duration", "0.2s", "--json", "/dev/full",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert result.error_line == (
        "bulkload: error: --json: cannot write /dev/full: No space left on device"
    )
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "recommended:" in result.stdout  # the sweep was shown first


def test_json_that_cannot_be_written_is_refused_before_loading(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    (tmp_path / "adir").mkdir()
    for path, reason in (("nodir/s.json", "No such file or directory"), ("adir", "is a directory")):
        result = run_cli("import", "a.csv", "--to", "sqlite:///o.db", "--json", path)
        assert result.code == 3, path
        assert path in result.error_line and reason in result.error_line, result.error_line
        assert not (tmp_path / "o.db").exists()  # nothing was loaded


@requires_dev_full
def test_full_disk_under_the_bad_records_file_names_it(run_cli, write_file):
    write_file("n.csv", "n\n1\nx\n3\n")
    result = run_cli(
        "import", "n.csv", "--type", "n=int", "--to", "null://", "--bad-records", "/dev/full",
        "--json", "s.json", "-q",
    )  # fmt: skip
    assert result.code == 2
    assert result.error_line == (
        "bulkload: error: --bad-records: cannot write /dev/full: No space left on device"
    )


def test_bad_records_past_the_file_size_limit(run_cli, write_file, tmp_path: Path):
    write_file("n.csv", "n\n" + "".join(f"not-a-number-{i}\n" for i in range(100)))
    result = run_cli(
        "import", "n.csv", "--type", "n=int", "--to", "null://", "--bad-records", "bad.csv",
        "-q", file_size_limit=SMALL_FILE_LIMIT,
    )  # fmt: skip
    assert result.code == 2
    assert result.error_line == (
        "bulkload: error: --bad-records: cannot write bad.csv: File too large"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "empty.csv: file is empty"),
        ("h.csv", "a,b\n", "h.csv: has a header but no data rows"),
        ("emptydir", None, "emptydir: directory holds no CSV or Parquet files"),
    ],
)
def test_every_run_writes_its_json(run_cli, write_file, tmp_path: Path, name, content, message):
    if content is None:
        (tmp_path / name).mkdir()
    else:
        write_file(name, content)
    result = run_cli("import", name, "--to", "sqlite:///o.db", "--json", "s.json")
    assert result.code == 3
    assert result.error_line == f"bulkload: error: {message}"
    assert result.stdout == ""  # no summary of nothing
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["outcome"] == "failed"
    assert summary["error"] == message
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (0, 0, 0)


def test_json_error_of_an_unreachable_target_keeps_the_password_out(
    run_cli, write_file, tmp_path: Path
):
    write_file("a.csv", "x\n1\n")
    url = "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/test"  # nothing listens on port 1
    result = run_cli("import", "a.csv", "--to", url, "--json", "s.json")
    assert result.code == 5
    text = (tmp_path / "s.json").read_text()
    assert "s3cr3t-pw" not in text and "s3cr3t-pw" not in result.stderr
    summary = json.loads(text)
    assert summary["outcome"] == "failed"
    assert summary["error"].startswith("postgresql://postgres:***@127.0.0.1:1/test: ")


def test_completed_run_has_no_error_in_its_json(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", "null://", "--json", "s.json", "-q")
    assert result.code == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["outcome"], summary["error"], summary["rows_loaded"]) == ("completed", None, 1)


def test_json_through_a_symlink_replaces_the_file_it_points_to(run_cli, write_file, tmp_path: Path):
    write_file("a.csv", "x\n1\n")
    real = write_file("reports/latest.json", "{}\n")
    (tmp_path / "s.json").symlink_to(real)
    result = run_cli("import", "a.csv", "--to", "null://", "--json", "s.json", "-q")
    assert result.code == 0
    assert (tmp_path / "s.json").is_symlink()
    assert json.loads(real.read_text())["rows_loaded"] == 1
