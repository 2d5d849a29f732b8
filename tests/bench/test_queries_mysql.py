"""``bench --query`` and ``--mix`` against the throwaway MariaDB the tests start
(tests/servers/mariadb.py), counted from what the data implies: every key 1..KEYS
exists once, so a lookup of one returns one row, and a lookup of a negative key none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.mariadb import MariaDB, query

QUICK = ("--warmup", "0.2s", "--duration", "1s", "--progress", "off", "--processes", "1")
KEYS = 20_000


@pytest.fixture
def my_orders(mysql: tuple[MariaDB, str]) -> tuple[MariaDB, str]:
    """orders(id 1..KEYS, name, amount) in a fresh database."""
    server, db = mysql
    server.sql(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(20), amount DOUBLE);"
        f" INSERT INTO orders SELECT seq, CONCAT('n', seq), seq * 1.5 FROM seq_1_to_{KEYS}",
        database=db,
    )
    return server, db


def _levels(path: Path) -> list[dict]:
    return json.loads(path.read_text())["levels"]


def test_every_key_exists_so_rows_equal_queries_and_missing_keys_return_none(
    run_cli, my_orders, tmp_path
):
    server, db = my_orders
    result = run_cli(
        "bench", "--to", server.url(db),
        "--query", "name=hit,weight=1:SELECT name, amount FROM orders WHERE id = :id",
        "--query", "name=miss,weight=3:SELECT name FROM orders WHERE id = -:id",
        "--params-synthetic", f"id=uniform(1,{KEYS})", "--sweep", "1,4", *QUICK,
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "queries/s" in result.stdout
    for level in _levels(tmp_path / "run.json"):
        assert level["kind"] == "query" and level["outcome"] == "completed"
        hit, miss = level["operations"]["hit"], level["operations"]["miss"]
        assert hit["count"] > 30 and hit["rows"] == hit["count"] and hit["errors"] == 0
        assert miss["count"] > 90 and miss["rows"] == 0 and miss["errors"] == 0
        assert level["batches"] == hit["count"] + miss["count"] and level["errors"] == 0
        assert level["rows"] == hit["rows"]
        assert 2.2 < miss["count"] / hit["count"] < 4.0  # the weights: 3 to 1
        assert hit["latency_hdr"] and miss["latency_hdr"]


def test_a_name_used_twice_binds_its_value_twice(run_cli, my_orders, tmp_path):
    """:id twice: MySQL's ? is positional, so the value goes once per use; the range
    [id, id + 1] holds two keys except at the top one."""
    server, db = my_orders
    result = run_cli(
        "bench", "--to", server.url(db),
        "--query", "name=pair:SELECT id FROM orders WHERE id BETWEEN :id AND :id + 1",
        "--params-synthetic", f"id=uniform(1,{KEYS - 1})", "--sweep", "2", *QUICK,
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (level,) = _levels(tmp_path / "run.json")
    pair = level["operations"]["pair"]
    assert pair["count"] > 50 and pair["errors"] == 0 and pair["rows"] == 2 * pair["count"]


def test_a_query_the_server_refuses_is_one_line_exit_3_before_the_sweep(
    run_cli, my_orders, tmp_path
):
    server, db = my_orders
    base = ("bench", "--to", server.url(db), "--sweep", "1", *QUICK, "--json", "r.json")
    syntax = run_cli(*base, "--query", "name=broken:SELEC name FROM orders WHERE id = :id",
                     "--params-synthetic", "id=uniform(1,10)")  # fmt: skip
    assert syntax.code == 3, syntax.stderr
    assert syntax.error_line.startswith("bulkload: error: --query broken: (1064) ")
    assert "SQL syntax" in syntax.error_line
    column = run_cli(*base, "--query", "SELECT nope FROM orders WHERE id = :id",
                     "--params-synthetic", "id=uniform(1,10)")  # fmt: skip
    assert column.code == 3 and "--query query: (1054) Unknown column 'nope'" in column.error_line
    table = run_cli(*base, "--query", "SELECT 1 FROM nowhere")
    assert table.code == 3 and "nowhere' doesn't exist" in table.error_line
    for run in (syntax, column, table):
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert json.loads((tmp_path / "r.json").read_text())["levels"] == []  # none ran


def test_a_mixed_run_writes_and_reads_in_the_ratio(run_cli, my_orders, tmp_path):
    server, db = my_orders
    result = run_cli(
        "bench", "--to", server.url(db), "--synthetic", "rows=50000,columns=3",
        "--table", "loaded", "--batch-size", "100",
        "--query", "name=read:SELECT name FROM orders WHERE id = :id",
        "--params-synthetic", f"id=uniform(1,{KEYS})", "--mix", "write=1,read=3",
        "--sweep", "1,4", *QUICK, "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    for level in saved["levels"]:
        assert level["kind"] == "mixed" and level["outcome"] == "completed"
        read, write = level["operations"]["read"], level["operations"]["write"]
        assert write["count"] > 20 and read["errors"] == write["errors"] == 0
        assert 2.3 < read["count"] / write["count"] < 3.9  # write=1,read=3
        assert read["rows"] == read["count"]  # every key exists
        assert write["rows"] == 100 * write["count"]  # batches of 100 rows
        assert level["batches"] == read["count"] + write["count"]
    ((held,),) = query(server, db, "SELECT COUNT(*) FROM loaded")
    assert held == saved["rows_written"] > 0
    assert " operations/s, " in saved["recommendation"]


def test_queries_see_what_the_writes_committed(run_cli, my_orders, tmp_path):
    """Reads run in autocommit: a count of the table being written grows during a mixed
    level (a reader holding one snapshot would see the same count each time)."""
    server, db = my_orders
    result = run_cli(
        "bench", "--to", server.url(db), "--synthetic", "rows=50000,columns=3",
        "--table", "loaded", "--batch-size", "100",
        "--query", "name=grow:SELECT 1 FROM loaded LIMIT :n",
        "--params-synthetic", "n=uniform(1000000,1000001)", "--mix", "write=1,read=1",
        "--sweep", "1", *QUICK, "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (level,) = _levels(tmp_path / "run.json")
    grow, write = level["operations"]["grow"], level["operations"]["write"]
    # a read returns the rows committed before it: on average at least those of the
    # warm-up and half the window's (a snapshot taken at the first read: next to none)
    assert grow["errors"] == 0 and grow["count"] > 10 and write["rows"] > 1000
    assert grow["rows"] / grow["count"] > write["rows"] / 4
