"""Binary input streams: open a source, count the bytes it consumes, decompress it."""

from __future__ import annotations

import bz2
import gzip
import io
import sys
from typing import BinaryIO

from bulkload.sources.discovery import STDIN, SourceFile


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts the bytes read from it (before decompression)."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n

    def close(self) -> None:
        if self._inner is not sys.stdin.buffer:
            self._inner.close()
        super().close()


class ReplayReader(io.RawIOBase):
    """Serves ``prefix`` first, then the rest of ``inner``: lets us peek at a header on
    streams that cannot seek (stdin, decompressors).

    It also counts one byte value (the quote character): an odd total at the end of a
    CSV file means a quote was opened and never closed.
    """

    def __init__(self, prefix: bytes, inner: BinaryIO, count_byte: bytes | None = None):
        self._prefix = memoryview(prefix)
        self._inner = inner
        self._count_byte = count_byte
        self.counted = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            data = bytes(self._prefix[:n])
            self._prefix = self._prefix[n:]
        else:
            data = self._inner.read(len(buffer))
            n = len(data)
        buffer[:n] = data
        if self._count_byte:
            self.counted += data.count(self._count_byte)
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_source(source: SourceFile) -> tuple[BinaryIO, CountingReader]:
    """Open a source for reading decompressed bytes; also return its byte counter."""
    raw: BinaryIO = sys.stdin.buffer if source.path == STDIN else open(source.path, "rb")  # noqa: SIM115
    counter = CountingReader(raw)
    counted = io.BufferedReader(counter, buffer_size=1 << 20)
    stream: BinaryIO
    if source.compression == "gzip":
        stream = gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[assignment]
    elif source.compression == "bz2":
        stream = bz2.BZ2File(counted, mode="rb")  # type: ignore[assignment]
    elif source.compression == "zstd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(counted, read_across_frames=True)
    else:
        stream = counted
    return stream, counter
