"""Errors that used to send users the wrong way: a Parquet file read as CSV (pointed at
--encoding or ragged rows) and --profile (pointed at --processes/--progress). One line
each, naming what to do, exit 3, through the real CLI with real files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import RunCli


def parquet_file(path: Path) -> Path:
    table = pa.table({"id": list(range(500)), "name": [f"naïve {i} ø" for i in range(500)]})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("events.parquet", "use --format parquet (or drop --format)"),
        ("events.csv", "use --format parquet"),  # --format is not what named it CSV here
    ],
)
def test_a_parquet_file_read_as_csv_is_named_parquet(
    run_cli: RunCli, tmp_path: Path, name: str, advice: str
):
    parquet_file(tmp_path / name)
    given = ("--format", "csv") if name.endswith(".parquet") else ()
    result = run_cli("import", name, *given, "--to", "sqlite:///out.db", "-q")
    assert result.code == 3, result.stderr
    assert result.error_line == (
        f"bulkload: error: {name}: the file looks like Parquet (it starts with PAR1), "
        f"not CSV: {advice}"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("given", [("--profile", "fast"), ("--profile=fast",)])
@pytest.mark.parametrize("command", ["import", "bench"])
def test_profile_points_to_config(run_cli: RunCli, command: str, given: tuple[str, ...]):
    result = run_cli(command, "--to", "sim://", *given)
    assert result.code == 3, result.stderr
    assert result.error_line == (
        "bulkload: error: No such option: --profile: a profile is a TOML file, given with "
        "--config FILE (see --help)"
    )


def test_other_unknown_options_keep_clicks_suggestions(run_cli: RunCli):
    result = run_cli("import", "--to", "sim://", "--progres", "off")
    assert result.code == 3
    assert result.error_line.startswith("bulkload: error: No such option: --progres (Possible")
    assert "--progress" in result.error_line
