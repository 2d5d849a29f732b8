"""The wrong kind of server says so in one line: a preset's bulk API that is not there,
and https:// to a port that speaks plain HTTP (real ingest server processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.servers.fixtures import IngestServer

ROWS = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, 21))


@pytest.mark.parametrize(
    ("preset", "product"), [("opensearch", "OpenSearch"), ("elasticsearch", "Elasticsearch")]
)
def test_a_preset_to_a_server_that_is_not_one_says_what_it_answered(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path, preset: str, product: str
):
    (tmp_path / "d.csv").write_text(ROWS)
    ingest.control(every={"status": 204, "body": ""})  # a plain endpoint: takes, says nothing
    result = run_cli("import", "d.csv", "--to", ingest.url, "--http-preset", preset, "-q")
    assert result.code != 0
    assert result.error_line == (
        f"bulkload: error: {ingest.url}: the server did not answer as {product}'s _bulk API "
        f"would (HTTP 204, no body): check that --to is an {product} node "
        f"(http://HOST:9200), or drop --http-preset {preset}"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_preset_to_a_json_endpoint_quotes_its_answer(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path
):
    (tmp_path / "d.csv").write_text(ROWS)
    ingest.control(every={"status": 200, "body": '{"ok":true}'})  # JSON, but no _bulk report
    result = run_cli("import", "d.csv", "--to", ingest.url, "--http-preset", "opensearch", "-q")
    assert result.code != 0
    assert "(HTTP 200, body '{\"ok\":true}')" in result.error_line, result.stderr


@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_https_to_a_plain_http_port_says_try_http(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path, client: str
):
    (tmp_path / "d.csv").write_text(ROWS)
    url = ingest.url.replace("http://", "https://") + "/in"
    result = run_cli("import", "d.csv", "--to", url, "--http-client", client, "-q")
    assert result.code != 0
    assert result.error_line == (
        f"bulkload: error: {url}: TLS: the server did not answer TLS on this port "
        "(plain HTTP, perhaps): try http://"
    ), result.stderr
    assert ingest.state()["requests"] == 0
