"""The HTTP backend against a plain HTTP/1.0 server (the standard library's, in a thread
on 127.0.0.1): answers that end where the connection closes, credentials in the URL, and
secrets a server quotes back."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import bulkload
from bulkload.backends import create_backend
from bulkload.backends.http_options import HttpOptions
from bulkload.config import TargetOptions
from bulkload.errors import UsageError
from bulkload.options import build_import_config

TOKEN = "s3cr3t-T0KEN-value-42"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rows: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.answer = (200, b"stored")  # status, body: no Content-Length, ends at close
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, answer = self.server.answer
        with self.server.lock:
            self.server.headers_seen.append(dict(self.headers))
            if status < 300:
                self.server.rows += [json.loads(line) for line in body.splitlines() if line]
        self.send_response(status)
        self.end_headers()  # HTTP/1.0, no Content-Length: the body ends at the close
        self.wfile.write(answer.replace(b"{auth}", self.headers.get("Authorization", "").encode()))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()
        thread.join(timeout=10)


def _load(tmp_path: Path, url: str, **options: Any) -> bulkload.RunStats:
    source = tmp_path / "d.csv"
    source.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(20)))
    settings = {"paths": [str(source)], "to": url, "batch_size": 5, "quiet": True}
    settings.update(options)
    return bulkload.load(build_import_config(settings))


@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_an_answer_that_ends_at_the_close_is_an_answer(server: _Server, tmp_path, client):
    # h1 took the close for a reset: the rows were sent three times and counted as lost
    stats = _load(tmp_path, f"{server.url}/in", http_client=client, retries=2)
    assert stats.rows_loaded == 20 and stats.retries == 0
    assert sorted(row["id"] for row in server.rows) == list(range(20))


@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_credentials_in_the_url_are_sent_as_basic_authorization(server, tmp_path, client):
    _load(tmp_path, server.url.replace("//", "//alice:pa%40ss@") + "/in", http_client=client)
    assert {h.get("Authorization") for h in server.headers_seen} == {
        "Basic YWxpY2U6cGFAc3M="  # alice:pa@ss
    }


def test_a_token_quoted_back_at_the_edge_of_the_kept_body_stays_hidden(server, tmp_path):
    # the reason keeps 200 bytes of the body: the token straddles that edge
    server.answer = (400, b"x" * 190 + b" {auth}")
    bad = tmp_path / "bad.csv"
    stats = _load(
        tmp_path,
        f"{server.url}/in",
        http_headers=[f"Authorization: Bearer {TOKEN}"],
        bad_records=str(bad),
    )
    assert stats.rows_rejected == 20
    text = bad.read_text()
    assert "***" in text and TOKEN[:8] not in text


def test_a_retry_that_is_not_made_is_not_counted(server, run_cli, write_file):
    server.answer = (503, b"busy")
    write_file("d.csv", "id\n1\n")
    result = run_cli("import", "d.csv", "--to", f"{server.url}/in", "--retries", "0", "--json", "-")
    assert result.code == 2, result.stderr  # gave up
    assert len(server.headers_seen) == 1
    assert json.loads(result.stdout)["retries"] == 0  # was 1


def test_the_idempotency_header_name_is_checked():
    for name in ("Idempotency Key", "K\r\nX-Injected: yes", "Key:"):
        with pytest.raises(UsageError, match="--http-idempotency-key expects a header name"):
            own = HttpOptions(http_idempotency_key=name)
            create_backend(TargetOptions(url="http://127.0.0.1:1/", backends={"http": own}))


@pytest.mark.parametrize(
    "cut_answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly part\r\n",
        b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 100\r\n\r\nonly part",  # names are any case
    ],
)
def test_an_answer_cut_short_by_the_close_is_a_reset_not_an_answer(cut_answer: bytes):
    """It says where its body ends, and the close came first: the rows may not be stored
    (an answer without a length, ending at the close, is whole: the test above)."""
    from bulkload.backends.http.errors import HttpTransportError
    from bulkload.backends.http.h1 import H1Transport
    from bulkload.backends.http.transport import ClientSettings

    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/ingest"

    def answer_and_close() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while not request.endswith(b"\r\n\r\n{}"):
                request += connection.recv(4096)
            connection.sendall(cut_answer)

    thread = threading.Thread(target=answer_and_close, daemon=True)
    thread.start()

    async def send() -> None:
        transport = H1Transport(ClientSettings(connections=1), url)
        try:
            with pytest.raises(HttpTransportError, match="connection reset"):
                await transport.send("POST", url, b"{}", ())
        finally:
            await transport.close()

    try:
        asyncio.run(send())
    finally:
        thread.join(timeout=10)
        listener.close()
