"""Checked by mypy (tests/test_api_types.py), never run: what a type checker infers
from the public API. ``assert_type`` fails the check when an inferred type differs."""

from __future__ import annotations

from typing import assert_type

import pyarrow as pa

import bulkload
from bulkload import ExecutionResult, ResultsGenerator, RunStats, SweepResult


def check(batches: list[pa.RecordBatch], flag: bool) -> None:
    url = "sqlite:///x.db"
    assert_type(bulkload.execute_concurrent(url, batches, table="t"), list[ExecutionResult])
    assert_type(
        bulkload.execute_concurrent(url, batches, 8, True, False, table="t"), list[ExecutionResult]
    )
    assert_type(
        bulkload.execute_concurrent(url, batches, 8, True, True, table="t"), ResultsGenerator
    )
    assert_type(
        bulkload.execute_concurrent(url, batches, results_generator=True, table="t"),
        ResultsGenerator,
    )
    assert_type(
        bulkload.execute_concurrent(url, batches, results_generator=flag, table="t"),
        list[ExecutionResult] | ResultsGenerator,
    )
    assert_type(bulkload.load("a.csv", to=url, table="t", concurrency=8), RunStats)
    assert_type(bulkload.load(["a.csv", "b.csv"], batch_size=1000, timeout="2s"), RunStats)
    assert_type(bulkload.bench(synthetic="rows=10", to="sim://", sweep=[1, 2]), SweepResult)
    stats = bulkload.load("a.csv")
    assert_type(stats.outcome, bulkload.Outcome)
    assert_type(stats.outcome == "completed", bool)  # compares with text, as before
    outcome: str = stats.outcome  # an Outcome is a str
    del outcome
