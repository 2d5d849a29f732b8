"""A query set in a TOML profile (``--config``): ``[[bench.query]]`` and
``[[bench.request]]`` tables, run against a real SQLite file and the real ingest server
process, as the repeated ``--query`` / ``--request`` options would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import sqlite_orders
from tests.servers.fixtures import IngestServer

QUICK = ("--warmup", "0s", "--duration", "0.6s", "--progress", "off", "--processes", "1")


@pytest.fixture
def orders_db(tmp_path: Path) -> Path:
    return sqlite_orders(tmp_path / "orders.db", 1000)


def test_a_weighted_query_set_from_a_profile(run_cli, orders_db, tmp_path):
    (tmp_path / "reads.toml").write_text(
        f"""
to = "sqlite:///{orders_db}"

[bench]
params-synthetic = "id=uniform(1,1000)"
sweep = [2]

[[bench.query]]
name = "lookup"
weight = 4
sql = "SELECT name FROM orders WHERE id = :id"

[[bench.query]]
name = "miss"
sql = "SELECT name FROM orders WHERE id = :id + 5000"
""",
        encoding="utf-8",
    )
    result = run_cli("bench", "--config", "reads.toml", *QUICK, "--json", "run.json")
    assert result.code == 0, result.stderr
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    lookup, miss = level["operations"]["lookup"], level["operations"]["miss"]
    assert lookup["rows"] == lookup["count"] > 50 and miss["rows"] == 0
    assert 2.5 < lookup["count"] / miss["count"] < 6.0  # weights 4:1


def test_requests_and_their_headers_from_a_profile(run_cli, ingest: IngestServer, tmp_path):
    (tmp_path / "api.toml").write_text(
        f"""
[bench]
to = "{ingest.url}"
params-synthetic = "id=uniform(1,50)"
ok-status = [404]
request-header = ["X-Everyone: yes"]

[[bench.request]]
name = "order"
weight = 3
method = "GET"
path = "/orders/{{id}}"
headers = {{ X-Order = "o-{{id}}", Authorization = "Bearer ${{API_TOKEN}}" }}

[[bench.request]]
name = "item"
method = "GET"
path = "/items/{{id}}"
""",
        encoding="utf-8",
    )
    result = run_cli(
        "bench", "--config", "api.toml", "--sweep", "1", *QUICK, "--json", "run.json",
        env={"API_TOKEN": "t0ken-from-the-environment"},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    gets = ingest.state()["gets"]
    orders = [g for g in gets if g["path"].startswith("/orders/")]
    items = [g for g in gets if g["path"].startswith("/items/")]
    assert orders and items and all(g["headers"]["X-Everyone"] == "yes" for g in gets)
    for get in orders:
        assert get["headers"]["X-Order"] == "o-" + get["path"].rsplit("/", 1)[1]
        assert get["headers"]["Authorization"] == "Bearer t0ken-from-the-environment"
    assert all("X-Order" not in g["headers"] for g in items)
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    assert set(level["operations"]) == {"order", "item"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[[bench.query]]\nname = "a"\nsq = "SELECT 1"\n',
            "unknown key(s) sq (keys: name, weight, sql, params, params_synthetic)",
        ),
        ('[[bench.query]]\nname = "a"\n', "sql must be a non-empty string"),
        ('[[bench.query]]\nweight = "x"\nsql = "SELECT 1"\n', "weight must be a number, not 'x'"),
        ('[[bench.request]]\nmethod = "GET"\n', "path must be a non-empty string"),
    ],
)
def test_a_bad_query_table_is_one_line_naming_the_file_and_table(
    run_cli, orders_db, tmp_path, table, message
):
    (tmp_path / "bad.toml").write_text(table, encoding="utf-8")
    result = run_cli("bench", "--config", "bad.toml", "--to", f"sqlite:///{orders_db}", *QUICK)
    assert result.code == 3, result.stderr
    option = "request" if "request" in table else "query"
    assert result.error_line == f"bulkload: error: bad.toml: [[bench.{option}]] number 1: {message}"


def test_each_query_of_a_profile_draws_from_its_own_parameter_source(run_cli, orders_db, tmp_path):
    (tmp_path / "few.csv").write_text("id\n3\n5\n7\n", encoding="utf-8")
    (tmp_path / "reads.toml").write_text(
        f"""
to = "sqlite:///{orders_db}"

[bench]
params-synthetic = "id=uniform(5001,6000)"   # the default: keys no order has
sweep = [2]

[[bench.query]]
name = "listed"
sql = "SELECT name FROM orders WHERE id = :id AND id IN (3, 5, 7)"
params = "few.csv"

[[bench.query]]
name = "skewed"
sql = "SELECT name FROM orders WHERE id = :key AND id <= 1000"
params_synthetic = "key=zipf(1.1,1,1000)"

