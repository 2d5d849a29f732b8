"""The public surface is what __all__ lists, and every name in it exists."""

from __future__ import annotations

import asyncio
import gc
import importlib
import sqlite3
import subprocess
import sys
import threading
import warnings

import bulkload


def test_all_names_exist_once():
    assert len(set(bulkload.__all__)) == len(bulkload.__all__)
    for name in bulkload.__all__:
        assert hasattr(bulkload, name), name


def test_every_lazy_name_has_one_home():
    """``_HOME`` (where each name is imported from on first use) and ``__all__`` agree:
    the eager names are the functions named like a submodule, and the version."""
    eager = {"__version__", "load", "load_async", "bench", "bench_async"}
    assert set(bulkload._HOME) == set(bulkload.__all__) - eager
    for name, home in bulkload._HOME.items():
        assert getattr(bulkload, name) is getattr(importlib.import_module(home), name), name


def test_load_and_bench_stay_functions_after_their_modules_are_imported():
    """``bulkload.load`` and ``bulkload.bench`` share their names with a submodule and a
    subpackage: importing those (as the command line does) must not replace them."""
    script = (
        "import bulkload.load, bulkload.bench.run, bulkload.bench.sweep, bulkload\n"
        "print(callable(bulkload.load), callable(bulkload.bench))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.split() == ["True", "True"], proc.stderr


def test_library_load_without_the_cli(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    config = bulkload.build_import_config(
        {"paths": [str(csv)], "to": f"sqlite:///{tmp_path / 'o.db'}", "table": "d"}
    )
    stats = bulkload.load(config)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (2, 2, 0)
    assert stats.outcome == "completed"


def test_library_load_inside_a_running_event_loop(tmp_path):
    """As in a Jupyter notebook: load() called where a loop already runs."""
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(2500)))
    db = tmp_path / "o.db"
    config = bulkload.build_import_config(
        {"paths": [str(csv)], "to": f"sqlite:///{db}", "table": "d", "batch_size": 1000}
    )

    async def notebook_cell() -> bulkload.RunStats:
        return bulkload.load(config)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = asyncio.run(notebook_cell())
        gc.collect()  # a coroutine never awaited warns when it is collected
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert (stats.rows_read, stats.rows_loaded, stats.outcome) == (2500, 2500, "completed")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), sum(a) FROM d").fetchone() == (2500, 2500 * 2499 // 2)
    assert not [t for t in threading.enumerate() if t.name == "bulkload-load"]
