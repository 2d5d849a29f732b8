"""Binary input streams: open a source, count the bytes it consumes, decompress it."""

from __future__ import annotations

import bz2
import io
import sys
import zlib
from collections.abc import Callable
from typing import BinaryIO, Protocol

from bulkload.sources.discovery import STDIN, SourceFile


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts the bytes read from it (before decompression)."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        # straight into the caller's buffer: a read() here, then a copy, cost ~80 ms of
        # CPU per 90 MB file (a fresh 1 MB object, page faults and a copy per read)
        n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_read += n or 0
        return n or 0

    def close(self) -> None:
        if self._inner is not sys.stdin.buffer:
            self._inner.close()
        super().close()


_SAFE_READ = 64 * 1024  # what a failing read may lose, at most


class ReplayReader(io.RawIOBase):
    """Serves ``prefix`` first, then the rest of ``inner``: lets us peek at a header on
    streams that cannot seek (stdin, decompressors).

    After the stream's last byte it serves ``end``, once, unless a read error cut the
    stream short: bytes whose parse tells how the file ends (see the CSV reader).
    """

    def __init__(self, prefix: bytes, inner: BinaryIO, end: bytes = b""):
        self._prefix = memoryview(prefix)
        self._inner = inner
        self._end = end
        #: the error that cut the stream short (a truncated or corrupt file), if any
        self.failure: Exception | None = None
        #: bytes of the stream handed out so far, the prefix included (decompressed, if
        #: it was), ``end`` not
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """The next bytes as they come from ``inner``, without the bytearray and the
        copies of ``RawIOBase.read`` (``readinto`` below copies them once, into the
        buffer of the reader pyarrow is given)."""
        if size is None or size < 0:
            return self.readall()
        if self._prefix:
            data = bytes(self._prefix[:size])
            self._prefix = self._prefix[size:]
        elif self.failure is not None:
            return b""
        else:
            data = self._read_until_failure(size)
        self.served += len(data)
        if not data and self.failure is None and self._end:
            data, self._end = self._end[:size], self._end[size:]
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read_until_failure(self, size: int) -> bytes:
        """Up to ``size`` bytes, in small reads: when the inner stream fails (a truncated
        file), what came before is kept, the error is held back in ``failure`` and the
        stream ends here. (The parser reads ahead of the rows it has returned and would
        otherwise drop them; a decompressor's failed read drops what it had decoded.)"""
        pieces: list[bytes] = []
        left = size
        while left > 0:
            try:
                piece = self._inner.read(min(left, _SAFE_READ))
            except Exception as exc:
                self.failure = exc
                break
            if not piece:
                break
            pieces.append(piece)
            left -= len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> None:
        self._inner.close()
        super().close()


class _Decompressor(Protocol):
    """zlib's, bz2's and zstandard's incremental decompressors, as used here."""

    def decompress(self, data: bytes) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


class DecompressingReader(io.RawIOBase):
    """Decompresses gzip members, bz2 streams or zstd frames one after another, handing
    out every byte the data holds before it raises ``EOFError`` where the data ends
    inside one. The standard library's ``GzipFile`` and ``BZ2File`` raise from the
    read that reaches the cut and drop what that read had decoded (up to 64 KB of rows
    a truncated file still held), and zstandard's ``stream_reader`` just stops there,
    which would load a truncated file as if it were whole."""

    def __init__(self, inner: BinaryIO, new: Callable[[], _Decompressor], name: str):
        self._inner = inner
        self._new = new
        self._name = name
        self._unit = new()
        # zstandard is imported by the first zstd unit, before anything is decompressed
        self._errors: tuple[type[BaseException], ...] = (OSError, zlib.error, *zstd_errors())
        self._in_unit = False  # compressed bytes of the current member/frame were fed
        self._pending = memoryview(b"")  # decompressed, not yet read: sliced, not copied
        self._error: OSError | None = None  # bad data, raised once what preceded it is read
        #: compressed bytes fed to the decompressor and what they gave: their ratio
        #: estimates the source bytes of decompressed text (the bytes read from the file
        #: run up to 1 MB ahead of what was decompressed)
        self.fed = 0
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if self._error is not None:
                raise self._error
            compressed = self._inner.read(_COMPRESSED_READ)
            if not compressed:
                if self._in_unit:
                    raise EOFError(f"{self._name} data ended before the end of its stream")
                return 0
            self.fed += len(compressed)
            self._feed(compressed)
            self.produced += len(self._pending)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, compressed: bytes) -> None:
        parts = []
        while compressed:
            self._in_unit = True
            try:
                parts.append(self._unit.decompress(compressed))
            except self._errors as exc:
                # what came before the bad bytes is handed out first, then the error
                # (an OSError, as the standard library's readers raise)
                self._error = OSError(f"not valid {self._name} data: {exc}")
                break
            compressed = b""
            if self._unit.eof:  # the unit is whole; what follows starts the next one
                compressed = self._unit.unused_data
                self._unit = self._new()
                self._in_unit = False
        self._pending = memoryview(b"".join(parts))

    def close(self) -> None:
        self._inner.close()
        super().close()


_COMPRESSED_READ = 1 << 17


def _zstd() -> _Decompressor:
    import zstandard  # ~10-20 ms: imported by the first .zst input

    return zstandard.ZstdDecompressor().decompressobj()


def zstd_errors() -> tuple[type[BaseException], ...]:
    """zstandard's error class if zstandard was imported (else none of it was raised)."""
    zstandard = sys.modules.get("zstandard")
    return () if zstandard is None else (zstandard.ZstdError,)


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "gzip": lambda: zlib.decompressobj(wbits=zlib.MAX_WBITS | 16),  # gzip header and trailer
    "bz2": bz2.BZ2Decompressor,
    "zstd": _zstd,
}


def open_source(source: SourceFile) -> tuple[BinaryIO, CountingReader]:
    """Open a source for reading decompressed bytes; also return its byte counter."""
    raw: BinaryIO = sys.stdin.buffer if source.path == STDIN else open(source.path, "rb")  # noqa: SIM115
    counter = CountingReader(raw)
    counted = io.BufferedReader(counter, buffer_size=1 << 20)
    stream: BinaryIO = counted
    if source.compression in _DECOMPRESSORS:
        new = _DECOMPRESSORS[source.compression]
        stream = DecompressingReader(counted, new, source.compression)  # type: ignore[assignment]
    return stream, counter
