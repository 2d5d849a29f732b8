"""The bad-records file: every rejected row, as it appeared in the source, with why.

CSV with columns ``source,line,reason,record``; ``record`` holds the row's original
text (CSV sources) or its values as JSON (Parquet). The file is created on the first
rejection only, and flushed as rows arrive so a crash keeps what was written.
"""

from __future__ import annotations

import contextlib
import csv
import threading
from pathlib import Path
from typing import IO

from bulkload.csv_fields import unlimited_fields
from bulkload.errors import AbortedError, UsageError
from bulkload.sources.batch import Rejection


class BadRecordsFile:
    """``append`` (a resumed run): rows already in the file are not written again. A
    run killed mid-way had written the rejections of batches it never committed, and
    the resumed run reads those batches, and rejects those rows, once more."""

    def __init__(self, path: str | Path, *, append: bool = False):
        self.path = Path(path)
        self._mode = "a" if append else "w"
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._lock = threading.Lock()
        self._recorded: set[tuple[str, str]] = set()  # (source, line) in the file before

    def __call__(self, rejection: Rejection) -> None:
        with self._lock:
            if self._writer is None:
                self._open()
            assert self._writer is not None and self._file is not None
            if rejection.line is not None and self._recorded:
                key = (rejection.source, str(rejection.line))
                if key in self._recorded:
                    self._recorded.discard(key)  # the same row twice in this run: write it
                    self.count += 1
                    return
            try:
                self._writer.writerow(
                    {
                        "source": rejection.source,
                        "line": "" if rejection.line is None else rejection.line,
                        "reason": rejection.reason,
                        "record": rejection.record if rejection.record is not None else "",
                    }
                )
                self._file.flush()
            except OSError as exc:
                # A rejected row that cannot be kept would be lost: stop the run.
                raise AbortedError(
                    f"--bad-records: cannot write {self.path}: {exc.strerror or exc}"
                ) from None
            self.count += 1

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = self._mode == "w" or not self.path.exists() or self.path.stat().st_size == 0
            if not fresh:
                self._recorded = _recorded_rows(self.path)
            handle = open(self.path, self._mode, encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"--bad-records: cannot write {self.path}: {exc.strerror}") from None
        self._file = handle
        self._writer = csv.DictWriter(handle, fieldnames=["source", "line", "reason", "record"])
        if fresh:
            self._writer.writeheader()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                handle, self._file = self._file, None
                # Whatever was not flushed was reported when writing failed.
                with contextlib.suppress(OSError):
                    handle.close()


def _recorded_rows(path: Path) -> set[tuple[str, str]]:
    """(source, line) of the rows a file from an earlier run holds (none if it is not
    one: then everything is written, as before)."""
    with open(path, encoding="utf-8", newline="") as handle, unlimited_fields():
        try:
            return {
                (row["source"], row["line"])
                for row in csv.DictReader(handle)
                if row.get("line") and row.get("source") is not None
            }
        except (csv.Error, UnicodeDecodeError):
            return set()
