"""Shared fixtures: run the real CLI (in this process, or in a subprocess for tests that
need signals or a fresh interpreter), write input files, read tables back, PostgreSQL."""

from __future__ import annotations

import io
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bulkload import event_loop
from bulkload.cli import main as cli_main
from tests.servers.mariadb import mariadb_server, mysql  # noqa: F401  (one server a session)


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

CLI_TIMEOUT_S = 120


#: the one BULKLOAD_* variable runs keep: ``BULKLOAD_EVENT_LOOP=asyncio make pytest`` runs
#: the suite's CLI runs on asyncio's own loop instead of uvloop
_KEPT = (event_loop.ENV_VAR,)


def _cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """What a run sees: the caller's environment minus BULKLOAD_* (but the event loop's
    choice), no colour, 120 wide."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_") or k in _KEPT}
    full.update({"NO_COLOR": "1", "COLUMNS": "120"})
    full.update(env or {})
    return full


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run ``bulkload ARGS`` in this process, in tmp_path, and capture it: what a user
    would see, at a fraction of a subprocess's start-up cost.

    The run gets its own cwd, environment, stdin, stdout and stderr; afterwards the test
    fails if it left a traceback on stderr, a signal handler installed or a thread
    running. Tests that send signals, kill the process or need a fresh interpreter use
    ``run_cli_subprocess``; ``file_size_limit``, ``obey_permissions`` and ``timeout``
    (see :func:`_run_subprocess`) limit or kill a process, so those runs get a child
    process too. (A hang in-process is ended by pytest-timeout.)"""

    def run(
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        file_size_limit: int | None = None,
        obey_permissions: bool = False,
        timeout: float | None = None,
    ) -> CliResult:
        if file_size_limit is not None or obey_permissions or timeout is not None:
            return _run_subprocess(
                tmp_path, args, stdin, env, file_size_limit, obey_permissions, timeout
            )
        with monkeypatch.context() as patch:
            patch.chdir(tmp_path)
            wanted = _cli_env(env)
            for name in list(os.environ):
                if name not in wanted:
                    patch.delenv(name)
            for name, value in wanted.items():
                patch.setenv(name, value)
            result = _run_in_process(list(args), stdin or b"", patch)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


def _run_in_process(argv: list[str], stdin: bytes, patch: pytest.MonkeyPatch) -> CliResult:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    patch.setattr(sys, "stdout", stdout)
    patch.setattr(sys, "stderr", stderr)
    # warnings logged during the run (asyncio's "exception never retrieved", ...) count
    # as the run's stderr, as they would in a process of its own
    log_handler = logging.StreamHandler(stderr)
    logging.getLogger().addHandler(log_handler)
    handlers_before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    threads_before = set(threading.enumerate())
    code: object = None
    try:  # a hang is caught by pytest-timeout; any exception but SystemExit fails the test
        cli_main(argv)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        logging.getLogger().removeHandler(log_handler)
    assert isinstance(code, int), f"main() must exit with a code, not {code!r}"
    assert {sig: signal.getsignal(sig) for sig in handlers_before} == handlers_before, (
        "the run left a signal handler installed"
    )
    _assert_no_thread_left(threads_before)
    return CliResult(code, _text(stdout), _text(stderr))


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


def _assert_no_thread_left(before: set[threading.Thread], grace_s: float = 5.0) -> None:
    """Threads the run started must end with it (a daemon left running leaks into the
    next test); a moment's grace for ones already finishing."""
    deadline = time.monotonic() + grace_s
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not left, f"the run left threads running: {[t.name for t in left]}"


@pytest.fixture
def run_cli_subprocess(tmp_path: Path) -> RunCli:
    """Run ``python -m bulkload ARGS`` in a process of its own, in tmp_path, and capture
    it: for tests that need a fresh interpreter, real pipes or a real exit status."""

    def run(
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        file_size_limit: int | None = None,
        obey_permissions: bool = False,
        timeout: float | None = None,
    ) -> CliResult:
        return _run_subprocess(
            tmp_path, args, stdin, env, file_size_limit, obey_permissions, timeout
        )

    return run


def _run_subprocess(
    cwd: Path,
    args: tuple[str, ...],
    stdin: bytes | None,
    env: dict[str, str] | None,
    file_size_limit: int | None,
    obey_permissions: bool,
    timeout: float | None = None,
) -> CliResult:
    """``file_size_limit``: writes that would grow a file past it fail with a real
    OSError (EFBIG), as on a full disk. ``obey_permissions``: even as root, the process
    is held to permission bits (see :func:`permission_bits_apply`). ``timeout``: seconds
    before the run counts as hung (the process is killed and the test fails)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bulkload", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=_cli_env(env),
        timeout=CLI_TIMEOUT_S if timeout is None else timeout,
        preexec_fn=(lambda: _restrict(file_size_limit, obey_permissions))
        if file_size_limit is not None or obey_permissions
        else None,
    )
    result = CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _restrict(file_size_limit: int | None, obey_permissions: bool) -> None:
    """Runs in the child between fork and exec."""
    if file_size_limit is not None:
        import resource

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

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()

    try:
        event_loop.run(probe())
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
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    # Each xdist worker starts its own cluster in its own directory; a port is free only
    # until someone binds it, so a worker that loses the race tries another.
    for _attempt in range(5):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
                "-l",
                str(base / "pg.log"),
            ],
            capture_output=True,
        )
        if start.returncode == 0:
            break
    else:
        raise RuntimeError(f"pg_ctl could not start a cluster in {data}: {start.stderr!r}")

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

        return event_loop.run(go())

    sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_server, schema, sql
    finally:
        sql(f'DROP SCHEMA "{schema}" CASCADE')


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def shares_of(pid: int) -> list[int]:
    """The share processes of ``pid`` (not multiprocessing's resource tracker)."""
    found = []
    for child in children_of(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found.append(child)
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class ChildOutput:
    """A child's stdout and stderr read on threads as they come, so a test can wait for a
    line before it goes on: a second Ctrl-C sent before the first one was handled can be
    merged with it by the kernel (a loaded machine may not run the child in between)."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self._err: list[str] = []
        self._out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(proc.stderr, self._err), daemon=True),
            threading.Thread(target=self._read, args=(proc.stdout, self._out), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        if stream is not None:
            for line in stream:
                into.append(line)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self._err)):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {text!r} on stderr: {''.join(self._err)}")
            time.sleep(0.01)

    def finish(self, timeout: float) -> tuple[str, str]:
        """Wait for the child's end; its whole stdout and stderr."""
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return "".join(self._out), "".join(self._err)


def sqlite_orders(path: Path, keys: int) -> Path:
    """A SQLite file at ``path`` holding orders(id 1..keys, name 'n<id>'): every key in the
    range once (what the query tests look up)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)", ((i, f"n{i}") for i in range(1, keys + 1))
        )
    return path
