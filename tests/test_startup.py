"""Start-up: ``bulkload --version`` and ``--help`` import neither the data stack (pyarrow,
numpy, polars), the drivers, asyncio nor pydantic; a run imports them when it needs them.

Measured in a fresh interpreter by the modules it imported, not by a clock: a loaded
machine slows every import alike, and the list says which import came back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("pyarrow", "numpy", "polars", "asyncpg", "pgpq", "adbc_driver_sqlite", "hdrh")
HEAVY += ("asyncio", "pydantic", "httpx", "tomllib", "uvloop")


def _imported_after(*argv: str, cwd=None, modules=HEAVY) -> tuple[int, list[str]]:
    """Run the CLI with ``argv`` in a fresh interpreter; the exit code, and which of
    ``modules`` were imported by then."""
    script = (
        "import json, sys\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit_:\n"
        "    code = exit_.code\n"
        f"heavy = [m for m in {tuple(modules)!r} if m in sys.modules]\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    code, heavy = json.loads(proc.stderr.strip().splitlines()[-1])
    return code, heavy


@pytest.mark.parametrize(
    "argv",
    [("--version",), ("--help",), (), ("import", "--help"), ("bench", "--help")],
)
def test_version_and_help_import_nothing_heavy(argv):
    code, heavy = _imported_after(*argv)
    assert code == 0
    assert heavy == []


def test_version_is_answered_before_typer_and_the_config_models():
    """``bulkload --version`` as the console script runs it: the answer comes before typer,
    rich and the option models are imported (they were ~60 ms of a ~100 ms start-up)."""
    script = (
        "import json, sys\n"
        "sys.argv[1:] = ['--version']\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit_:\n"
        "    code = exit_.code\n"
        "loaded = [m for m in ('typer', 'rich', 'bulkload.config', 'bulkload.cli.root')\n"
        "          if m in sys.modules]\n"
        "print(json.dumps([code, loaded]), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    code, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert (code, loaded) == (0, [])
    from bulkload import __version__

    assert proc.stdout == f"bulkload {__version__}\n"


def test_a_one_row_import_loads_no_backend_it_does_not_use(tmp_path):
    """A one-row CSV import into null:// imports neither another backend, their drivers,
    nor the compression and HTTP libraries the input does not need: they are imported
    by the runs that use them. Nor pyarrow.compute (40-70 ms): type inference and
    conversion call its kernels by name (bulkload.arrow_kernels). Nor numpy.ctypeslib
    (histograms view hdrh's counts by the buffer protocol), rich's emoji table and live
    display, the metrics server, nor pandas (installed with the dev extra)."""
    (tmp_path / "d.csv").write_text("a,b,c\n1,007,true\n")
    names = (
        "bulkload.backends.sqlite", "bulkload.backends.postgresql", "bulkload.backends.http",
        "bulkload.backends.sql", "sqlite3", "asyncpg", "httpx", "zstandard", "aiofiles",
        "pyarrow.compute", "pydantic", "numpy.ctypeslib", "rich._emoji_codes",
        "bulkload.stats.analysis", "bulkload.stats.usl", "bulkload.bench.sweep",
        "rich.live", "bulkload.report.prometheus",  # a terminal's progress, --metrics-addr
        "pandas",  # 0.3 s: pyarrow imports it, when installed, for pa.array([]) and kin
    )  # fmt: skip
    argv = ("import", "d.csv", "--to", "null://", "--quiet")
    code, loaded = _imported_after(*argv, cwd=tmp_path, modules=names)
    assert code == 0
    assert loaded == []


def test_a_one_row_import_into_sqlite_loads_neither_the_query_module_nor_resources(tmp_path):
    """Into SQLite, a load imports neither Python's sqlite3 module (only runs that query
    use it) nor importlib.resources (the driver's own lookup of the library its wheel
    bundles): 10-20 ms before the first row between them."""
    (tmp_path / "d.csv").write_text("a,b,c\n1,007,true\n")
    argv = ("import", "d.csv", "--to", "sqlite:///d.db", "--quiet")
    code, loaded = _imported_after(
        *argv, cwd=tmp_path, modules=("adbc_driver_sqlite", "sqlite3", "importlib.resources")
    )
    assert code == 0
    assert loaded == ["adbc_driver_sqlite"]  # the import did run into SQLite


def test_a_bad_option_is_refused_before_the_data_stack_is_imported(tmp_path):
    (tmp_path / "d.csv").write_text("a\n1\n")
    code, heavy = _imported_after("import", "d.csv", "--batch-size", "0", cwd=tmp_path)
    assert code == 3
    assert heavy == []


def test_the_package_imports_its_api_on_first_use():
    script = (
        "import sys, bulkload\n"
        "before = 'pyarrow' in sys.modules\n"
        "bulkload.RunStats, bulkload.create_backend, bulkload.AsyncLoader\n"
        "print(before, 'pyarrow' in sys.modules, bulkload.load.__module__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split() == ["False", "True", "bulkload.library"], proc.stderr


def test_report_merge_loads_neither_the_data_stack_nor_the_backends(tmp_path):
    """Merging two saved JSON results is arithmetic on histograms: the recommendation it
    re-runs lives below the sweep, so neither pyarrow nor a backend is imported."""
    from tests.bench.test_shards import shard_result

    for index, window in ((1, (100.0, 110.0)), (2, (100.2, 110.1))):
        document = shard_result(index, 2, window).to_dict()
        (tmp_path / f"s{index}.json").write_text(json.dumps(document))
    code, loaded = _imported_after(
        "report", "merge", "s1.json", "s2.json", "-o", "all.json", cwd=tmp_path,
        modules=("pyarrow", "bulkload.backends.base", "bulkload.bench.sweep"),
    )  # fmt: skip
    assert code == 0
    assert loaded == []
    assert json.loads((tmp_path / "all.json").read_text())["merged_shards"]["merged"] == [1, 2]


def test_an_import_into_sqlite_converts_without_pyarrow_compute(tmp_path):
    """Dates and timestamps become SQLite's text through the kernels called by name: the
    SQLite path does not pay pyarrow.compute's 40-70 ms import before its first row."""
    (tmp_path / "d.csv").write_text("id,d,ts\n1,2024-01-02,2024-01-02 03:04:05.5\n")
    argv = ("import", "d.csv", "--to", "sqlite:///d.db", "--quiet")
    code, loaded = _imported_after(*argv, cwd=tmp_path, modules=("pyarrow.compute",))
    assert (code, loaded) == (0, [])
    import sqlite3

    with sqlite3.connect(tmp_path / "d.db") as conn:
        rows = conn.execute("SELECT id, d, ts FROM d").fetchall()
    assert rows == [(1, "2024-01-02", "2024-01-02 03:04:05.500000")]