[[bench.query]]
name = "missing"
sql = "SELECT name FROM orders WHERE id = :id"
""",
        encoding="utf-8",
    )
    result = run_cli("bench", "--config", "reads.toml", *QUICK, "--json", "run.json")
    assert result.code == 0, result.stderr
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    listed, skewed, missing = (level["operations"][n] for n in ("listed", "skewed", "missing"))
    assert listed["count"] > 20 and listed["rows"] == listed["count"]  # only 3, 5 and 7
    assert skewed["count"] > 20 and skewed["rows"] == skewed["count"]  # its own :key
    assert missing["count"] > 20 and missing["rows"] == 0  # the default source
    assert level["errors"] == 0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            'params_synthetic = "id=zipff(1.1,1,10)"',
            "--query lookup: params-synthetic: cannot read 'id=zipff(1.1,1,10)': expected "
            "name=uniform(LOW,HIGH) or name=zipf(S,LOW,HIGH), comma-separated",
        ),
        (
            'params = "nowhere.csv"',
            "--query lookup: params nowhere.csv: No such file or directory",
        ),
        (
            'params = "keys.csv"',
            "--query lookup: no values for :id (params keys.csv gives key)",
        ),
        (
            'params = "keys.csv"\nparams-synthetic = "id=uniform(1,10)"',
            "--query lookup: two parameter sources (--query-params, --query-synthetic): give one",
        ),
    ],
)
def test_a_bad_parameter_source_of_a_query_is_one_line_naming_it(
    run_cli, orders_db, tmp_path, source, message
):
    (tmp_path / "keys.csv").write_text("key\n1\n", encoding="utf-8")
    (tmp_path / "bad.toml").write_text(
        '[[bench.query]]\nname = "lookup"\n'
        f'sql = "SELECT * FROM orders WHERE id = :id"\n{source}\n',
        encoding="utf-8",
    )
    result = run_cli("bench", "--config", "bad.toml", "--to", f"sqlite:///{orders_db}", *QUICK)
    assert result.code == 3, result.stderr
    assert result.error_line == f"bulkload: error: {message}"


def test_a_parameter_source_for_no_query_is_refused(run_cli, orders_db):
    result = run_cli(
        "bench", "--to", f"sqlite:///{orders_db}", *QUICK,
        "--query", "name=lookup:SELECT * FROM orders WHERE id = :id",
        "--query-synthetic", "lookpu=id=uniform(1,10)",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert result.error_line == (
        "bulkload: error: --query-synthetic lookpu=: no query is named lookpu (queries: lookup)"
    )


@pytest.mark.postgres
def test_two_queries_of_a_mix_draw_from_their_own_sources_on_postgresql(run_cli, pg, tmp_path):
    dsn, schema, sql = pg
    sql(f'CREATE TABLE "{schema}".orders (id bigint PRIMARY KEY, name text)')
    sql(f"INSERT INTO \"{schema}\".orders SELECT i, 'n' || i FROM generate_series(1, 1000) i")
    (tmp_path / "few.csv").write_text("id\n3\n5\n7\n", encoding="utf-8")
    (tmp_path / "mix.toml").write_text(
        f"""
to = "{dsn}"

[bench]
synthetic = "rows=20000,columns=3"
table = "loaded"
schema-name = "{schema}"
batch-size = 50
mix = "write=1,read=3"
sweep = [2]

[[bench.query]]
name = "listed"
sql = 'SELECT name FROM "{schema}".orders WHERE id = :id AND id IN (3, 5, 7)'
params = "few.csv"

[[bench.query]]
name = "far"
sql = 'SELECT name FROM "{schema}".orders WHERE id = :id'
params_synthetic = "id=uniform(5001,6000)"
""",
        encoding="utf-8",
    )
    result = run_cli("bench", "--config", "mix.toml", *QUICK, "--json", "run.json")
    assert result.code == 0, result.stderr
    (level,) = json.loads((tmp_path / "run.json").read_text())["levels"]
    listed, far, write = (level["operations"][n] for n in ("listed", "far", "write"))
    assert listed["count"] > 10 and listed["rows"] == listed["count"]  # only 3, 5 and 7
    assert far["count"] > 10 and far["rows"] == 0  # keys past the table
    assert write["count"] > 5 and level["errors"] == 0


def test_a_bad_parameter_source_of_a_request_names_the_request(
    run_cli, ingest: IngestServer, tmp_path
):
    result = run_cli(
        "bench", "--to", ingest.url, *QUICK,
        "--request", "name=get:GET /orders/{id}", "--query-params", "get=nowhere.csv",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert result.error_line == (
        "bulkload: error: --request get: params nowhere.csv: No such file or directory"
    )
    both = run_cli(
        "bench", "--to", ingest.url, *QUICK, "--request", "name=get:GET /orders/{id}",
        "--query-params", "get=nowhere.csv", "--query-synthetic", "get=id=uniform(1,2)",
    )  # fmt: skip
    assert both.error_line == (
        "bulkload: error: --request get: two parameter sources "
        "(--query-params, --query-synthetic): give one"
    )
