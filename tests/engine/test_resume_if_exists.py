"""--resume with every --if-exists: a resumed run never drops what the run it resumes
loaded. Real targets: SQLite files, the PostgreSQL server, the HTTP ingest server (its
ClickHouse API, which honours --if-exists).

The first run stops part-way by --limit (a run interrupted between two batches leaves
the same record); the resumed run is the same command without it. Its --if-exists is
the one the first run had: replace and truncate emptied a table the first run had
filled with stale rows, so those rows are gone and the source's are there once each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.resume_targets import Target
from tests.servers.fixtures import ingest, ingest_process  # noqa: F401

ROWS = 2000
FIRST = 600  # rows the first run loads
STALE = 7  # rows the table held before the first run (ids from 100000)
MODES = ("append", "replace", "truncate", "fail")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(ROWS)))
    (tmp_path / "stale.csv").write_text(
        "id,v\n" + "".join(f"{100000 + i},old\n" for i in range(STALE))
    )
    return path


@pytest.fixture(params=["sqlite", "postgresql", "http"])
def target(request: pytest.FixtureRequest) -> Target:
    return Target(request.param, request)


def _import(run_cli: Any, target: Target, name: str, *extra: str) -> Any:
    return run_cli(
        "import", name, *target.options, "--table", "events", "--batch-size", "100",
        "--progress", "off", *extra,
    )  # fmt: skip


def _first_run(run_cli: Any, target: Target, mode: str) -> None:
    """Stale rows in the table, then the first run of the load: FIRST rows, recorded."""
    assert _import(run_cli, target, "stale.csv").code == 0
    first = "append" if mode == "fail" else mode  # fail: the table must not exist yet
    if mode == "fail":
        target.drop()
    result = _import(
        run_cli, target, "events.csv", "--if-exists", first, "--checkpoint", "run.ckpt",
        "--limit", str(FIRST),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    kept = [100000 + i for i in range(STALE)] if mode == "append" else []
    assert target.ids() == sorted([*range(FIRST), *kept])


def _expected(mode: str) -> list[int]:
    kept = [100000 + i for i in range(STALE)] if mode == "append" else []
    return sorted([*range(ROWS), *kept])


@pytest.mark.parametrize("mode", MODES)
def test_a_resumed_run_keeps_what_the_first_run_loaded(
    run_cli: Any, source: Path, target: Target, mode: str, tmp_path: Path
) -> None:
    """The checkpoint file records FIRST rows: --if-exists applied to the first run only,
    the resumed one appends the rest (replace/truncate once emptied the table of the rows
    it then skipped: rows lost, exit 0; fail refused the table the first run made)."""
    _first_run(run_cli, target, mode)
    resumed = _import(
        run_cli, target, "events.csv", "--if-exists", mode, "--checkpoint", "run.ckpt",
        "--resume", "--json", "r.json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.stderr
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["outcome"] == "completed"
    assert (summary["rows_skipped"], summary["rows_loaded"]) == (FIRST, ROWS - FIRST)
    assert target.ids() == _expected(mode)  # every row once, none lost


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_bookkeeping_table_alone_resumes_or_the_load_starts_over(
    run_cli: Any, source: Path, kind: str, mode: str, request: pytest.FixtureRequest
) -> None:
    """The checkpoint file is gone (a kill -9 before its first save): only the target's
    bookkeeping table knows. append resumes from it; replace and truncate apply (no
    progress is recorded where the run looks first) and empty the table together with
    its bookkeeping, so the load starts over, every row once; fail refuses the table."""
    target = Target(kind, request)
    _first_run(run_cli, target, mode)
    Path(request.getfixturevalue("tmp_path"), "run.ckpt").unlink()
    resumed = _import(
        run_cli, target, "events.csv", "--if-exists", mode, "--checkpoint", "run.ckpt",
        "--resume",
    )  # fmt: skip
    if mode == "fail":
        assert resumed.code == 5 and "already exists (--if-exists fail)" in resumed.stderr
        assert target.ids() == list(range(FIRST))
        return
    assert resumed.code == 0, resumed.stderr
    assert target.ids() == _expected(mode)


@pytest.mark.parametrize("mode", ["replace", "truncate"])
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_checkpoint_file_behind_the_bookkeeping_still_keeps_every_row(
    run_cli: Any, source: Path, kind: str, mode: str, request: pytest.FixtureRequest
) -> None:
    """The file was saved after 300 rows, the bookkeeping table holds all FIRST: the
    file's progress makes the resumed run append, the table's skips the rest exactly."""
    tmp_path = Path(request.getfixturevalue("tmp_path"))
    target = Target(kind, request)
    assert _import(run_cli, target, "stale.csv").code == 0
    common = ("--if-exists", mode, "--checkpoint", "run.ckpt")
    assert _import(run_cli, target, "events.csv", *common, "--limit", "300").code == 0
    behind = (tmp_path / "run.ckpt").read_text()
    result = _import(run_cli, target, "events.csv", *common, "--resume", "--limit", str(FIRST))
    assert result.code == 0, result.stderr
    (tmp_path / "run.ckpt").write_text(behind)
    resumed = _import(run_cli, target, "events.csv", *common, "--resume", "--json", "r.json")
    assert resumed.code == 0, resumed.stderr
    assert json.loads((tmp_path / "r.json").read_text())["rows_skipped"] == FIRST
    assert target.ids() == list(range(ROWS))


def test_without_progress_a_resumed_run_still_replaces(
    run_cli: Any, source: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A checkpoint with nothing committed yet (the first run failed before its first
    batch): nothing is skipped, so --if-exists replace applies."""
    target = Target("sqlite", request)
    assert _import(run_cli, target, "stale.csv").code == 0
    (tmp_path / "run.ckpt").write_text(
        json.dumps({"version": 1, "table": "events", "batch_size": 100, "sources": {}})
    )
    resumed = _import(
        run_cli, target, "events.csv", "--if-exists", "replace", "--checkpoint", "run.ckpt",
        "--resume",
    )  # fmt: skip
    assert resumed.code == 0, resumed.stderr
    assert target.ids() == list(range(ROWS))


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_table_made_anew_is_not_skipped_by_an_earlier_loads_bookkeeping(
    run_cli: Any, source: Path, kind: str, resume: bool, request: pytest.FixtureRequest
) -> None:
    """A load with --checkpoint, then the table dropped by hand: the bookkeeping table
    still held the keys of the rows that went with it, so the next load (started anew,
    or resumed from its own fresh record) took every batch for one already committed,
    created an empty table and reported every row loaded, exit 0."""
    tmp_path = Path(request.getfixturevalue("tmp_path"))
    target = Target(kind, request)
    assert _import(run_cli, target, "events.csv", "--checkpoint", "old.ckpt").code == 0
    target.drop()
    again = _import(
        run_cli, target, "events.csv", "--checkpoint", "run.ckpt", "--json", "r.json",
        *(("--resume",) if resume else ()),
    )  # fmt: skip
    assert again.code == 0, again.stderr
    assert json.loads((tmp_path / "r.json").read_text())["rows_loaded"] == ROWS
    assert target.ids() == list(range(ROWS))
