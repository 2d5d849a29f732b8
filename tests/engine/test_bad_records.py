"""The bad-records file across a run that was killed and resumed."""

from __future__ import annotations

import csv
from pathlib import Path

from bulkload.csv_fields import unlimited_fields
from bulkload.engine.bad_records import BadRecordsFile
from bulkload.sources.batch import Rejection


def _reject(sink: BadRecordsFile, *lines: int, record: str = "x") -> None:
    for line in lines:
        sink(Rejection("d.csv", line, "expected 2 fields, found 1", f"{record}{line}"))
    sink.close()


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle, unlimited_fields():
        return [row["line"] for row in csv.DictReader(handle)]


def test_a_resumed_run_does_not_write_the_rows_the_killed_run_wrote(tmp_path: Path):
    path = tmp_path / "t.bad-records.csv"
    # the killed run wrote the rejections of batches it never committed (5, 7) ...
    _reject(BadRecordsFile(path), 3, 5, 7)
    # ... and the resumed run reads those batches, and rejects those rows, again
    resumed = BadRecordsFile(path, append=True)
    _reject(resumed, 5, 7, 9)
    assert _lines(path) == ["3", "5", "7", "9"]
    assert resumed.count == 3  # the run's own rejections, all counted


def test_records_larger_than_the_csv_modules_limit_are_read_back(tmp_path: Path):
    path = tmp_path / "t.bad-records.csv"
    huge = "y" * 300_000  # csv refuses fields over 128 KB unless told otherwise
    _reject(BadRecordsFile(path), 4, record=huge)
    _reject(BadRecordsFile(path, append=True), 4, 6, record=huge)
    assert _lines(path) == ["4", "6"]
    assert csv.field_size_limit() == 131_072  # lifted for the read only


def test_a_new_run_starts_the_file_afresh(tmp_path: Path):
    path = tmp_path / "t.bad-records.csv"
    _reject(BadRecordsFile(path), 3, 5)
    _reject(BadRecordsFile(path), 5)
    assert _lines(path) == ["5"]
