"""The HTTP backend through the real CLI (options from a TOML profile until the
--http-* flags exist), TLS against the real server, and secrets kept out of output."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.servers import fixtures
from tests.servers.fixtures import IngestServer

TOKEN = "tok-9f8e7d6c5b4a3f2e1d0c"
PASSWORD = "pw-0a1b2c3d4e5f"
ROWS = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, 51))


def profile(tmp_path: Path, **options: object) -> Path:
    lines = [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path = tmp_path / "http.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_to_http_through_the_cli(ingest: IngestServer, run_cli: RunCli, tmp_path: Path):
    (tmp_path / "d.csv").write_text(ROWS)
    config = profile(tmp_path, http_format="json", http_compression="gzip")
    result = run_cli(
        "import", "d.csv", "--to", f"{ingest.url}/in", "--config", str(config), "--json", "-", "-q"
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows_loaded"] == 50
    assert sorted(row["id"] for row in ingest.state()["rows"]) == list(range(1, 51))


def test_tokens_and_passwords_never_reach_output(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path
) -> None:
    """A server that quotes the token back in a 400 and then a 401: the rejection reason,
    the bad-records file, the error line and the JSON summary all stay clean."""
    (tmp_path / "d.csv").write_text(ROWS)
    ingest.control(
        script=[
            {"status": 400, "body": "bad", "echo": "Authorization"},
            *[{"status": 401, "body": "who are you", "echo": "Authorization"}] * 3,
        ]
    )
    config = profile(tmp_path, http_headers=["Authorization: Bearer ${INGEST_TOKEN}"])
    host = ingest.url.removeprefix("http://")
    url = f"http://loader:{PASSWORD}@{host}/in?api_key={TOKEN}x&access_token={TOKEN}y&x=1"
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        url,
        "--config",
        str(config),
        "--batch-size",
        "50",
        "-c",
        "1",
        "--json",
        "summary.json",
        env={"INGEST_TOKEN": TOKEN},
    )
    assert result.code == 5, result.stderr
    assert "HTTP 401" in result.error_line and "credentials" in result.error_line
    assert ingest.state()["headers"][0]["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    written = [result.stdout, result.stderr, (tmp_path / "summary.json").read_text()]
    bad_records = tmp_path / "d.bad-records.csv"
    if bad_records.exists():
        written.append(bad_records.read_text())
    for text in written:
        assert TOKEN not in text and PASSWORD not in text


# ---------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The ingest server behind TLS with a self-signed certificate for 127.0.0.1."""
    cert, key = fixtures.self_signed(tmp_path_factory.mktemp("tls"), "server", "127.0.0.1")
    proc, port = fixtures.start("--tls", str(cert), str(key))
    try:
        yield f"https://127.0.0.1:{port}", cert
    finally:
        fixtures.stop(proc)


@pytest.mark.filterwarnings("ignore::bulkload.backends.http.InsecureTransportWarning")
@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_tls_is_verified_by_default(
    tls_server: tuple[str, Path], run_cli: RunCli, tmp_path: Path, client: str
) -> None:
    url, cert = tls_server
    (tmp_path / "d.csv").write_text(ROWS)
    base = ["import", "d.csv", "--to", f"{url}/in", "-q", "--retries", "0"]
    refused = run_cli(*base, "--config", str(profile(tmp_path, http_client=client)))
    assert refused.code == 5, refused.stderr
    assert url in refused.error_line
    trusted = run_cli(
        *base, "--config", str(profile(tmp_path, http_client=client, ca_cert=str(cert)))
    )
    assert trusted.code == 0, trusted.stderr
    insecure = run_cli(*base, "--config", str(profile(tmp_path, http_client=client, insecure=True)))
    assert insecure.code == 0, insecure.stderr


