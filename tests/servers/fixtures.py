"""The ingest server as pytest fixtures: one process per test session, state reset per
test. Import the fixtures into a test module to use them."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).with_name("ingest_app.py")


class IngestServer:
    def __init__(self, url: str, context: ssl.SSLContext | None = None):
        self.url = url  # http://127.0.0.1:PORT
        self.context = context  # for a TLS server

    def _call(self, path: str, document: Any = None) -> Any:
        data = None if document is None else json.dumps(document).encode()
        with urllib.request.urlopen(
            f"{self.url}{path}", data=data, timeout=30, context=self.context
        ) as answer:
            return json.loads(answer.read())

    def control(self, **settings: Any) -> None:
        self._call("/_control", settings)

    def reset(self) -> None:
        self._call("/_reset", {})

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._call("/_state")
        return state


def free_port() -> int:
    """A port nobody listens on now (a server started on it may still lose a race)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def dying_with_this_process(command: list[str]) -> list[str]:
    """``command``, made to get SIGTERM when the test process dies before it stops it
    (pytest-timeout ends a hung test with os._exit: no fixture's finally runs then)."""
    setpriv = shutil.which("setpriv")  # util-linux
    return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command


def start(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        dying_with_this_process([sys.executable, str(APP), *args]),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "PORT n" once listening
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the ingest server did not start: {line!r}")
    return proc, int(line.split()[1])


def self_signed(where: Path, name: str, subject: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key for ``subject``, valid for 127.0.0.1."""
    cert, key = where / f"{name}.pem", where / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={subject}"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate a server process; kill it if it is still there after ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def ingest_process() -> Iterator[IngestServer]:
    proc, port = start()
    try:
        yield IngestServer(f"http://127.0.0.1:{port}")
    finally:
        stop(proc)


@pytest.fixture
def ingest(ingest_process: IngestServer) -> IngestServer:
    ingest_process.reset()
    return ingest_process
