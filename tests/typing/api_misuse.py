"""Checked by mypy (tests/test_api_types.py): each line marked as an error must be
reported, and no other: a required argument left out, a keyword misspelt, a value of the
wrong type."""

from __future__ import annotations

import pyarrow as pa

import bulkload


def misuse(batches: list[pa.RecordBatch]) -> None:
    bulkload.execute_concurrent("sqlite:///x.db", batches)  # error: no table
    bulkload.AsyncLoader("sqlite:///x.db")  # error: no table
    bulkload.load("a.csv", concurency=8)  # error: misspelt
    bulkload.load("a.csv", concurrency="eight", header="yes")  # error: not a str / bool
    bulkload.bench(synthetic="rows=10", processes=2)  # error: the CLI's only
