"""``bench --request`` with ``--request-header``: the headers arrive at the real ingest
server process (each GET it records), filled from the parameters, scoped to one request
or given to all; a secret value never reaches the terminal, the JSON or the HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.fixtures import IngestServer

QUICK = ("--warmup", "0s", "--duration", "0.5s", "--progress", "off", "--processes", "1")
LITERAL = "Bearer literal-s3cret-0f-the-order-api"
FROM_ENV = "env-s3cret-api-key-value"


def test_headers_arrive_filled_scoped_and_their_secrets_hidden(
    run_cli, ingest: IngestServer, tmp_path: Path
):
    pytest.importorskip("plotly")
    result = run_cli(
        "bench", "--to", ingest.url,
        "--request", "name=order,weight=1:GET /orders/{id}",
        "--request", "name=item,weight=1:GET /items/{id}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "1", *QUICK,
        "--ok-status", "404",
        "--request-header", "X-Order-Id: {id}",  # every request, filled per request
        "--request-header", "X-Api-Key: ${API_KEY}",
        "--request-header", f"order=Authorization: {LITERAL}",  # the order requests only
        "--http-header", "X-Auth-Token: http-s3cret-of-every-request",  # writes' too
        "--json", "run.json", "--html", "run.html",
        env={"API_KEY": FROM_ENV},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    gets = ingest.state()["gets"]
    assert len(gets) > 20
    paths = {
        kind: [g for g in gets if g["path"].startswith(f"/{kind}s/")] for kind in ("order", "item")
    }
    assert paths["order"] and paths["item"]
    for get in gets:
        headers = get["headers"]
        assert headers["X-Order-Id"] == get["path"].rsplit("/", 1)[1]  # the same drawn key
        assert headers["X-Api-Key"] == FROM_ENV
        assert headers["X-Auth-Token"] == "http-s3cret-of-every-request"
    assert {g["headers"].get("Authorization") for g in paths["order"]} == {LITERAL}
    assert all("Authorization" not in g["headers"] for g in paths["item"])
    # the run as shown and saved: the command line keeps the headers, not their secrets
    saved = (tmp_path / "run.json").read_text()
    command = json.loads(saved)["command"]
    assert "order=Authorization: ***" in command and "X-Order-Id: {id}" in command
    assert "X-Auth-Token: ***" in command
    html = (tmp_path / "run.html").read_text()
    for shown in (result.stdout, result.stderr, saved, html):
        assert "s3cret" not in shown
    assert "Authorization: ***" in html


def test_a_header_for_no_request_is_one_line_without_its_value(run_cli, ingest: IngestServer):
    result = run_cli(
        "bench", "--to", ingest.url, "--request", "name=order:GET /orders/{id}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "1", *QUICK,
        "--request-header", f"nope=Authorization: {LITERAL}",
    )  # fmt: skip
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --request-header nope=: no request is named nope (requests: order)"
    )
    bad = run_cli(
        "bench", "--to", ingest.url, "--request", "name=order:GET /orders/{id}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "1", *QUICK,
        "--request-header", f"Authorization {LITERAL}",
    )  # fmt: skip
    assert bad.code == 3 and "expects 'Name: value'" in bad.error_line
    assert "s3cret" not in bad.stderr + bad.stdout
    alone = run_cli(
        "bench", "--to", ingest.url, "--synthetic", "rows=10", "--sweep", "1", *QUICK,
        "--request-header", "X-A: b",
    )  # fmt: skip
    assert alone.code == 3 and "--request-header gives headers to --request" in alone.error_line


def test_an_unset_variable_names_the_header_and_the_request(run_cli, ingest: IngestServer):
    result = run_cli(
        "bench", "--to", ingest.url, "--request", "name=order:GET /orders/{id}",
        "--params-synthetic", "id=uniform(1,100)", "--sweep", "1", *QUICK,
        "--request-header", "X-Api-Key: ${UNSET_FOR_THIS_TEST}",
    )  # fmt: skip
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --request order: header X-Api-Key: environment variable "
        "UNSET_FOR_THIS_TEST is not set"
    )


def test_a_literal_secret_header_is_hidden_in_the_saved_command_line():
    from bulkload.redact import redact_header_args

    flags = ("--http-header", "--request-header")
    argv = [
        "bench", "--http-header", "Authorization: Bearer abc", "--http-header", "X-Team: a, b",
        "--request-header=search=X-Api-Key: k3y", "--query", "name=auth:SELECT 1",
        "--request-header", "Cookie:sid=1",
    ]  # fmt: skip
    assert redact_header_args(argv, flags) == [
        "bench", "--http-header", "Authorization: ***", "--http-header", "X-Team: a, b",
        "--request-header=search=X-Api-Key: ***", "--query", "name=auth:SELECT 1",
        "--request-header", "Cookie: ***",
    ]  # fmt: skip
