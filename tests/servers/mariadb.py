"""A throwaway MariaDB for the tests: ``mariadb-install-db`` into a temporary directory,
``mariadbd`` on a free port with its own socket, a user with a real password (so a
wrong password is refused for real). Never the server a machine may already run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.fixtures import dying_with_this_process, free_port, self_signed

USER = "bulk"
PASSWORD = "s3cret-Pw.7"
DATABASE = "test"


@dataclass
class MariaDB:
    """A running throwaway server: ``url(db)`` for bulkload, ``sql(...)`` as root."""

    host: str
    port: int
    socket: Path
    datadir: Path
    client: str
    proc: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = ()
    #: the server's self-signed certificate (TLS is on when openssl made one)
    certificate: Path | None = None

    def url(
        self,
        database: str = DATABASE,
        scheme: str = "mysql",
        password: str = PASSWORD,
        user: str = USER,
    ) -> str:
        return f"{scheme}://{user}:{password}@{self.host}:{self.port}/{database}"

    def sql(self, statement: str, database: str | None = None) -> list[tuple[str, ...]]:
        """Run SQL through the server's own client (as root, over the socket); rows as
        tab-separated text split into tuples (NULL reads as 'NULL')."""
        out = subprocess.run(
            [
                self.client,
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "--batch",
                "--skip-column-names",
                *([database] if database else []),
                "-e",
                statement,
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        return [tuple(line.split("\t")) for line in out.stdout.decode().splitlines()]

    def start(self) -> None:
        log = (self.datadir.parent / "mariadbd.log").open("ab")
        self.proc = subprocess.Popen(
            dying_with_this_process(list(self.command)),
            stdout=log,
            stderr=log,
            cwd=self.datadir.parent,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.proc.returncode}: see {log.name}")
            try:
                self.sql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _binaries() -> tuple[str, str, str] | None:
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else None
    )
    client = shutil.which("mariadb")
    return (install, server, client) if install and server and client else None


def start_mariadb(base: Path) -> MariaDB | None:
    """A fresh server in ``base``; None without the binaries."""
    found = _binaries()
    if found is None:
        return None
    install, server, client = found
    data = base / "data"
    # a temporary directory of its own: bootstraps run at once (one per xdist worker)
    # in the shared /tmp clash on their temporary tables' names (seen: 2 of 6 failed)
    tmp = base / "tmp"
    tmp.mkdir(exist_ok=True)
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    for attempt in range(3):  # a bootstrap that failed is tried afresh
        shutil.rmtree(data, ignore_errors=True)
        installed = subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",  # root: no password, socket
                "--skip-test-db",
                f"--tmpdir={tmp}",
                *as_root,
            ],
            capture_output=True,
            timeout=300,
            cwd=base,
        )
        if installed.returncode == 0:
            break
        if attempt == 2:
            output = (installed.stdout + installed.stderr).decode(errors="replace")
            raise RuntimeError(f"mariadb-install-db failed:\n{output[-3000:]}")
    sock = base / "mysqld.sock"
    tls: list[str] = []
    certificate = None
    if shutil.which("openssl"):
        certificate, key = self_signed(base, "mariadb", "127.0.0.1")
        tls = [f"--ssl-cert={certificate}", f"--ssl-key={key}"]
    for _attempt in range(5):  # a free port may be taken before the server binds it
        port = free_port()
        db = MariaDB("127.0.0.1", port, sock, data, client, certificate=certificate)
        db.command = (
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            f"--socket={sock}",
            "--bind-address=127.0.0.1",
            f"--pid-file={base / 'mariadbd.pid'}",
            f"--log-error={base / 'mariadbd.err'}",
            "--skip-log-bin",
            # a test server: durability across a host crash is not what is tested
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-buffer-pool-size=128M",
            "--local-infile=1",
            f"--tmpdir={tmp}",
            *tls,
            *as_root,
        )
        try:
            db.start()
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError(f"mariadbd did not start: see {base / 'mariadbd.err'}")
    db.sql(
        f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
        f" GRANT ALL ON *.* TO '{USER}'@'%';"
        # the same user, allowed in only over TLS: what a TLS test connects as
        f" CREATE USER '{USER}_tls'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE SSL;"
        f" GRANT ALL ON *.* TO '{USER}_tls'@'%';"
        f" CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4"
    )
    return db


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A throwaway MariaDB for the session; skipped without the binaries (a failure
    under CI=true, where .ci/run installs mariadb-server)."""
    db = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    if db is None:
        reason = "no MariaDB: install mariadb-server (mariadb-install-db, mariadbd, mariadb)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield db
    finally:
        db.stop()


@pytest.fixture
def mysql(mariadb_server: MariaDB) -> Iterator[tuple[MariaDB, str]]:
    """A fresh database per test, dropped afterwards: (server, database name)."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:10]}"
    mariadb_server.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield mariadb_server, name
    finally:
        mariadb_server.sql(f"DROP DATABASE IF EXISTS `{name}`")


def query(server: MariaDB, database: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``statement`` as the driver types them (ints, Decimals, datetimes)."""
    import asyncmy

    from bulkload import event_loop

    async def go() -> list[tuple[Any, ...]]:
        conn = await asyncmy.connect(
            host=server.host, port=server.port, user=USER, password=PASSWORD, database=database
        )
        try:
            async with conn.cursor() as cur:
                await cur.execute(statement, args or None)
                return [tuple(row) for row in await cur.fetchall()]
        finally:
            conn.close()

    return event_loop.run(go())
