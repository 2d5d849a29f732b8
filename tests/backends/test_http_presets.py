"""Presets for real bulk APIs, against fakes that follow their documented formats:
Elasticsearch/OpenSearch ``_bulk`` (per-item results) and ClickHouse's HTTP interface.
A real OpenSearch or ClickHouse cannot be installed on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bulkload
from bulkload.errors import TargetError
from bulkload.options import build_import_config
from tests.engine.library_helpers import hang_guard  # noqa: F401
from tests.servers.fixtures import IngestServer

CSV = "id,name,day\n" + "".join(f"{i},name{i},2024-01-{i % 28 + 1:02d}\n" for i in range(1, 101))


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    return path


def run(path: Path, url: str, **options: Any) -> tuple[bulkload.RunStats, list[bulkload.Rejection]]:
    settings = {"paths": [str(path)], "to": url, "batch_size": 25, "quiet": True, **options}
    rejected: list[bulkload.Rejection] = []
    stats = bulkload.load(build_import_config(settings), on_reject=rejected.append)
    return stats, rejected


@pytest.mark.parametrize("preset", ["elasticsearch", "opensearch"])
def test_bulk_items_refused_are_rejected_with_their_reason_and_only_they(
    ingest: IngestServer, csv_file: Path, preset: str
) -> None:
    ingest.control(reject=["name7", "name60"])
    stats, rejected = run(csv_file, ingest.url, http_preset=preset, concurrency=2)
    state = ingest.state()
    assert stats.rows_loaded == 98 and stats.rows_rejected == 2
    assert sorted(row["id"] for row in state["rows"]) == [
        i for i in range(1, 101) if i not in (7, 60)
    ]
    assert sorted(r.line for r in rejected) == [8, 61]
    assert all("HTTP 400: mapper_parsing_exception" in r.reason for r in rejected)
    # the per-item report named the rows: no bisection, one request per batch
    assert state["requests"] == 4
    assert {h["Content-Type"] for h in state["headers"]} == {"application/x-ndjson"}


@pytest.mark.parametrize("client", ["h1", "curl", "httpx"])
def test_bulk_items_throttled_are_resent_alone(
    ingest: IngestServer, csv_file: Path, client: str
) -> None:
    # the report arrives chunked, as a proxy in front of the cluster may send it
    ingest.control(throttle_items=["name3", "name4", "name90"], chunked_answers=True)
    stats, rejected = run(
        csv_file, f"{ingest.url}/logs/_bulk", http_preset="elasticsearch", http_client=client
    )
    state = ingest.state()
    assert rejected == [] and stats.rows_loaded == 100
    assert sorted(row["id"] for row in state["rows"]) == list(range(1, 101))  # once each
    assert state["requests"] == 4 + 2  # rows 3-4 resent together, row 90 alone
    assert stats.retries == 2


def test_clickhouse_creates_the_table_and_inserts_json_each_row(
    ingest: IngestServer, csv_file: Path
) -> None:
    stats, _ = run(csv_file, ingest.url, http_preset="clickhouse", table="events")
    table = ingest.state()["tables"]["events"]
    assert stats.rows_loaded == 100
    assert "`day` Nullable(Date32)" in table["columns"]
    assert "`id` Nullable(Int64)" in table["columns"]
    assert sorted(row["id"] for row in table["rows"]) == list(range(1, 101))


def test_clickhouse_csv_with_names_replace_and_a_refused_row(
    ingest: IngestServer, csv_file: Path
) -> None:
    run(csv_file, ingest.url, http_preset="clickhouse", table="events")
    ingest.control(reject=["name42"])
    stats, rejected = run(
        csv_file,
        ingest.url,
        http_preset="clickhouse",
        http_format="csv",
        table="events",
        if_exists="replace",
    )
    table = ingest.state()["tables"]["events"]
    assert stats.rows_loaded == 99 and [r.line for r in rejected] == [43]
    assert "CANNOT_PARSE_INPUT" in rejected[0].reason
    assert sorted(int(row["id"]) for row in table["rows"]) == [i for i in range(1, 101) if i != 42]


def test_clickhouse_if_exists_fail(ingest: IngestServer, csv_file: Path) -> None:
    run(csv_file, ingest.url, http_preset="clickhouse", table="events")
    with pytest.raises(TargetError, match="table 'events' exists"):
        run(csv_file, ingest.url, http_preset="clickhouse", table="events", if_exists="fail")


def test_clickhouse_exceptions_are_classified_by_their_code() -> None:
    """A value ClickHouse could not take is permanent even when an old server says 500,
    and wrote nothing; other exceptions go by their status."""
    from bulkload.backends.base import ErrorKind, may_have_been_applied
    from bulkload.backends.http.errors import classify
    from bulkload.backends.http.presets import ClickHouse

    preset = ClickHouse("http://127.0.0.1:8123/", "ndjson")
    old_parse = preset.refusal(
        500, b"Code: 27, e.displayText() = DB::Exception: Cannot parse", None
    )
    new_parse = preset.refusal(400, b"Code: 27. DB::Exception: Cannot parse input", None)
    memory = preset.refusal(500, b"Code: 241. DB::Exception: Memory limit (total) exceeded", None)
    unknown = preset.refusal(500, b"Code: 319. DB::Exception: Unknown status of insert", None)
    gateway = preset.refusal(502, b"<html>Bad Gateway</html>", None)  # not ClickHouse's own
    zstd = preset.refusal(500, b"Code: 89, e.displayText() = DB::Exception: Unknown", None)
    refusals = (old_parse, new_parse, memory, unknown, gateway, zstd)
    assert [classify(e) for e in refusals] == [
        ErrorKind.PERMANENT, ErrorKind.PERMANENT, ErrorKind.TRANSIENT, ErrorKind.TRANSIENT,
        ErrorKind.TRANSIENT, ErrorKind.FATAL,
    ]  # fmt: skip
    # a bad value wrote nothing (one block); a 500 may have written some blocks
    assert [may_have_been_applied(e) for e in refusals] == [False, False, True, True, True, False]
