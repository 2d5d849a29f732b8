"""The event loop runs are on: uvloop by default (where installed), asyncio's own with
``BULKLOAD_EVENT_LOOP=asyncio``, and a one-line error for a value that cannot be had.

The rest of the suite runs on the default, uvloop; these tests keep the fallback honest:
a real import, a real sweep and a real Ctrl-C on the standard library's loop."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uvloop

from bulkload import event_loop
from bulkload.errors import UsageError
from tests.conftest import ChildOutput

ENV = event_loop.ENV_VAR


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV, raising=False)
    assert event_loop.run(_loop_module()).startswith("uvloop")
    assert event_loop.loop_name() == "uvloop"


@pytest.mark.parametrize("value", ["uvloop", "UVLOOP", " auto "])
def test_uvloop_when_asked_for_or_auto(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv(ENV, value)
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_asyncio_when_asked_for_whatever_the_policy(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, "asyncio")
    # a process that set uvloop's policy still gets the standard library's loop
    monkeypatch.setattr(asyncio.events, "_event_loop_policy", uvloop.EventLoopPolicy())
    assert event_loop.run(_loop_module()) == "asyncio.unix_events"
    assert event_loop.loop_name() == "asyncio"
    loop = event_loop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()


def test_without_uvloop_auto_falls_back_and_uvloop_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # "import uvloop" raises ImportError
    monkeypatch.delenv(ENV, raising=False)
    assert event_loop.run(_loop_module()) == "asyncio.unix_events"
    monkeypatch.setenv(ENV, "uvloop")
    coro = _loop_module()
    with pytest.raises(UsageError, match="BULKLOAD_EVENT_LOOP=uvloop, but uvloop is not"):
        event_loop.run(coro)
    assert coro.cr_frame is None  # closed, not left "never awaited"


def test_a_bad_value_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, "trio")
    with pytest.raises(UsageError, match="must be one of auto, uvloop, asyncio, not 'trio'"):
        event_loop.choice()


def test_a_bad_value_is_exit_3_before_anything_runs(run_cli, tmp_path: Path):
    (tmp_path / "d.csv").write_text("a\n1\n")
    result = run_cli("import", "d.csv", "--to", "sqlite:///o.db", env={ENV: "tokio"})
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: BULKLOAD_EVENT_LOOP must be one of auto, uvloop, asyncio, not 'tokio'"
    )
    assert not (tmp_path / "o.db").exists()


def test_the_sync_loaders_loop_thread_runs_on_the_chosen_loop(monkeypatch: pytest.MonkeyPatch):
    from bulkload.engine.loop_thread import LoopThread

    for value, module in (("auto", "uvloop"), ("asyncio", "asyncio")):
        monkeypatch.setenv(ENV, value)
        thread = LoopThread()
        try:
            assert thread.run(_loop_module()).startswith(module)
        finally:
            thread.stop()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_sweep_saves_the_loop_it_ran_on(run_cli, tmp_path: Path, loop: str):
    result = run_cli(
        "bench", "--synthetic", "rows=2000,columns=3", "--to", "sqlite:///b.db",
        "--sweep", "1,2", "--batch-size", "100", "--warmup", "0.1s", "--duration", "0.3s",
        "--json", "run.json", env={ENV: "auto" if loop == "uvloop" else "asyncio"},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["machine"]["event_loop"] == loop
    assert [level["concurrency"] for level in saved["levels"]] == [1, 2]
    with sqlite3.connect(tmp_path / "b.db") as conn:
        held = conn.execute("SELECT count(*) FROM bulkload_bench").fetchone()[0]
    assert held == saved["rows_written"] > 0


@pytest.mark.parametrize("loop", ["auto", "asyncio"])
def test_an_import_imports_uvloop_only_when_it_runs_on_it(tmp_path: Path, loop: str):
    """``--version`` imports no uvloop (tests/test_startup.py); a run on it does."""
    (tmp_path / "d.csv").write_text("id,name\n1,a\n2,b\n")
    script = (
        "import sys\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit_:\n"
        "    print(exit_.code, 'uvloop' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "import", "d.csv", "--to", "sqlite:///o.db", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_env(loop),
    )
    assert proc.stderr.split()[-2:] == ["0", str(loop == "auto")], proc.stderr
    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert conn.execute("SELECT count(*) FROM d").fetchone()[0] == 2


@pytest.mark.parametrize("loop", ["auto", "asyncio"])
def test_ctrl_c_drains_then_the_second_aborts_on_either_loop(tmp_path: Path, loop: str):
    """The signals (Python-level handlers, bulkload.cli.signals) on both loops: the
    first Ctrl-C drains and saves, exit 4; a second one mid-drain stops at once."""
    (tmp_path / "e.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(20_000)))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bulkload", "import", "e.csv", "--to", "sqlite:///o.db"),
            *("--batch-size", "500", "--rate", "100", "--json", "s.json", "-q"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(loop),
    )
    output = ChildOutput(proc)
    _wait_for_rows(tmp_path / "o.db", 500)
    proc.send_signal(signal.SIGINT)
    output.wait_for("stopping: finishing the batches in flight")  # the first was handled
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = output.finish(timeout=20)
    assert proc.returncode == 4, err
    assert "stopping: finishing the batches in flight" in err and "Traceback" not in err
    assert time.monotonic() - started < 5  # the drain would wait 5 s for the next batch
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert 0 < summary["rows_loaded"] < 20_000


def _env(loop: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    return {**env, ENV: loop}


def _wait_for_rows(db: Path, at_least: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                if conn.execute("SELECT count(*) FROM e").fetchone()[0] >= at_least:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{db} never reached {at_least} rows")


def test_a_command_runs_with_start_up_frozen_out_of_the_collector_and_unfreezes():
    async def frozen_while_running() -> int:
        return gc.get_freeze_count()

    assert gc.get_freeze_count() == 0
    assert event_loop.run_command(frozen_while_running()) > 1000  # what start-up imported
    assert gc.get_freeze_count() == 0  # the test process gets its collector back
    assert event_loop.run(frozen_while_running()) == 0  # the library's runner leaves it


def test_cancel_and_wait_absorbs_the_tasks_cancellation_but_not_its_owners():
    async def slow_to_stop(stopping: asyncio.Event) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopping.set()
            await asyncio.sleep(0.2)  # cleanup that takes a while
            raise

    async def owner(stopping: asyncio.Event) -> str:
        child = asyncio.create_task(slow_to_stop(stopping))
        await asyncio.sleep(0)
        await event_loop.cancel_and_wait(child)
        return "absorbed"

    async def scenario() -> tuple[str, bool]:
        first = await owner(asyncio.Event())  # nobody cancels the owner
        stopping = asyncio.Event()
        owned = asyncio.create_task(owner(stopping))
        await stopping.wait()
        owned.cancel()  # the owner is cancelled while it waits for its child
        try:
            await owned
        except asyncio.CancelledError:
            return first, True
        return first, False

    assert event_loop.run(scenario()) == ("absorbed", True)
