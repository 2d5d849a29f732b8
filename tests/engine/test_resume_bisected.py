"""Resume after a batch that was split to isolate bad rows: its good pieces commit one by
one, the run dies between two of them, and the resumed run loads every row exactly once.
A real SQLite file; the crash is injected at a chosen write so it lands mid-bisection
(a kill -9 of the CLI is tested in test_shutdown_resume.py, at a moment it cannot pick)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from bulkload import event_loop
from bulkload.backends.base import BatchKey
from bulkload.backends.sqlite import SQLiteBackend
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine import Engine
from bulkload.engine.checkpoint import CheckpointFile
from bulkload.errors import TargetError
from bulkload.options import build_import_config
from bulkload.sources import BatchSource
from bulkload.stats import RunStats

ROWS = 60
BATCH = 20
BAD = {5, 27}  # rows the table's CHECK constraint refuses: batches 0 and 1 are bisected


class _CrashingSQLite(SQLiteBackend):
    """Fails fatally at its ``crash_at``-th write, ending the run there. (The engine then
    still saves its checkpoint file; the "lost" case deletes it, as a kill -9 would.)"""

    def __init__(self, url: str, crash_at: int):
        super().__init__(url, TargetOptions())
        self.crash_at = crash_at
        self.calls = 0

    async def write(self, payload: pa.RecordBatch, key: BatchKey | None = None) -> None:
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError("killed")
        await super().write(payload, key)


def _run(tmp_path: Path, backend: SQLiteBackend, resume: bool) -> RunStats:
    csv = tmp_path / "events.csv"
    config = build_import_config({"paths": [str(csv)], "batch_size": BATCH})
    checkpoint = CheckpointFile(tmp_path / "events.ckpt", table="events", batch_size=BATCH)
    options = EngineOptions(concurrency=1, resume=resume)
    engine = Engine(backend, options, RunStats(), checkpoint=checkpoint)
    return event_loop.run(engine.run(BatchSource(config.source), "events", "append"))


@pytest.mark.parametrize("checkpoint_file", ["kept", "lost"])
def test_resume_after_a_bisected_batch_loads_every_row_once(tmp_path: Path, checkpoint_file):
    db = tmp_path / "o.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, payload TEXT CHECK (payload <> 'bad'))")
    rows = [(i, "bad" if i in BAD else f"row {i}") for i in range(ROWS)]
    (tmp_path / "events.csv").write_text(
        "id,payload\n" + "".join(f"{i},{payload}\n" for i, payload in rows)
    )
    # Batch 0's writes: rows 0-19 fail, 0-9 fail, 0-4 commit, 5-9 fail, 5-6 fail,
    # 5 is rejected, 6 commits, then the 8th write (rows 7-9) dies.
    crashing = _CrashingSQLite(f"sqlite:///{db}", crash_at=8)
    with pytest.raises(TargetError, match="killed"):
        _run(tmp_path, crashing, resume=False)
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")] == [
            0,
            1,
            2,
            3,
            4,
            6,
        ]
    if checkpoint_file == "lost":  # kill -9: no final save; the table's own record remains
        (tmp_path / "events.ckpt").unlink()

    stats = _run(tmp_path, SQLiteBackend(f"sqlite:///{db}", TargetOptions()), resume=True)
    assert stats.outcome == "completed"
    assert stats.rows_skipped == 6  # the two committed pieces of batch 0
    assert stats.rows_rejected == len(BAD)  # row 5 again (rejections are not committed)
    assert stats.rows_loaded == ROWS - 6 - len(BAD)
    with sqlite3.connect(db) as conn:
        table = conn.execute("SELECT id, payload FROM events ORDER BY id").fetchall()
    # row for row: every good source row once, none twice, none lost, none invented
    assert table == [row for row in rows if row[0] not in BAD]
