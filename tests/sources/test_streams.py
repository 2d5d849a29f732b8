"""The byte streams under the CSV parser: what they count and what they hand on."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bulkload.sources.discovery import discover
from bulkload.sources.streams import ReplayReader, open_source


def _content() -> bytes:
    # quotes spread over many blocks, some rows wider than others
    rows = [f'{i},"name {i}",{"x" * (i % 50)}\n'.encode() for i in range(20_000)]
    return b"id,name,pad\n" + b"".join(rows)


@pytest.mark.parametrize("compressed", [False, True])
def test_every_byte_is_handed_on_once_and_counted(tmp_path: Path, compressed: bool):
    content = _content()
    path = tmp_path / ("data.csv.gz" if compressed else "data.csv")
    path.write_bytes(gzip.compress(content) if compressed else content)
    (source,) = discover((str(path),))
    stream, counter = open_source(source)
    prefix = stream.read(1000)
    replay = ReplayReader(prefix, stream, b'"')
    pieces = []
    for size in (10, 5000, 1 << 16, 1 << 20, 3, 1 << 20):  # straddling the prefix, then not
        pieces.append(replay.read(size))
    while piece := replay.read(1 << 18):
        pieces.append(piece)
    buffer = bytearray(10)
    assert replay.readinto(memoryview(buffer)) == 0  # at the end
    replay.close()

    assert b"".join(pieces) == content
    assert replay.counted == content.count(b'"') == 40_000
    assert counter.bytes_read == path.stat().st_size


def test_readinto_fills_the_buffer_from_the_prefix_then_the_stream(tmp_path: Path):
    path = tmp_path / "data.csv"
    path.write_bytes(b'a,"b"\n1,2\n')
    (source,) = discover((str(path),))
    stream, _ = open_source(source)
    replay = ReplayReader(stream.read(4), stream, b'"')
    buffer = bytearray(64)
    first = replay.readinto(memoryview(buffer))
    second = replay.readinto(memoryview(buffer)[first:])
    assert bytes(buffer[: first + second]) == b'a,"b"\n1,2\n'
    assert replay.counted == 2
