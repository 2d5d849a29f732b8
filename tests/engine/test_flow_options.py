"""--queue-depth and --max-bytes-per-sec end to end: the real CLI (in-process), watched
from the target's side of the engine."""

from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa
import pytest

from bulkload.backends.base import BatchKey
from bulkload.backends.null import NullBackend
from bulkload.backends.sim import SimBackend, SimPayload


class _ReadAhead:
    """How many batches were read (encoded, on the reader thread) but not yet written,
    at the start of each write: the batch being written, the queue, and the one a
    blocked reader holds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.encoded = 0
        self.written = 0
        self.most = 0
        encode, write = SimBackend.encode, SimBackend.write

        def counting_encode(backend: SimBackend, batch: pa.RecordBatch) -> SimPayload:
            self.encoded += 1
            return encode(backend, batch)

        async def counting_write(
            backend: SimBackend, payload: SimPayload, key: BatchKey | None = None
        ) -> None:
            self.most = max(self.most, self.encoded - self.written)
            await write(backend, payload, key)
            self.written += 1

        monkeypatch.setattr(SimBackend, "encode", counting_encode)
        monkeypatch.setattr(SimBackend, "write", counting_write)


ROWS_300 = "id\n" + "".join(f"{i}\n" for i in range(300))


def _import_slowly(run_cli: Any, *options: str) -> dict[str, Any]:
    # 30 batches to a target taking 5 ms each, one at a time: the reader is far ahead
    args = ("--to", "sim://?latency=5ms", "--batch-size", "10", "-c", "1", "--json", "-", "-q")
    result = run_cli("import", "d.csv", *args, *options)
    assert result.code == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["rows_loaded"] == 300
    return summary


def test_queue_depth_bounds_how_far_reading_runs_ahead(run_cli, write_file, monkeypatch):
    write_file("d.csv", ROWS_300)
    ahead = _ReadAhead(monkeypatch)
    _import_slowly(run_cli, "--queue-depth", "3")
    assert ahead.written == 30
    # the queue fills (3), and never more than queue + in flight (1) + the reader's (1)
    assert 3 <= ahead.most <= 3 + 1 + 1, ahead.most

    ahead = _ReadAhead(monkeypatch)
    _import_slowly(run_cli)  # default for one writer: 8
    assert 8 <= ahead.most <= 8 + 1 + 1, ahead.most


class _Sends:
    """When each batch went out and how many bytes it held, seen by the null target."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.sends: list[tuple[float, int]] = []
        write = NullBackend.write

        async def recording_write(
            backend: NullBackend, payload: pa.RecordBatch, key: BatchKey | None = None
        ) -> None:
            self.sends.append((time.perf_counter(), payload.nbytes))
            await write(backend, payload, key)

        monkeypatch.setattr(NullBackend, "write", recording_write)


def test_max_bytes_per_sec_holds_the_byte_rate(run_cli, write_file, monkeypatch):
    rate = 2_000_000
    burst = 1 << 20  # the bucket holds max(rate / 10, 1 MiB): what may go at once
    write_file("d.csv", "id\n" + "".join(f"{i}\n" for i in range(400_000)))
    seen = _Sends(monkeypatch)
    result = run_cli(
        "import",
        "d.csv",
        *("--to", "null://", "--batch-size", "10000", "--max-bytes-per-sec", str(rate)),
        *("--json", "-", "-q"),
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["rows_loaded"] == 400_000
    total = sum(nbytes for _, nbytes in seen.sends)
    assert total >= 2 * burst  # 3.2 MB of int64: the limit binds for ~1 s
    # By any moment, no more than the bucket plus the rate since the first send has
    # gone out (a loaded machine only sends later, never more)
    first = seen.sends[0][0]
    sent = 0
    for at, nbytes in seen.sends:
        sent += nbytes
        assert sent <= burst + rate * (at - first) * 1.01, (sent, at - first)
    assert seen.sends[-1][0] - first >= (total - burst) / rate * 0.99
