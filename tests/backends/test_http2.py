"""--http-version 2 against a real HTTP/2 server: nginx (the system package, started here
on free ports; skipped where it is not installed, a failure under CI=true) answering 204
and logging each request's protocol and connection, over h2c (prior knowledge, http://)
and over TLS (ALPN, https://)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.fixtures import (
    IngestServer,
    dying_with_this_process,
    free_port,
    self_signed,
    stop,
)

pytestmark = [pytest.mark.xdist_group("nginx-h2"), pytest.mark.timeout(120)]

CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format proto '$server_protocol $status $connection';
    access_log {dir}/access.log proto;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{ listen 127.0.0.1:{h2c} http2; location / {{ return 204; }} }}
    server {{
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 204; }}
    }}
}}
"""


@dataclass
class Nginx:
    h2c_url: str
    tls_url: str
    cert: Path
    log: Path

    def requests_since(self, mark: int) -> list[tuple[str, str, str]]:
        """(protocol, status, connection) of each request logged after line ``mark``."""
        lines = self.log.read_text().splitlines()[mark:]
        return [tuple(line.split()) for line in lines]  # type: ignore[misc]

    def mark(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if binary is None:
        reason = "no nginx: apt-get install nginx"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    where = tmp_path_factory.mktemp("nginx-h2")
    cert, key = self_signed(where, "server", "127.0.0.1")
    h2c, tls = free_port(), free_port()
    conf = where / "nginx.conf"
    conf.write_text(CONF.format(dir=where, h2c=h2c, tls=tls, cert=cert, key=key))
    process = subprocess.Popen(dying_with_this_process([binary, "-c", str(conf), "-p", str(where)]))
    try:
        deadline = time.monotonic() + 30
        for port in (h2c, tls):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"nginx did not start: {(where / 'error.log').read_text()}")
                    time.sleep(0.05)
        yield Nginx(
            f"http://127.0.0.1:{h2c}/in", f"https://127.0.0.1:{tls}/in", cert, where / "access.log"
        )
    finally:
        stop(process)


def _import(run_cli: Any, tmp_path: Path, url: str, *options: str) -> Any:
    (tmp_path / "d.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1000)))
    return run_cli(
        "import", "d.csv", "--to", url, "--batch-size", "10", "--concurrency", "16",
        "--json", "run.json", "--progress", "off", *options,
    )  # fmt: skip


@pytest.mark.parametrize("scheme", ["h2c", "tls"])
def test_http2_carries_every_batch_on_few_connections(
    nginx: Nginx, run_cli: Any, tmp_path: Path, scheme: str
) -> None:
    url = nginx.h2c_url if scheme == "h2c" else nginx.tls_url
    mark = nginx.mark()
    result = _import(run_cli, tmp_path, url, "--http-version", "2", "--ca-cert", str(nginx.cert))
    assert result.code == 0, result.stderr
    assert json.loads((tmp_path / "run.json").read_text())["rows_loaded"] == 1000
    seen = nginx.requests_since(mark)
    assert len(seen) == 100 and {(p, s) for p, s, _ in seen} == {("HTTP/2.0", "204")}
    # streams share a connection (libcurl waits to multiplex rather than open another)
    assert len({connection for _, _, connection in seen}) <= 2


def test_http_1_1_stays_the_default(nginx: Nginx, run_cli: Any, tmp_path: Path) -> None:
    mark = nginx.mark()
    result = _import(run_cli, tmp_path, nginx.tls_url, "--ca-cert", str(nginx.cert))
    assert result.code == 0, result.stderr
    seen = nginx.requests_since(mark)
    assert len(seen) == 100 and {p for p, _, _ in seen} == {"HTTP/1.1"}  # ALPN: h1 offers 1.1


@pytest.mark.parametrize("client", ["h1", "httpx"])
def test_http2_with_a_client_that_speaks_only_1_1_is_refused(
    nginx: Nginx, run_cli: Any, tmp_path: Path, client: str
) -> None:
    result = _import(
        run_cli, tmp_path, nginx.h2c_url, "--http-version", "2", "--http-client", client
    )
    assert result.code == 3
    assert f"--http-version 2 needs --http-client curl (or auto): {client} speaks HTTP/1.1" in (
        result.error_line
    )


def test_http2_to_a_server_that_speaks_only_1_1_is_one_clear_error(
    ingest: IngestServer, run_cli: Any, tmp_path: Path
) -> None:
    """h2c with prior knowledge to an HTTP/1.1-only server: refused at once (exit 5), not
    retried, and nothing in doubt (the server never took the request)."""
    result = _import(run_cli, tmp_path, f"{ingest.url}/in", "--http-version", "2")
    assert result.code == 5, result.stderr
    assert "does not speak HTTP/2 over plain http://" in result.error_line
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["retries"] == 0 and summary["rows_in_doubt"] == 0, (summary, result.stderr)
    assert ingest.state()["rows"] == []


def test_one_http2_connection_carries_many_writes_at_once(
    nginx: Nginx, run_cli: Any, tmp_path: Path
) -> None:
    """--connections caps connections, not writes: on HTTP/2 each carries streams."""
    mark = nginx.mark()
    result = _import(run_cli, tmp_path, nginx.h2c_url, "--http-version", "2", "--connections", "1")
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["effective_concurrency"] == 16  # not 1: streams on the one connection
    seen = nginx.requests_since(mark)
    assert len(seen) == 100 and len({connection for _, _, connection in seen}) == 1
