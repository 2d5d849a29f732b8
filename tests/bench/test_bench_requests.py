"""``bench --request``: an HTTP read sweep against the real ingest server process, whose
``GET /_state`` answers 200 and any other GET 404."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers.fixtures import IngestServer

QUICK = ("--warmup", "0.2s", "--duration", "1s", "--progress", "off")


def _level_ops(path: Path) -> list[dict]:
    return [level["operations"] for level in json.loads(path.read_text())["levels"]]


def _sweep(run_cli, ingest: IngestServer, *extra: str):
    return run_cli(
        "bench", "--to", ingest.url,
        "--request", "name=state,weight=1:GET /_state",
        "--request", "name=order,weight=1:GET /orders/{id}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "1,2", *QUICK,
        "--processes", "1", "--json", "run.json", *extra,
    )  # fmt: skip


def test_statuses_decide_success_and_404_is_a_failure(run_cli, ingest, tmp_path: Path):
    result = _sweep(run_cli, ingest)
    assert result.code == 0, result.stderr
    for ops in _level_ops(tmp_path / "run.json"):
        state, order = ops["state"], ops.get("order", {"count": 0, "errors": 0})
        assert state["count"] > 10 and state["errors"] == 0 and state["rows"] == state["count"]
        assert order["count"] == 0 and order["errors"] > 10  # every /orders/N is a 404
        assert 0.5 < order["errors"] / state["count"] < 2.0  # weights 1:1


def test_ok_status_widens_what_counts_as_answered(run_cli, ingest, tmp_path: Path):
    result = _sweep(run_cli, ingest, "--ok-status", "404")
    assert result.code == 0, result.stderr
    for ops in _level_ops(tmp_path / "run.json"):
        assert ops["order"]["count"] > 10 and ops["order"]["errors"] == 0
        assert ops["state"]["errors"] == 0


def test_a_bad_request_is_one_line_naming_it(run_cli, ingest):
    result = run_cli(
        "bench", "--to", ingest.url, "--request", "name=odd:FETCH /_state", "--sweep", "1",
        *QUICK, "--processes", "1",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert result.error_line.startswith("bulkload: error: --request odd: unknown method 'FETCH'")
