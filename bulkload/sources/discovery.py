"""Turn the user's paths, globs, directories and '-' into an ordered list of sources."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from bulkload.errors import InputError, UsageError

STDIN = "-"
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One input: a file (or stdin), its format and compression, and its size if known."""

    path: str
    format: str
    compression: str | None
    size: int | None  # bytes on disk (compressed size for compressed files)
    mtime_ns: int | None

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == STDIN else self.path

    @property
    def extension(self) -> str:
        """The format suffix, lower case, behind any compression suffix: '.tsv'."""
        root, ext = os.path.splitext(self.path.lower())
        if ext in COMPRESSIONS:
            ext = os.path.splitext(root)[1]
        return ext

    @property
    def stem(self) -> str:
        """File name without directory, compression or format suffixes."""
        name = Path(self.path).name
        for suffixes in (COMPRESSIONS, FORMATS):
            root, ext = os.path.splitext(name)
            if ext.lower() in suffixes:
                name = root
        return name


def discover(paths: tuple[str, ...], forced_format: str | None = None) -> list[SourceFile]:
    """Expand globs and directories, keep the user's order, and check every file exists."""
    found: list[SourceFile] = []
    seen: set[str] = set()
    for raw in paths:
        for path in _expand(raw):
            if path in seen and path != STDIN:
                continue
            seen.add(path)
            found.append(_describe(path, forced_format))
    if not found:
        raise InputError("no input files found")
    if sum(1 for f in found if f.path == STDIN) > 1:
        raise UsageError("'-' (stdin) can be given only once")
    return found


def _expand(raw: str) -> list[str]:
    if raw == STDIN:
        return [STDIN]
    if glob.has_magic(raw):
        matches = sorted(p for p in glob.glob(raw, recursive=True) if os.path.isfile(p))
        if not matches:
            raise InputError("no file matches this pattern", source=raw)
        return matches
    if os.path.isdir(raw):
        matches = sorted(
            str(p) for p in Path(raw).rglob("*") if p.is_file() and _format_of(str(p)) is not None
        )
        if not matches:
            raise InputError("directory holds no CSV or Parquet files", source=raw)
        return matches
    if not os.path.exists(raw):
        raise InputError("no such file", source=raw)
    return [raw]


def _format_of(path: str) -> str | None:
    name = path.lower()
    root, ext = os.path.splitext(name)
    if ext in COMPRESSIONS:
        root, ext = os.path.splitext(root)
    return FORMATS.get(ext)


def _describe(path: str, forced_format: str | None) -> SourceFile:
    if path == STDIN:
        return SourceFile(STDIN, forced_format or "csv", None, None, None)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=path) from None
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", source=path)
    fmt = forced_format or _format_of(path)
    if fmt is None:
        raise InputError(
            "unknown format: use a .csv or .parquet file or give --format", source=path
        )
    if stat.st_size == 0:
        raise InputError("file is empty", source=path)
    ext = os.path.splitext(path.lower())[1]
    return SourceFile(path, fmt, COMPRESSIONS.get(ext), stat.st_size, stat.st_mtime_ns)
