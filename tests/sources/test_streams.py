"""The byte streams under the CSV parser: what they count and what they hand on."""

from __future__ import annotations

import bz2
import gzip
import zlib
from pathlib import Path

import pytest
import zstandard

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
    replay = ReplayReader(prefix, stream, b"<end>")
    pieces = []
    for size in (10, 5000, 1 << 16, 1 << 20, 3, 1 << 20):  # straddling the prefix, then not
        pieces.append(replay.read(size))
    while piece := replay.read(1 << 18):
        pieces.append(piece)
    buffer = bytearray(10)
    assert replay.readinto(memoryview(buffer)) == 0  # at the end
    replay.close()

    assert b"".join(pieces) == content + b"<end>"  # the end marker, once, after the file
    assert counter.bytes_read == path.stat().st_size


def test_readinto_fills_the_buffer_from_the_prefix_then_the_stream(tmp_path: Path):
    path = tmp_path / "data.csv"
    path.write_bytes(b'a,"b"\n1,2\n')
    (source,) = discover((str(path),))
    stream, _ = open_source(source)
    replay = ReplayReader(stream.read(4), stream)
    buffer = bytearray(64)
    first = replay.readinto(memoryview(buffer))
    second = replay.readinto(memoryview(buffer)[first:])
    assert bytes(buffer[: first + second]) == b'a,"b"\n1,2\n'


COMPRESS = {
    "gz": lambda data: gzip.compress(data, compresslevel=1),
    "bz2": lambda data: bz2.compress(data, compresslevel=1),
    "zst": zstandard.compress,
}
DECOMPRESS_SOME = {  # what a streaming decompressor yields from a cut file
    "gz": lambda data: zlib.decompressobj(wbits=31).decompress(data),
    "bz2": lambda data: bz2.BZ2Decompressor().decompress(data),
    "zst": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


def _read_all(path: Path) -> tuple[bytes, BaseException | None]:
    (source,) = discover((str(path),))
    stream, _ = open_source(source)
    pieces = []
    try:
        while piece := stream.read(1 << 16):
            pieces.append(piece)
    except (EOFError, OSError) as exc:
        return b"".join(pieces), exc
    return b"".join(pieces), None


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_concatenated_members_are_read_one_after_another(tmp_path: Path, ext: str):
    first, second = _content(), b"id,name,pad\n" + b"9,tail,x\n" * 1000
    path = tmp_path / f"two.csv.{ext}"
    path.write_bytes(COMPRESS[ext](first) + COMPRESS[ext](second))
    assert _read_all(path) == (first + second, None)


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_a_cut_file_hands_out_everything_before_the_cut_then_fails(tmp_path: Path, ext: str):
    packed = COMPRESS[ext](_content())
    for cut in (len(packed) // 3, len(packed) // 2, len(packed) - 7):
        path = tmp_path / f"cut{cut}.csv.{ext}"
        path.write_bytes(packed[:cut])
        data, error = _read_all(path)
        assert isinstance(error, EOFError), error
        # the standard library's readers dropped the last read's bytes (up to 64 KB)
        assert data == DECOMPRESS_SOME[ext](packed[:cut])
        assert len(data) > 0


def test_garbage_after_a_gzip_member_is_an_error(tmp_path: Path):
    path = tmp_path / "junk.csv.gz"
    path.write_bytes(gzip.compress(b"id\n1\n") + b"not gzip at all")
    data, error = _read_all(path)
    assert data == b"id\n1\n"
    assert isinstance(error, OSError) and "not valid gzip data" in str(error)


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_a_cut_file_gets_no_end_marker(tmp_path: Path, ext: str):
    # the marker tells how a whole file ends; after a cut the stream just stops
    packed = COMPRESS[ext](_content())
    path = tmp_path / f"cut.csv.{ext}"
    path.write_bytes(packed[: len(packed) // 2])
    (source,) = discover((str(path),))
    stream, _ = open_source(source)
    replay = ReplayReader(b"", stream, b"<end>")
    data = b""
    while piece := replay.read(1 << 16):
        data += piece
    assert isinstance(replay.failure, EOFError)
    assert data == DECOMPRESS_SOME[ext](packed[: len(packed) // 2])
