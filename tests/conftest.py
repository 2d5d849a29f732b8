"""Shared fixtures: run the real CLI in a subprocess, write input files, read tables back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.startswith("bulkload: error")]
        return lines[-1] if lines else ""


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run ``python -m bulkload ARGS`` in tmp_path, as a user would, and capture it."""

    def run(
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        file_size_limit: int | None = None,
        obey_permissions: bool = False,
        timeout: float = 120,
    ) -> CliResult:
        """``file_size_limit``: writes that would grow a file past it fail with a real
        OSError (EFBIG), as on a full disk. ``obey_permissions``: even as root, the
        process is held to permission bits (see :func:`permission_bits_apply`).
        ``timeout``: seconds before the run counts as hung (the process is killed)."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
        full_env.update({"NO_COLOR": "1", "COLUMNS": "120"})
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "bulkload", *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            env=full_env,
            timeout=timeout,
            preexec_fn=(lambda: _restrict(file_size_limit, obey_permissions))
            if file_size_limit is not None or obey_permissions
            else None,
        )
        result = CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


def _restrict(file_size_limit: int | None, obey_permissions: bool) -> None:
    """Runs in the child between fork and exec."""
    if file_size_limit is not None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    if obey_permissions:
        _drop_root_overrides()


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _drop_root_overrides() -> None:
    """Root ignores permission bits through CAP_DAC_OVERRIDE (and CAP_DAC_READ_SEARCH).
    Dropped from the bounding set before exec, the program runs as root without them, so
    a 0444 file or a 0555 directory stops its writes for real, as for any user."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permission_bits_apply(directory: Path) -> bool:
    """Whether ``run_cli(..., obey_permissions=True)`` is refused a write to a 0444 file
    (False only where root cannot drop its capabilities, e.g. without CAP_SETPCAP)."""
    probe = directory / "permission-probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
            capture_output=True,
            preexec_fn=lambda: _restrict(None, True),
            timeout=60,
        )
    except subprocess.SubprocessError:
        return False
    finally:
        probe.unlink()
    return proc.returncode != 0 and b"PermissionError" in proc.stderr


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            path.write_bytes(content)
        return path

    return write


def read_table(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()


def column_types(db: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return {row[1]: row[2] for row in conn.execute(f'PRAGMA table_info("{table}")')}


# ----------------------------------------------------------------------------- PostgreSQL

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_answers(dsn: str) -> bool:
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception:
        return False
    return True


def _pg_binaries() -> Path | None:
    import glob
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _throwaway_cluster(base: Path) -> tuple[str, Callable[[], None]] | None:
    """initdb + pg_ctl in a temporary directory, on a free port; None without binaries."""
    import pwd
    import socket

    bindir = _pg_binaries()
    if bindir is None:
        return None
    data = base / "pgdata"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres account
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
        base.chmod(0o777)
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "start",
            "-l",
            str(base / "pg.log"),
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL: BULKLOAD_TEST_PG_DSN, else 127.0.0.1:5432, else a throwaway
    cluster from the installed binaries, else skip (a failure under CI=true)."""
    dsn = os.environ.get("BULKLOAD_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    if _pg_answers(LOCAL_PG):
        yield LOCAL_PG
        return
    started = _throwaway_cluster(tmp_path_factory.mktemp("pg"))
    if started is None:
        reason = "no PostgreSQL: set BULKLOAD_TEST_PG_DSN or install the server binaries"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    dsn, stop = started
    try:
        yield dsn
    finally:
        stop()


@pytest.fixture
def pg(pg_server: str):
    """A fresh schema per test, dropped afterwards: (dsn, schema, run_sql)."""
    import asyncio
    import uuid

    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:10]}"

    def sql(query: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(pg_server)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return asyncio.run(go())

    sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_server, schema, sql
    finally:
        sql(f'DROP SCHEMA "{schema}" CASCADE')
