"""What the in-target bookkeeping and the checkpoint file let a run do. Real targets:
SQLite files, the PostgreSQL server, the HTTP ingest server.

- A resume from the bookkeeping table alone (the checkpoint file deleted) with another
  --batch-size read the old keys against the new batches: rows loaded twice, exit 0.
  The keys record their batch size now, and another one is refused (exit 3).
- The same load run again with --checkpoint but without --resume: the SQL target skipped
  every batch it records while the run counted them loaded. A recorded earlier load
  (bookkeeping or file) is refused now, unless --if-exists replace/truncate starts over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.resume_targets import Target
from tests.servers.fixtures import ingest, ingest_process  # noqa: F401

ROWS = 3000
FIRST = 600


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(ROWS)))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_target(request: pytest.FixtureRequest) -> Target:
    return Target(request.param, request)


def _import(run_cli: Any, target: Target, *extra: str) -> Any:
    return run_cli(
        "import", "events.csv", *target.options, "--table", "events", "--progress", "off",
        "--checkpoint", "run.ckpt", *extra,
    )  # fmt: skip


def _first_run(run_cli: Any, target: Target) -> None:
    result = _import(run_cli, target, "--batch-size", "100", "--limit", str(FIRST))
    assert result.code == 0, result.stderr
    assert target.ids() == list(range(FIRST))


def test_resume_from_the_bookkeeping_alone_refuses_another_batch_size(
    run_cli: Any, source: Path, sql_target: Target, tmp_path: Path
) -> None:
    _first_run(run_cli, sql_target)
    (tmp_path / "run.ckpt").unlink()
    resumed = _import(run_cli, sql_target, "--batch-size", "500", "--resume")
    assert resumed.code == 3, resumed.stderr
    assert "--batch-size 100" in resumed.error_line
    assert "Traceback" not in resumed.stderr
    assert sql_target.ids() == list(range(FIRST))  # nothing written
    # with the recorded size it resumes exactly
    again = _import(run_cli, sql_target, "--batch-size", "100", "--resume", "--json", "r.json")
    assert again.code == 0, again.stderr
    assert sql_target.ids() == list(range(ROWS))
    summary = json.loads((tmp_path / "r.json").read_text())
    assert (summary["rows_read"], summary["rows_loaded"]) == (ROWS - FIRST, ROWS - FIRST)
    assert summary["rows_skipped"] == FIRST


def test_the_checkpoint_file_refuses_another_batch_size(
    run_cli: Any, source: Path, sql_target: Target
) -> None:
    _first_run(run_cli, sql_target)
    resumed = _import(run_cli, sql_target, "--batch-size", "500", "--resume")
    assert resumed.code == 3, resumed.stderr
    assert "--batch-size 100" in resumed.error_line
    assert sql_target.ids() == list(range(FIRST))


def test_bookkeeping_of_an_earlier_version_is_upgraded(
    run_cli: Any, source: Path, sql_target: Target
) -> None:
    """A bookkeeping table without the batch_size column (made before it existed) gets
    it; its old keys have no size and are taken as they are."""
    _first_run(run_cli, sql_target)
    sql_target.bookkeeping("ALTER TABLE {t} DROP COLUMN batch_size")
    resumed = _import(run_cli, sql_target, "--batch-size", "100", "--resume")
    assert resumed.code == 0, resumed.stderr
    assert sql_target.ids() == list(range(ROWS))
    sizes = sql_target.bookkeeping(
        "SELECT coalesce(batch_size, 0), count(*) FROM {t} GROUP BY 1 ORDER BY 1"
    )
    assert [tuple(row) for row in sizes] == [(0, FIRST // 100), (100, (ROWS - FIRST) // 100)]


def test_a_rerun_without_resume_is_refused_by_the_bookkeeping(
    run_cli: Any, source: Path, sql_target: Target, tmp_path: Path
) -> None:
    """The file gone, the target's bookkeeping records the earlier load: a run without
    --resume would have counted every recorded batch loaded while writing none."""
    _first_run(run_cli, sql_target)
    (tmp_path / "run.ckpt").unlink()
    rerun = _import(run_cli, sql_target, "--batch-size", "100")
    assert rerun.code == 3, rerun.stderr
    line = rerun.error_line
    assert "--resume" in line and "forget-checkpoints" in line
    assert sql_target.ids() == list(range(FIRST))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "http"])
def test_a_rerun_without_resume_is_refused_by_the_file(
    run_cli: Any, source: Path, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = Target(kind, request)
    _first_run(run_cli, target)
    before = (tmp_path / "run.ckpt").read_text()
    rerun = _import(run_cli, target, "--batch-size", "100")
    assert rerun.code == 3, rerun.stderr
    assert "run.ckpt" in rerun.error_line and "--resume" in rerun.error_line
    assert (tmp_path / "run.ckpt").read_text() == before  # the record is kept
    assert target.ids() == list(range(FIRST))


@pytest.mark.parametrize("mode", ["replace", "truncate"])
def test_replace_or_truncate_without_resume_starts_over(
    run_cli: Any, source: Path, sql_target: Target, tmp_path: Path, mode: str
) -> None:
    """The load starts over: the table emptied with its bookkeeping, the file rewritten,
    and the counts are the rows written."""
    _first_run(run_cli, sql_target)
    rerun = _import(
        run_cli, sql_target, "--batch-size", "100", "--if-exists", mode, "--json", "r.json"
    )
    assert rerun.code == 0, rerun.stderr
    assert sql_target.ids() == list(range(ROWS))
    summary = json.loads((tmp_path / "r.json").read_text())
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_skipped"]) == (
        ROWS,
        ROWS,
        0,
    )


def test_import_processes_check_the_bookkeeping_before_starting(
    run_cli: Any, source: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The workers of import --processes each open the target: the parent checks the
    bookkeeping once, before any starts (a worker would find the others' keys)."""
    target = Target("postgresql", request)
    first = _import(run_cli, target, "--batch-size", "100", "--processes", "2", "--limit", "600")
    assert first.code == 0, first.stderr
    assert target.ids() == list(range(FIRST))
    (tmp_path / "run.ckpt").unlink()
    rerun = _import(run_cli, target, "--batch-size", "100", "--processes", "2")
    assert rerun.code == 3, rerun.stderr
    assert "--resume" in rerun.error_line
    other = _import(run_cli, target, "--batch-size", "500", "--processes", "2", "--resume")
    assert other.code == 3, other.stderr
    assert "--batch-size 100" in other.error_line
    assert target.ids() == list(range(FIRST))
    resumed = _import(run_cli, target, "--batch-size", "100", "--processes", "2", "--resume")
    assert resumed.code == 0, resumed.stderr
    assert target.ids() == list(range(ROWS))


