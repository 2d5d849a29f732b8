"""bytes_read (and MB/s with it) describes the rows the run handled: not the bytes the
parser read ahead (--limit counted the whole 1 MB blocks read), not the rows a resumed
run skipped (whose batches held the bytes read ahead, so a resume reported 0 bytes)."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ChildOutput

ROWS = 120_000  # several of the parser's 1 MB blocks


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    # ids grow from 1 to 6 digits: rows differ in size, as real ones do
    path.write_text("id,name,note\n" + "".join(f"{i},name{i},a note {i}\n" for i in range(ROWS)))
    return path


def _size_of_rows(path: Path, first: int, count: int) -> int:
    """The bytes of data rows first..first+count-1 as they are in the file."""
    lines = path.read_bytes().splitlines(keepends=True)[1:]
    return sum(map(len, lines[first : first + count]))


def _summary(tmp_path: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / name).read_text())
    return document


def _import(run_cli: Any, name: str, *extra: str) -> Any:
    result = run_cli(
        "import", name, "--to", "null://", "--table", "t", "--batch-size", "500",
        "--progress", "off", *extra,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return result


def test_a_limited_run_counts_the_bytes_of_its_rows_only(
    run_cli: Any, big: Path, tmp_path: Path
) -> None:
    _import(run_cli, "big.csv", "--limit", "1000", "--json", "s.json")
    summary = _summary(tmp_path, "s.json")
    assert summary["rows_read"] == 1000
    assert summary["bytes_read"] == pytest.approx(_size_of_rows(big, 0, 1000), rel=0.02)


def test_a_resumed_run_counts_the_bytes_of_the_rows_it_read(
    run_cli: Any, big: Path, tmp_path: Path
) -> None:
    first = 30_000
    common = ("--checkpoint", "run.ckpt")
    _import(run_cli, "big.csv", *common, "--limit", str(first), "--json", "first.json")
    _import(run_cli, "big.csv", *common, "--resume", "--json", "resumed.json")
    before, after = _summary(tmp_path, "first.json"), _summary(tmp_path, "resumed.json")
    assert (after["rows_skipped"], after["rows_read"]) == (first, ROWS - first)
    assert before["bytes_read"] == pytest.approx(_size_of_rows(big, 0, first), rel=0.01)
    assert after["bytes_read"] == pytest.approx(_size_of_rows(big, first, ROWS), rel=0.01)
    assert after["mb_per_s"] > 0
    # the two runs handled every byte of the file between them, none twice
    assert before["bytes_read"] + after["bytes_read"] == big.stat().st_size


def test_a_batch_given_back_at_an_abort_gives_its_bytes_back(big: Path, tmp_path: Path) -> None:
    """A second Ctrl-C while a batch waits for the rate limit: the batch is cut, not
    sent (--resume takes it), so neither its rows nor its bytes count as read."""
    command = [
        *(sys.executable, "-m", "bulkload", "import", "big.csv", "--to", "null://"),
        *("--table", "t", "--batch-size", "5000", "--rate", "5000", "--checkpoint"),
        *("run.ckpt", "--json", "s.json", "-q"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    output = ChildOutput(proc)
    deadline = time.monotonic() + 30
    while not (tmp_path / "run.ckpt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # saved once a second once batches are committed
    proc.send_signal(signal.SIGINT)
    output.wait_for("stopping: finishing the batches in flight")
    proc.send_signal(signal.SIGINT)  # the next batch waits 1 s for the rate: cut
    _, err = output.finish(timeout=30)
    assert proc.returncode == 4, err
    summary = _summary(tmp_path, "s.json")
    rows = summary["rows_read"]
    assert 0 < rows < ROWS and rows == summary["rows_loaded"]
    assert summary["bytes_read"] == pytest.approx(_size_of_rows(big, 0, rows), rel=0.005)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_whole_file_adds_up_to_its_size(
    run_cli: Any, big: Path, tmp_path: Path, compressed: bool
) -> None:
    name = "big.csv"
    if compressed:
        name = "big.csv.gz"
        (tmp_path / name).write_bytes(gzip.compress(big.read_bytes()))
    _import(run_cli, name, "--json", "s.json")
    summary = _summary(tmp_path, "s.json")
    assert summary["rows_read"] == ROWS
    assert summary["bytes_read"] == (tmp_path / name).stat().st_size


@pytest.mark.parametrize("limit", [30_000, 50_000, 100_000])
def test_a_limited_run_of_a_compressed_file_counts_about_its_rows_share(
    run_cli: Any, tmp_path: Path, limit: int
) -> None:
    """A .gz file read in part: its rows' bytes are estimated from the compression ratio
    of what was decompressed, not from the compressed bytes buffered ahead of it (which
    made the first quarter or half of a 2.8 MB file count up to 1.48 times its share)."""
    rng = random.Random(7)
    rows = 200_000  # 2.8 MB compressed: several of the 1 MB reads buffered ahead
    text = "id,name,v\n" + "".join(f"{i},name{i},{rng.random()}\n" for i in range(rows))
    packed = gzip.compress(text.encode())
    (tmp_path / "big.csv.gz").write_bytes(packed)
    (tmp_path / "big.csv").write_text(text)
    _import(run_cli, "big.csv.gz", "--limit", str(limit), "--json", "s.json")
    part = _size_of_rows(tmp_path / "big.csv", 0, limit) / len(text)
    assert _summary(tmp_path, "s.json")["bytes_read"] == pytest.approx(
        part * len(packed), rel=0.15
    )  # the early part of a deflate stream compresses less: its ratio is ~7% higher
