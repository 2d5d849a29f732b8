"""A MySQL write whose COMMIT got no answer, against the real server.

Between bulkload and the throwaway MariaDB sits a TCP relay that passes one chosen
COMMIT on to the server, waits for the server to do it, and then cuts both connections
before the answer reaches the client: the batch is committed and bulkload cannot know.
Without --checkpoint its retry stores it a second time, and the summary says those rows
are in doubt; with --checkpoint the key recorded in the batch's own transaction
settles it: the retry finds it and loads nothing. A connection cut before COMMIT leaves
nothing in doubt.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.servers.mariadb import PASSWORD, USER, query

ROWS = 2000
BATCH = 500
COMMIT = b"\x03COMMIT"  # COM_QUERY "COMMIT", as the driver sends it
LOAD = b"\x03LOAD DATA"


class _CuttingRelay(threading.Thread):
    """Relays 127.0.0.1:port to the server. The first ``statement`` a client sends after
    its ``nth`` LOAD DATA (the driver sends COMMITs of its own too, when it connects)
    is passed on (``forward``) or not, then both sides of that connection are closed."""

    def __init__(self, server_port: int, statement: bytes, nth: int, *, forward: bool):
        super().__init__(daemon=True)
        self.server_port, self.nth, self.forward = server_port, nth, forward
        self.statement = statement
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.loads = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.server_port))
            muted = threading.Event()  # the server's answers stop reaching the client
            for args in ((client, upstream, True, muted), (upstream, client, False, muted)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, from_client: bool, muted: threading.Event
    ) -> None:
        try:
            while data := source.recv(1 << 16):
                if not from_client and muted.is_set():
                    return  # the answer to the chosen statement goes nowhere
                if from_client and not self.cut.is_set():
                    with self._lock:
                        self.loads += LOAD in data
                        chosen = self.loads == self.nth and self.statement in data
                    if chosen:
                        self.cut.set()  # once: a retry's new connection passes
                        muted.set()
                        if self.forward:
                            sink.sendall(data)
                            time.sleep(1)  # the server commits; its answer goes nowhere
                        for end in (source, sink):
                            end.shutdown(socket.SHUT_RDWR)
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "k.csv"
    path.write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(ROWS)))
    return path


def _run(
    mysql: Any,
    run_cli: Any,
    statement: bytes,
    nth: int,
    *,
    forward: bool,
    extra: tuple[str, ...] = (),
) -> Any:
    server, db = mysql
    relay = _CuttingRelay(server.port, statement, nth, forward=forward)
    relay.start()
    try:
        url = f"mysql://{USER}:{PASSWORD}@127.0.0.1:{relay.port}/{db}"
        result = run_cli(
            "import", "k.csv", "--to", url, "--batch-size", str(BATCH), "-c", "1",
            "--retry-max-wait", "0.1", "--json", "s.json", "--progress", "off", *extra,
        )  # fmt: skip
    finally:
        relay.close()
    assert relay.cut.is_set(), "no COMMIT was cut"
    return result


def test_a_commit_without_an_answer_puts_its_rows_in_doubt(mysql, run_cli, source, tmp_path):
    server, db = mysql
    result = _run(mysql, run_cli, COMMIT, 2, forward=True)
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == BATCH
    assert f"{BATCH} rows in doubt: the write got no answer after it was sent" in result.stdout
    # the server did commit the first attempt: the retry stored the batch again
    assert query(server, db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM k") == [(ROWS + BATCH, ROWS)]


def test_with_a_checkpoint_the_recorded_key_settles_the_commit(mysql, run_cli, source, tmp_path):
    server, db = mysql
    result = _run(mysql, run_cli, COMMIT, 2, forward=True, extra=("--checkpoint", "k.ckpt"))
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == 0 and "in doubt" not in result.stdout
    assert query(server, db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM k") == [(ROWS, ROWS)]


def test_a_load_cut_before_its_commit_leaves_nothing_in_doubt(mysql, run_cli, source, tmp_path):
    server, db = mysql
    result = _run(mysql, run_cli, LOAD, 2, forward=True)
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == 0 and "in doubt" not in result.stdout
    assert query(server, db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM k") == [(ROWS, ROWS)]
