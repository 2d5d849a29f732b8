"""A PostgreSQL write whose COMMIT got no answer, against the real server.

A deferred constraint trigger sleeps while COMMIT runs (once per test: a sequence, which
no rollback resets, says which call is first); meanwhile the test terminates that
session with pg_terminate_backend, as a server restart would. The client cannot tell
whether the batch committed: without --checkpoint its retry may store it twice, so its
rows are counted in doubt; with --checkpoint the key recorded in the batch's own
transaction settles it. A session killed during the COPY itself leaves nothing in doubt:
the transaction never got as far as committing.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

# one worker runs them in turn: a test's killer terminates any bulkload session asleep
# at COMMIT (the statement names no schema), so two at once could take each other's
pytestmark = pytest.mark.xdist_group("pg-commit-doubt")

ROWS = 2000
BATCH = 500
SLOW_ID = 1200  # in the third batch


def _table(sql: Any, schema: str, *, at_commit: bool) -> None:
    """The target table, made beforehand, with a trigger that sleeps once: at COMMIT
    (deferred constraint trigger) or during the COPY (a plain row trigger)."""
    sql(f'CREATE TABLE "{schema}".k (id bigint, v text)')
    sql(f'CREATE SEQUENCE "{schema}".once')
    sql(
        f'CREATE FUNCTION "{schema}".sleep_once() RETURNS trigger LANGUAGE plpgsql AS $$ '
        f"BEGIN IF nextval('\"{schema}\".once') = 1 THEN PERFORM pg_sleep(20); END IF; "
        "RETURN NULL; END $$"
    )
    kind = "CONSTRAINT TRIGGER" if at_commit else "TRIGGER"
    deferred = "DEFERRABLE INITIALLY DEFERRED" if at_commit else ""
    sql(
        f'CREATE {kind} slow AFTER INSERT ON "{schema}".k {deferred} FOR EACH ROW '
        f'WHEN (NEW.id = {SLOW_ID}) EXECUTE FUNCTION "{schema}".sleep_once()'
    )


class _Killer(threading.Thread):
    """Terminates the bulkload session that sleeps in the trigger, once it does."""

    def __init__(self, sql: Any, schema: str, statement: str):
        super().__init__(daemon=True)
        self.sql, self.schema, self.statement = sql, schema, statement
        self.killed: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while not self.killed and time.monotonic() < deadline:
            self.killed = [
                row[0]
                for row in self.sql(
                    # OFFSET 0: the sessions are chosen first, then terminated
                    "SELECT query, pg_terminate_backend(pid) FROM (SELECT pid, query "
                    "FROM pg_stat_activity WHERE application_name = 'bulkload' "
                    "AND wait_event = 'PgSleep' AND query ILIKE $1 OFFSET 0) AS sleeping",
                    f"{self.statement}%",
                )
            ]
            time.sleep(0.02)


def _run(run_cli: Any, dsn: str, schema: str, sql: Any, statement: str, *extra: str) -> Any:
    killer = _Killer(sql, schema, statement)
    killer.start()
    result = run_cli(
        "import", "k.csv", "--to", dsn, "--schema-name", schema, "--batch-size", str(BATCH),
        "-c", "1", "--retry-max-wait", "0.1", "--json", "s.json", "--progress", "off", *extra,
    )  # fmt: skip
    killer.join(timeout=5)
    assert killer.killed, "the session was never caught sleeping in the trigger"
    return result


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "k.csv"
    path.write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(ROWS)))
    return path


def test_a_commit_without_an_answer_puts_its_rows_in_doubt(
    pg: Any, run_cli: Any, source: Path, tmp_path: Path
) -> None:
    dsn, schema, sql = pg
    _table(sql, schema, at_commit=True)
    result = _run(run_cli, dsn, schema, sql, "COMMIT")
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == BATCH  # the retry may have stored it a second time
    assert f"{BATCH} rows in doubt: the write got no answer after it was sent" in result.stdout
    assert "one sent again and loaded may be there twice" in result.stdout
    # (here the kill came before the commit was done, so the rows are there once)
    ids = sorted(r[0] for r in sql(f'SELECT id FROM "{schema}".k'))
    assert ids == list(range(ROWS))


def test_with_a_checkpoint_the_recorded_key_settles_the_commit(
    pg: Any, run_cli: Any, source: Path, tmp_path: Path
) -> None:
    dsn, schema, sql = pg
    _table(sql, schema, at_commit=True)
    result = _run(run_cli, dsn, schema, sql, "COMMIT", "--checkpoint", "k.ckpt")
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == 0 and "in doubt" not in result.stdout
    ids = sorted(r[0] for r in sql(f'SELECT id FROM "{schema}".k'))
    assert ids == list(range(ROWS))


def test_a_copy_cut_before_its_commit_leaves_nothing_in_doubt(
    pg: Any, run_cli: Any, source: Path, tmp_path: Path
) -> None:
    dsn, schema, sql = pg
    _table(sql, schema, at_commit=False)
    result = _run(run_cli, dsn, schema, sql, "COPY")
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["retries"] == 1 and summary["rows_loaded"] == ROWS
    assert summary["rows_in_doubt"] == 0 and "in doubt" not in result.stdout
    ids = sorted(r[0] for r in sql(f'SELECT id FROM "{schema}".k'))
    assert ids == list(range(ROWS))
