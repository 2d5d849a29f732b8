"""``bulkload bench --to http://``: a sweep against the real ingest server process, the
rows counted on the server's side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.fixtures import IngestServer


@pytest.mark.parametrize("client", ["h1", "curl"])
def test_a_sweep_against_an_ingest_endpoint(
    run_cli,
    ingest: IngestServer,
    tmp_path: Path,
    client: str,
) -> None:
    result = run_cli(
        "bench", "--synthetic", "rows=2000,columns=3", "--to", f"{ingest.url}/ingest",
        "--http-client", client, "--sweep", "1,4", "--batch-size", "20",
        "--warmup", "0.2s", "--duration", "0.5s", "--json", "run.json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    saved = json.loads((tmp_path / "run.json").read_text())
    state = ingest.state()
    # what the server stored is exactly what the sweep says it wrote
    assert len(state["rows"]) == saved["rows_written"] > 0
    assert [level["concurrency"] for level in saved["levels"]] == [1, 4]
    assert all(level["in_flight_max"] == level["concurrency"] for level in saved["levels"])
    assert saved["levels"][1]["rows_per_s"] > 0
