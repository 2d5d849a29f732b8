"""The HTTP backend against a real server process on 127.0.0.1 (tests/servers)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import bulkload
from bulkload.backends.base import TableSpec
from bulkload.backends.http import HttpBackend, InsecureTransportWarning
from bulkload.backends.http.errors import parse_retry_after
from bulkload.backends.http_options import HttpOptions
from bulkload.config import TargetOptions
from bulkload.errors import TargetUnreachable, UsageError
from bulkload.options import build_import_config
from tests.engine.library_helpers import hang_guard  # noqa: F401
from tests.servers.fixtures import IngestServer

CLIENTS = ["h1", "curl", "httpx"]
CSV = "id,name,score\n" + "".join(f"{i},name{i},{i / 2}\n" for i in range(1, 101))


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    return path


def load(path: Path, url: str, **options: Any) -> bulkload.RunStats:
    settings = {"paths": [str(path)], "to": url, "batch_size": 10, "quiet": True}
    settings.update(options)
    return bulkload.load(build_import_config(settings))


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return sorted(int(row["id"]) for row in rows)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("body_format", ["json", "ndjson", "csv", "parquet", "arrow"])
def test_every_row_arrives_once_in_each_format(
    ingest: IngestServer, csv_file: Path, client: str, body_format: str
) -> None:
    stats = load(
        csv_file, f"{ingest.url}/ingest", http_client=client, http_format=body_format, concurrency=4
    )
    state = ingest.state()
    assert stats.rows_loaded == 100 and stats.rows_rejected == 0
    assert ids(state["rows"]) == list(range(1, 101))
    assert state["requests"] == 10  # one request per batch
    first = next(row for row in state["rows"] if int(row["id"]) == 3)
    assert first["name"] == "name3" and float(first["score"]) == 1.5


@pytest.mark.parametrize("client", CLIENTS)
def test_large_bodies_arrive_whole(ingest: IngestServer, tmp_path: Path, client: str) -> None:
    # batches of ~150 KB: the h1 client sends such a body beside its head (writelines)
    # rather than copied behind it, in pieces as the socket takes them
    path = tmp_path / "wide.csv"
    path.write_text("id,text\n" + "".join(f"{i},{'x' * 300}{i}\n" for i in range(1, 2001)))
    stats = load(
        path,
        f"{ingest.url}/ingest",
        http_client=client,
        batch_size=500,
        concurrency=2,
        timeout=10,  # a body cut short fails, not hangs
        retries=0,
    )
    state = ingest.state()
    assert stats.rows_loaded == 2000 and state["requests"] == 4
    assert ids(state["rows"]) == list(range(1, 2001))
    assert {row["text"] for row in state["rows"]} == {f"{'x' * 300}{i}" for i in range(1, 2001)}


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_bodies(ingest: IngestServer, csv_file: Path, compression: str) -> None:
    load(csv_file, f"{ingest.url}/ingest", http_compression=compression)
    state = ingest.state()
    assert ids(state["rows"]) == list(range(1, 101))
    assert {h["Content-Encoding"] for h in state["headers"]} == {compression}


def test_put_and_headers_with_environment(
    ingest: IngestServer, csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_TOKEN", "s3cr3t-token-value")
    load(
        csv_file,
        f"{ingest.url}/ingest",
        http_method="PUT",
        http_headers=["Authorization: Bearer ${INGEST_TOKEN}", "X-Team: loaders"],
    )
    headers = ingest.state()["headers"]
    assert {h["Authorization"] for h in headers} == {"Bearer s3cr3t-token-value"}
    assert {h["X-Team"] for h in headers} == {"loaders"}


def test_a_header_naming_an_unset_variable_is_a_usage_error(
    ingest: IngestServer, csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(UsageError, match="NOT_SET_ANYWHERE is not set"):
        load(csv_file, ingest.url, http_headers=["X-Key: ${NOT_SET_ANYWHERE}"])


@pytest.mark.parametrize("client", CLIENTS)
def test_throttled_requests_are_retried_after_the_servers_hint(
    ingest: IngestServer, csv_file: Path, client: str
) -> None:
    ingest.control(
        script=[
            {"status": 429, "retry_after": "1"},
            {"status": 503},
            {"status": 502},
        ]
    )
    started = time.monotonic()
    stats = load(csv_file, ingest.url, http_client=client, concurrency=1)
    assert ids(ingest.state()["rows"]) == list(range(1, 101))
    assert stats.retries == 3
    # the 1 s Retry-After was honoured (the back-off alone is at most 0.1 + 0.2 s here)
    assert time.monotonic() - started >= 0.95


def test_retry_after_as_an_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=lambda: now) == 30
    assert parse_retry_after("7") == 7
    assert parse_retry_after("soon") is None
    assert parse_retry_after(email.utils.formatdate(now - 5, usegmt=True), lambda: now) == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_refused_rows_are_isolated_with_status_and_body(
    ingest: IngestServer, csv_file: Path, client: str, tmp_path: Path
) -> None:
    ingest.control(reject=["name17", "name55"])
    rejected: list[bulkload.Rejection] = []
    stats = bulkload.load(
        build_import_config(
            {"paths": [str(csv_file)], "to": ingest.url, "batch_size": 10, "http_client": client}
        ),
        on_reject=rejected.append,
    )
    assert stats.rows_loaded == 98 and stats.rows_rejected == 2
    assert ids(ingest.state()["rows"]) == [i for i in range(1, 101) if i not in (17, 55)]
    assert sorted(r.line for r in rejected) == [18, 56]  # header is line 1
    assert all(r.reason.startswith("HTTP 400: refused row:") for r in rejected)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_reset_after_the_body_was_stored_is_retried_once_with_the_idempotency_key(
    ingest: IngestServer, csv_file: Path, client: str
) -> None:
    ingest.control(
        idempotency_header="Idempotency-Key",
        script=[{}, {"drop": "after_store"}, {}, {"drop": "after_store"}, {"drop": "before_store"}],
    )
    stats = load(
        csv_file,
        ingest.url,
        http_client=client,
        http_idempotency_key="Idempotency-Key",
        concurrency=1,
        retry_max_wait=0,
    )
    state = ingest.state()
    assert stats.rows_loaded == 100
    assert ids(state["rows"]) == list(range(1, 101))  # each row exactly once
    assert state["duplicates"] == 2  # the two ambiguous requests, answered from the record
    # libcurl itself re-sends once on a reused connection that died; the engine the rest
    assert stats.retries >= 1


def test_without_the_key_a_reset_after_store_duplicates_rows(
    ingest: IngestServer, csv_file: Path
) -> None:
    """At-least-once, as documented: the server stored the batch, the answer was lost."""
    ingest.control(script=[{"drop": "after_store"}])
    load(csv_file, ingest.url, concurrency=1, retry_max_wait=0)
    assert len(ingest.state()["rows"]) == 110


@pytest.mark.parametrize("client", CLIENTS)
def test_a_stalled_request_times_out_and_is_retried(
    ingest: IngestServer, csv_file: Path, client: str
) -> None:
    ingest.control(script=[{"stall": 3}])
    stats = load(
        csv_file, ingest.url, http_client=client, timeout=0.5, concurrency=1, retry_max_wait=0
    )
    assert stats.retries == 1
    assert ids(ingest.state()["rows"]) == list(range(1, 101))


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_run(
    ingest: IngestServer, csv_file: Path, status: int
) -> None:
    ingest.control(script=[{"status": status, "body": "no"}] * 3)
    with pytest.raises(bulkload.TargetError, match=f"HTTP {status}"):
        load(csv_file, ingest.url, concurrency=1)
    assert ingest.state()["rows"] == []


def test_an_unreachable_host_is_named_at_open(csv_file: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TargetUnreachable, match=f"cannot connect to 127.0.0.1:{port}"):
        load(csv_file, f"http://127.0.0.1:{port}/ingest")


def test_a_connect_that_never_completes_is_bounded_by_timeout(csv_file: Path) -> None:
    """A listener whose backlog is full: the kernel drops the SYN, the connect hangs.
    --timeout bounds it (the check's own bound is 10 s), and the error names the host."""
    import socket

    with socket.socket() as full, socket.socket() as pending:
        full.bind(("127.0.0.1", 0))
        full.listen(0)  # room for one connection not accepted: ``pending`` takes it
        port = full.getsockname()[1]
        pending.connect(("127.0.0.1", port))
        started = time.monotonic()
        with pytest.raises(
            TargetUnreachable, match=f"cannot connect to 127.0.0.1:{port}: no answer within 1 s"
        ):
            load(csv_file, f"http://127.0.0.1:{port}/ingest", timeout=1.0)
        assert time.monotonic() - started < 8


def test_identical_batches_get_different_keys(ingest: IngestServer, tmp_path: Path) -> None:
    """Two batches with the same rows are two batches: the server must store both."""
    path = tmp_path / "same.csv"
    path.write_text("id,name\n" + "1,same\n" * 20)
    ingest.control(idempotency_header="Idempotency-Key")
    load(path, ingest.url, http_idempotency_key="Idempotency-Key")
    state = ingest.state()
    assert len(state["rows"]) == 20 and state["duplicates"] == 0


def test_with_a_checkpoint_keys_come_from_the_source_and_survive_a_rerun(
    ingest: IngestServer, csv_file: Path, tmp_path: Path
) -> None:
    ingest.control(idempotency_header="Idempotency-Key")
    options = {"http_idempotency_key": "Idempotency-Key", "checkpoint": str(tmp_path / "c")}
    load(csv_file, ingest.url, **options)
    (tmp_path / "c").unlink()  # forget the file: only the server's record is left
    load(csv_file, ingest.url, **options)
    state = ingest.state()
    assert ids(state["rows"]) == list(range(1, 101))  # the rerun stored nothing again
    assert state["duplicates"] == 10
    # the same file to another endpoint is another load: its keys differ
    (tmp_path / "c").unlink()
    load(csv_file, f"{ingest.url}/elsewhere", **options)
    state = ingest.state()
    assert ids(state["rows"]) == sorted([*range(1, 101), *range(1, 101)])
    assert state["duplicates"] == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"http_format": "xml"}, "--http-format must be one of json, ndjson, csv"),
        ({"http_method": "GET"}, "--http-method must be one of POST, PUT"),
        ({"http_compression": "br"}, "--http-compression must be one of gzip, zstd"),
        ({"http_client": "requests"}, "--http-client must be one of auto, h1, curl, httpx"),
        ({"http_preset": "solr"}, "--http-preset must be one of"),
        ({"http_headers": ["no colon here"]}, "--http-header expects 'Name: value'"),
        ({"ca_cert": "/nonexistent/ca.pem"}, "--ca-cert: no such file"),
        ({"client_key": "/etc/hostname"}, "--client-key needs --client-cert"),
        ({"http_preset": "clickhouse", "http_format": "parquet"}, "clickhouse sends"),
    ],
)
def test_bad_http_options_are_usage_errors(
    ingest: IngestServer, csv_file: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        load(csv_file, ingest.url, **options)
    assert ingest.state()["requests"] == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_connections_the_server_closes_are_replaced(
    ingest: IngestServer, csv_file: Path, client: str
) -> None:
    ingest.control(script=[{"close": "announced"}, {}, {"close": "silently"}, {}] * 2)
    stats = load(csv_file, ingest.url, http_client=client, concurrency=2)
    assert ids(ingest.state()["rows"]) == list(range(1, 101))
    assert stats.rows_loaded == 100


@pytest.mark.parametrize("client", CLIENTS)
def test_a_write_given_up_after_resets_past_the_body_is_in_doubt_not_lost(
    ingest: IngestServer, csv_file: Path, client: str, run_cli: Any, tmp_path: Path
) -> None:
    """The server stored the batch both times and never answered: the run fails, and
    says its rows may be there (at-least-once), instead of counting them as never read."""
    # more drops than attempts: h1 and libcurl resend once by themselves on a kept-alive
    # connection that died, so each client takes a different number of them
    ingest.control(script=[{}, *[{"drop": "after_store"}] * 6])
    result = run_cli(
        "import", str(csv_file), "--to", ingest.url, "--batch-size", "10", "--concurrency",
        "1", "--retries", "1", "--retry-max-wait", "0", "--http-client", client,
        "--json", "run.json", "--progress", "off",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert "10 rows in doubt: the write got no answer after it was sent" in result.stderr
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["rows_loaded"] == 10 and summary["rows_in_doubt"] == 10
    assert summary["rows_read"] == 10  # read = loaded + rejected still holds
    stored = ids(ingest.state()["rows"])
    assert stored[:10] == list(range(1, 11))  # the first batch, once
    assert sorted(set(stored[10:])) == list(range(11, 21)) and len(stored) >= 30


def test_a_write_given_up_on_answers_is_not_in_doubt(
    ingest: IngestServer, csv_file: Path, run_cli: Any, tmp_path: Path
) -> None:
    """A 503 is the server saying it did not take the rows: nothing is in doubt."""
    ingest.control(script=[{"status": 503, "retry_after": "0"}] * 2)
    result = run_cli(
        "import", str(csv_file), "--to", ingest.url, "--batch-size", "10", "--concurrency",
        "1", "--retries", "1", "--retry-max-wait", "0", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert "in doubt" not in result.stderr
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["rows_in_doubt"] == 0 and summary["rows_read"] == 0
    assert ingest.state()["rows"] == []


@pytest.mark.parametrize("client", CLIENTS)
def test_a_timed_out_write_given_up_is_in_doubt(
    ingest: IngestServer, csv_file: Path, run_cli: Any, tmp_path: Path, client: str
) -> None:
    ingest.control(script=[{"stall": 2}])  # the server read the request, then stalls
    result = run_cli(
        "import", str(csv_file), "--to", ingest.url, "--batch-size", "10", "--concurrency",
        "1", "--retries", "0", "--timeout", "0.3", "--http-client", client,
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert json.loads((tmp_path / "run.json").read_text())["rows_in_doubt"] == 10


def test_a_gateway_timeout_given_up_is_in_doubt(
    ingest: IngestServer, csv_file: Path, run_cli: Any, tmp_path: Path
) -> None:
    """A 504 is a gateway that gave up waiting: the server behind may have stored it."""
    ingest.control(script=[{"status": 504, "retry_after": "0"}])
    result = run_cli(
        "import", str(csv_file), "--to", ingest.url, "--batch-size", "10", "--retries", "0",
        "--json", "run.json",
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert json.loads((tmp_path / "run.json").read_text())["rows_in_doubt"] == 10


@pytest.mark.parametrize("client", ["h1", "curl"])
def test_a_handshake_that_never_ends_leaves_nothing_in_doubt(
    csv_file: Path, run_cli: Any, tmp_path: Path, client: str
) -> None:
    """The TLS handshake timed out: no request went out, so no row can be there."""
    import socket
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        held: list[Any] = []  # accepted, never answered
        threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
        with pytest.warns(InsecureTransportWarning):
            result = run_cli(
                "import", str(csv_file), "--to",
                f"https://127.0.0.1:{listener.getsockname()[1]}/", "--batch-size", "10",
                "--concurrency", "1", "--retries", "0", "--timeout", "0.5", "--insecure",
                "--http-client", client, "--json", "run.json",
            )  # fmt: skip
        for connection, _ in held:
            connection.close()
    assert result.code == 2 and "timed out after 0.5 s" in result.stderr, result.stderr
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["rows_in_doubt"] == 0 and "in doubt" not in result.stderr


def test_payloads_written_again_arrive_as_they_are(ingest: IngestServer) -> None:
    """bench writes the same pooled payloads over and over, and h1 keeps each small
    request whole by its body: every write must still carry its own rows (two bodies of
    one length, alternating; a body too large to be kept)."""
    url = f"{ingest.url}/ingest"

    async def write_each_three_times() -> None:
        backend = HttpBackend(url, TargetOptions(backends={"http": HttpOptions(http_client="h1")}))
        batches = [pa.record_batch({"id": [i], "name": [f"n{i}"]}) for i in (1, 2)]
        batches.append(pa.record_batch({"id": [3], "name": ["x" * 10_000]}))
        await backend.open(TableSpec("t", batches[0].schema, writers=2))
        try:
            payloads = [backend.encode(batch) for batch in batches]
            assert len(payloads[0].body) == len(payloads[1].body)
            for _ in range(3):
                for payload in payloads:
                    await backend.write(payload)
        finally:
            await backend.close()

    asyncio.run(write_each_three_times())
    state = ingest.state()
    assert state["requests"] == 9
    assert ids(state["rows"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert {row["name"] for row in state["rows"]} == {"n1", "n2", "x" * 10_000}