# the header line read as data after --no-header, passed over by --skip-rows 1
NO_HEADER = ("--no-header", "--columns", "id,v", "--skip-rows", "1")


def _first_run_no_header(run_cli: Any, target: Target, *extra: str) -> None:
    result = _import(run_cli, target, "--batch-size", "100", "--limit", str(FIRST), *NO_HEADER)
    assert result.code == 0, result.stderr
    assert target.ids() == list(range(FIRST))


def test_the_checkpoint_file_refuses_other_reading_options(
    run_cli: Any, source: Path, sql_target: Target
) -> None:
    """Batch n of a file read with --skip-rows 1 is not batch n read without it: a resume
    that cut the file another way passed rows over or loaded them twice."""
    _first_run_no_header(run_cli, sql_target)
    resumed = _import(run_cli, sql_target, "--batch-size", "100", "--resume")
    assert resumed.code == 3, resumed.stderr
    line = resumed.error_line
    assert "run.ckpt" in line and "--skip-rows" in line and "--columns" in line, line
    assert "Traceback" not in resumed.stderr
    assert sql_target.ids() == list(range(FIRST))  # nothing written
    # read the same way, it resumes exactly: each id once
    again = _import(run_cli, sql_target, "--batch-size", "100", "--resume", *NO_HEADER)
    assert again.code == 0, again.stderr
    assert sql_target.ids() == list(range(ROWS))


def test_the_bookkeeping_alone_refuses_other_reading_options(
    run_cli: Any, source: Path, sql_target: Target, tmp_path: Path
) -> None:
    _first_run_no_header(run_cli, sql_target)
    (tmp_path / "run.ckpt").unlink()
    other = ("--no-header", "--columns", "id,v", "--skip-rows", "2")
    resumed = _import(run_cli, sql_target, "--batch-size", "100", "--resume", *other)
    assert resumed.code == 3, resumed.stderr
    assert "other CSV options" in resumed.error_line
    assert sql_target.ids() == list(range(FIRST))
    again = _import(run_cli, sql_target, "--batch-size", "100", "--resume", *NO_HEADER)
    assert again.code == 0, again.stderr
    assert sql_target.ids() == list(range(ROWS))