def test_the_console_script_starts_without_the_collector_and_runs_with_it(tmp_path):
    """The console script imports with the cyclic collector off (what start-up imports
    lives until exit: walking it over and over was ~5% of a one-row import's CPU); the
    run itself has it on, with start-up's objects frozen out of its way."""
    (tmp_path / "d.csv").write_text("a\n1\n")
    script = (
        "import atexit, gc, sys\n"
        "sys.argv[1:] = ['import', 'd.csv', '--to', 'null://', '--quiet']\n"
        "import bulkload.cli.signals as signals, bulkload.event_loop as loop\n"
        "seen = []\n"
        "stoppable, run = signals.run_stoppable, loop.run\n"
        "def run_stoppable(*a, **k):\n"
        "    seen.append(('starting', gc.isenabled()))\n"
        "    return stoppable(*a, **k)\n"
        "def run_loop(coro):\n"
        "    seen.append(('running', gc.isenabled(), gc.get_freeze_count() > 10000))\n"
        "    return run(coro)\n"
        "signals.run_stoppable, loop.run = run_stoppable, run_loop\n"
        "atexit.register(lambda: print(seen, file=sys.stderr))\n"
        "from bulkload.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    seen = proc.stderr.strip().splitlines()[-1]
    assert seen == "[('starting', False), ('running', True, True)]"


@pytest.mark.parametrize(("preset", "expected"), [(None, "0"), ("1", "1")])
def test_the_cli_commits_pyarrows_allocator_arenas_on_demand(preset, expected):
    """Before pyarrow is loaded, the CLI asks its allocator (mimalloc) not to commit whole
    arenas up front (huge pages zeroed at each first touch: ~0.1 s of system CPU per 1M
    rows into SQLite). pyarrow's own pool reads the setting as it starts; a value the user
    set wins."""
    script = (
        "import os, sys\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main(['import', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(os.environ.get('MIMALLOC_ARENA_EAGER_COMMIT'), 'pyarrow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_ARENA_EAGER_COMMIT"}
    if preset is not None:
        env["MIMALLOC_ARENA_EAGER_COMMIT"] = preset
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.stdout.split()[-2:] == [expected, "False"], proc.stderr