def test_large_bodies_arrive_whole_over_tls(
    tls_server: tuple[str, Path], run_cli: RunCli, tmp_path: Path
) -> None:
    # ~150 KB bodies: h1 hands head and body to the TLS transport as two buffers
    url, cert = tls_server
    rows = "id,text\n" + "".join(f"{i},{'y' * 300}{i}\n" for i in range(1, 1501))
    (tmp_path / "wide.csv").write_text(rows)
    path = f"/wide-{tmp_path.name}"  # the server is shared by this module's tests
    result = run_cli(
        *("import", "wide.csv", "--to", f"{url}{path}", "-q", "--batch-size", "500"),
        *("--timeout", "10", "--retries", "0"),  # a body cut short fails, not hangs
        *("--config", str(profile(tmp_path, http_client="h1", ca_cert=str(cert)))),
    )
    assert result.code == 0, result.stderr
    server = IngestServer(url, ssl.create_default_context(cafile=str(cert)))
    stored = [row for row in server.state()["rows"] if row.get("text", "").startswith("y" * 300)]
    assert sorted(int(row["id"]) for row in stored) == list(range(1, 1501))
    assert {row["text"] for row in stored} == {f"{'y' * 300}{i}" for i in range(1, 1501)}


def test_insecure_is_warned_about(tls_server: tuple[str, Path]) -> None:
    from bulkload.backends import create_backend
    from bulkload.backends.http import InsecureTransportWarning
    from bulkload.backends.http_options import HttpOptions
    from bulkload.config import TargetOptions

    url, _ = tls_server
    with pytest.warns(InsecureTransportWarning, match="--insecure: the TLS certificate"):
        create_backend(TargetOptions(url=url, backends={"http": HttpOptions(insecure=True)}))


@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_client_certificates(tmp_path: Path, run_cli: RunCli, client: str) -> None:
    """A server that takes only clients holding a certificate it trusts (mutual TLS)."""
    server_cert, server_key = fixtures.self_signed(tmp_path, "server", "127.0.0.1")
    client_cert, client_key = fixtures.self_signed(tmp_path, "client", "loader")
    proc, port = fixtures.start(
        "--tls", str(server_cert), str(server_key), "--client-ca", str(client_cert)
    )
    try:
        context = ssl.create_default_context(cafile=str(server_cert))
        context.load_cert_chain(client_cert, client_key)
        server = IngestServer(f"https://127.0.0.1:{port}", context)
        (tmp_path / "d.csv").write_text(ROWS)
        base = ["import", "d.csv", "--to", f"{server.url}/in", "-q"]
        trusted = {"http_client": client, "ca_cert": str(server_cert)}
        refused = run_cli(
            *base, "--retry-max-wait", "0", "--config", str(profile(tmp_path, **trusted))
        )
        assert server.url in refused.error_line
        # TLS 1.3 refuses the certificate after the handshake: the client sees the alert
        # (named, not retried: exit 5) or, when the server closes first, a reset
        # (retried, then given up: exit 2). Either way nothing is stored.
        assert refused.code in (2, 5), refused.stderr
        assert server.state()["rows"] == []
        with_cert = profile(
            tmp_path, **trusted, client_cert=str(client_cert), client_key=str(client_key)
        )
        accepted = run_cli(*base, "--config", str(with_cert))
        assert accepted.code == 0, accepted.stderr
        assert sorted(row["id"] for row in server.state()["rows"]) == list(range(1, 51))
    finally:
        fixtures.stop(proc)


