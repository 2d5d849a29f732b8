"""The public surface is what __all__ lists, and every name in it exists."""

from __future__ import annotations

import bulkload


def test_all_names_exist_once():
    assert len(set(bulkload.__all__)) == len(bulkload.__all__)
    for name in bulkload.__all__:
        assert hasattr(bulkload, name), name


def test_library_load_without_the_cli(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    config = bulkload.build_import_config(
        {"paths": [str(csv)], "to": f"sqlite:///{tmp_path / 'o.db'}", "table": "d"}
    )
    stats = bulkload.load(config)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_rejected) == (2, 2, 0)
    assert stats.outcome == "completed"
