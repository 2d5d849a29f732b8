"""create_backend: a backend whose module fails to import is named, with what is missing
(it used to be reported as an unknown scheme)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bulkload
from bulkload.config import TargetOptions
from tests.conftest import RunCli

ENTRY_POINTS = "[bulkload.backends]\nbroken = broken_backend:BrokenBackend\n"


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Path:
    """An installed distribution whose backend imports a module that is not there."""
    site = tmp_path / "site"
    info = site / "bulkload_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bulkload-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "broken_backend.py").write_text("import no_such_driver_module\n")
    return site


def test_a_backend_that_cannot_be_imported_is_named(
    broken_plugin: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(broken_plugin))
    with pytest.raises(bulkload.UsageError) as raised:
        bulkload.create_backend(TargetOptions(url="broken://somewhere"))
    message = str(raised.value)
    assert "unknown scheme" not in message
    assert "'broken' backend cannot be loaded" in message
    assert "'no_such_driver_module' is missing" in message
    assert "bulkload-broken" in message


def test_the_cli_says_so_in_one_line(broken_plugin: Path, run_cli_subprocess: RunCli, write_file):
    write_file("d.csv", "a\n1\n")
    # PYTHONPATH reaches only a fresh interpreter: a process of its own
    result = run_cli_subprocess(
        "import", "d.csv", "--to", "broken://somewhere", env={"PYTHONPATH": str(broken_plugin)}
    )
    assert result.code == 3
    assert "'no_such_driver_module' is missing" in result.error_line
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_built_in_table_is_what_pyproject_registers():
    # create_backend finds the shipped backends in BUILT_IN without scanning the entry
    # points; the two must not drift apart
    from importlib.metadata import entry_points

    from bulkload.backends import BUILT_IN

    registered = {}
    for ep in entry_points(group="bulkload.backends"):
        if ep.dist is not None and ep.dist.name == "bulkload":
            for scheme in ep.load().schemes:
                registered[scheme] = ep.value
    assert registered == BUILT_IN


def test_a_built_in_backend_whose_driver_is_missing_is_named(monkeypatch: pytest.MonkeyPatch):
    import sys

    monkeypatch.delitem(sys.modules, "bulkload.backends.postgresql", raising=False)
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if it were not installed
    with pytest.raises(bulkload.UsageError) as raised:
        bulkload.create_backend(TargetOptions(url="postgresql://127.0.0.1/db"))
    message = str(raised.value)
    assert "'postgresql' backend cannot be loaded" in message
    assert "'asyncpg' is missing" in message and "reinstall bulkload" in message


def test_a_csv_run_into_a_built_in_backend_imports_only_what_it_needs(write_file, tmp_path: Path):
    # neither importlib.metadata (the entry points' scan) nor pyarrow.parquet: start-up
    import subprocess
    import sys

    write_file("d.csv", "a\n1\n")
    code = (
        "import sys\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main(['import', 'd.csv', '--to', 'null://', '-q'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('importlib.metadata', 'pyarrow.parquet') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


PLUGIN = """
from bulkload.config.option import Option, panel
from bulkload.config.parse import whole


class StoreBackend:
    schemes = ("mystore",)
    max_concurrency = None
    own_options = panel(
        "MyStore",
        None,
        Option(name="store_shards", flags=("--store-shards",), parse=whole(minimum=1),
               help="MyStore: shards to spread the rows over."),
    )
"""


def test_an_installed_backend_declares_its_own_options_and_backends_lists_them(
    tmp_path: Path, run_cli_subprocess: RunCli
):
    site = tmp_path / "site"
    info = site / "bulkload_mystore-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bulkload-mystore\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bulkload.backends]\nmystore = store:StoreBackend\n")
    (site / "store.py").write_text(PLUGIN)
    result = run_cli_subprocess("backends", env={"PYTHONPATH": str(site), "COLUMNS": "300"})
    assert result.code == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("mystore")]
    assert "mystore://" in line and "bulkload-mystore" in line
    assert "options: --store-shards" in result.stdout
    # declared without a model to fill, they cannot reach it: the command line refuses them
    assert "options refused: its options must fill one model" in result.stdout