def test_the_example_profile_works(ingest: IngestServer, run_cli: RunCli, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "configs" / "http.toml"
    (tmp_path / "d.csv").write_text(ROWS)
    ingest.control(idempotency_header="Idempotency-Key")
    result = run_cli(
        "import", "d.csv", "--to", ingest.url, "--config", str(example), env={"INGEST_TOKEN": TOKEN}
    )
    assert result.code == 0, result.stderr
    assert sorted(row["id"] for row in ingest.state()["rows"]) == list(range(1, 51))
    assert ingest.state()["headers"][0]["Content-Encoding"] == "zstd"


def test_the_http_flags(ingest: IngestServer, run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(ROWS)
    result = run_cli(
        "import",
        "d.csv",
        "--to",
        f"{ingest.url}/in",
        "--http-method",
        "put",
        "--http-header",
        "Authorization: Bearer ${INGEST_TOKEN}",
        "--http-header",
        "X-Tags: a, b",  # a comma inside a value stays in it
        "--http-format",
        "csv",
        "--http-compression",
        "zstd",
        "--http-client",
        "curl",
        "--batch-size",
        "20",
        "--json",
        "-",
        "-q",
        env={"INGEST_TOKEN": TOKEN},
    )
    assert result.code == 0, result.stderr
    state = ingest.state()
    assert sorted(int(row["id"]) for row in state["rows"]) == list(range(1, 51))
    assert {h["X-Tags"] for h in state["headers"]} == {"a, b"}
    assert {h["Authorization"] for h in state["headers"]} == {f"Bearer {TOKEN}"}
    assert len(state["headers"]) == 3 and TOKEN not in result.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--http-format", "xml"], "--http-format must be one of"),
        (["--http-header", "X-Key: ${UNSET_FOR_THIS_TEST}"], "UNSET_FOR_THIS_TEST is not set"),
        (["--client-cert", "c.pem"], "--client-cert: no such file: c.pem"),
    ],
)
def test_bad_http_flags_are_one_line_errors(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path, flags: list[str], message: str
) -> None:
    (tmp_path / "d.csv").write_text(ROWS)
    result = run_cli("import", "d.csv", "--to", ingest.url, *flags)
    assert result.code == 3, result.stderr
    assert message in result.error_line
    assert ingest.state()["requests"] == 0


@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ("100", "rows rejected, more than --max-errors 100"),
        ("1%", "rows rejected, more than --max-errors 1%"),
    ],
)
def test_an_endpoint_refusing_everything_stops_at_max_errors(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path, limit: str, said: str
) -> None:
    """Every row of 50k refused (400): bisecting them all takes ~100k requests; the run
    stops once --max-errors is passed, says why, and accounts for every row it read."""
    (tmp_path / "d.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(50_000)))
    ingest.control(every={"status": 400, "body": "bad request"})
    result = run_cli(
        "import", "d.csv", "--to", f"{ingest.url}/in", "--max-errors", limit, "--json", "-", "-q"
    )
    assert result.code == 2, result.stderr
    assert said in result.error_line and result.error_line.startswith("bulkload: error: stopped:")
    assert "not sent" in result.error_line
    summary = json.loads(result.stdout)
    assert summary["outcome"] == "aborted"
    assert summary["rows_loaded"] == 0 and 100 < summary["rows_rejected"] < 1000
    assert summary["rows_read"] == summary["rows_rejected"]  # read = loaded + rejected
    assert summary["rows_unfinished"] == 0
    assert ingest.state()["requests"] < 5_000  # far from a full bisection
    # the line says what the summary says: writes in flight when the run stopped kept
    # rejecting rows, and the line was once written before they ended (101 vs 105)
    if limit == "100":
        said_count = re.search(r"stopped: (\d+) rows rejected", result.error_line)
        assert said_count is not None
        assert int(said_count.group(1)) == summary["rows_rejected"]
    else:
        said_share = re.search(r"stopped: ([\d.]+)% of (\d+) rows rejected", result.error_line)
        assert said_share is not None
        assert int(said_share.group(2)) == summary["rows_read"]
        share = 100 * summary["rows_rejected"] / summary["rows_read"]
        assert said_share.group(1) == f"{share:.2f}"


def test_the_max_errors_line_agrees_with_the_summary_under_concurrency(
    ingest: IngestServer, run_cli: RunCli, tmp_path: Path
) -> None:
    """Many small batches in flight, all refused: rejections go on after the stop while
    the writes in flight end; the line is told after them, with the summary's count."""
    (tmp_path / "d.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(20_000)))
    ingest.control(every={"status": 400, "body": "bad request"})
    result = run_cli(
        "import", "d.csv", "--to", f"{ingest.url}/in", "--max-errors", "10",
        "--batch-size", "1", "-c", "16", "--json", "-", "-q",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    summary = json.loads(result.stdout)
    said = re.search(r"stopped: (\d+) rows rejected, more than --max-errors 10", result.error_line)
    assert said is not None, result.error_line
    assert int(said.group(1)) == summary["rows_rejected"] > 10
    assert summary["rows_read"] == summary["rows_rejected"]
