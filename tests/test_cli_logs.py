"""Other libraries' log records stay off the terminal unless --debug: a PostgreSQL that
restarts mid-import (a TCP proxy in front of the real server drops every connection and
turns new ones away for a while) makes asyncpg's pool log "Failed to restore the pool
connection floor; retrying" with a traceback; the run retries and succeeds, and its
stderr holds none of it. Run in a process of its own: there Python's last-resort
handler is what printed library records."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bulkload.cli.logs import command_logs
from tests.conftest import ChildOutput

FLOOR = "Failed to restore the pool connection floor"


class RestartingProxy:
    """Forwards 127.0.0.1:port to the server; ``down()`` drops every connection and
    closes new ones at once (a server restarting), ``up()`` forwards again."""

    def __init__(self, server: tuple[str, int]):
        self.server = server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepting = True
        self._up = True
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while self.accepting:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.server, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                pump.start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        with self._lock:
            self._up = False
            dropped, self._sockets = self._sockets, []
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.accepting = False
        self.down()
        self.listener.close()


@pytest.fixture
def proxy(pg) -> Iterator[tuple[RestartingProxy, str, str, object]]:
    dsn, schema, sql = pg
    parts = urlsplit(dsn)
    restarting = RestartingProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    user = f"{parts.username}@" if parts.username else ""
    url = parts._replace(netloc=f"{user}127.0.0.1:{restarting.port}").geturl()
    try:
        yield restarting, url, schema, sql
    finally:
        restarting.close()


def _loading_begun(sql, schema: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        table = sql("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".r')[0][0]
        if table and sql(f'SELECT count(*) FROM "{schema}".r')[0][0] > 0:
            return
        assert time.monotonic() < deadline, "the import loaded nothing"
        time.sleep(0.05)


def _import_through_a_restart(proxy, tmp_path: Path, *extra: str) -> tuple[int, str]:
    restarting, url, schema, sql = proxy
    (tmp_path / "r.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1500)))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bulkload", "import", "r.csv", "--to", url),
            *("--schema-name", schema, "--batch-size", "50", "--rate", "500"),
            *("--retries", "30", "--retry-max-wait", "0.5s", "--breaker-threshold", "0"),
            *("--progress", "off", "--json", "out.json", *extra),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = ChildOutput(proc)
    try:
        _loading_begun(sql, schema)
        restarting.down()
        time.sleep(3.5)  # the pool's floor is retried after 1 s, then 2 s
        restarting.up()
        _, stderr = child.finish(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr


@pytest.mark.postgres
def test_a_restarting_server_leaves_nothing_of_asyncpg_on_stderr(proxy, tmp_path: Path):
    code, stderr = _import_through_a_restart(proxy, tmp_path)
    assert code == 0, stderr
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["rows_loaded"] == 1500
    assert FLOOR not in stderr and "Traceback" not in stderr, stderr
    assert "asyncpg" not in stderr, stderr
    _, _, schema, sql = proxy
    # nothing lost; a batch whose COMMIT the restart cut may be there twice (no
    # --checkpoint here), and then the summary counted it in doubt
    stored = sql(f'SELECT count(*) FROM "{schema}".r')[0][0]
    assert 1500 <= stored <= 1500 + summary["rows_in_doubt"], summary


@pytest.mark.postgres
def test_debug_shows_the_libraries_log_records(proxy, tmp_path: Path):
    code, stderr = _import_through_a_restart(proxy, tmp_path, "--debug")
    assert code == 0, stderr
    assert f"bulkload: debug: asyncpg.pool: WARNING: {FLOOR}" in stderr
    assert "Traceback" in stderr  # the record's own, as asyncpg logged it


def test_our_own_records_are_one_line_and_the_libraries_are_dropped(capsys):
    with command_logs(debug=False):
        try:
            raise OSError("the cause")
        except OSError:
            logging.getLogger("bulkload.engine").warning("ours\nsecond line", exc_info=True)
            logging.getLogger("asyncpg.pool").warning("theirs", exc_info=True)
    logging.getLogger("asyncpg.pool").warning("after the command: not ours to route")
    assert capsys.readouterr().err == "bulkload: warning: ours\n"
