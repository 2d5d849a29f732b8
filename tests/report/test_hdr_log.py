"""--hdr-log, read by the reference implementation: HdrHistogram's Java
HistogramLogProcessor (Debian's libhdrhistogram-java) parses the log, and the count and
percentiles it gives for each interval are those of the JSON's timeline."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bulkload.report.hdr_log import log_tag
from tests.conftest import RunCli

JAR = Path("/usr/share/java/hdrhistogram.jar")
pytestmark = pytest.mark.timeout(180)


def _java_intervals(log: Path, tag: str) -> list[dict[str, str]]:
    """HistogramLogProcessor's per-interval CSV for ``tag`` (values printed in ms)."""
    if shutil.which("java") is None or not JAR.exists():
        pytest.skip("needs java and libhdrhistogram-java (.ci/run installs them)")
    out = log.with_name(f"{tag}.csv")
    processed = subprocess.run(
        ["java", "-cp", str(JAR), "org.HdrHistogram.HistogramLogProcessor", "-csv",
         "-i", str(log), "-tag", tag, "-outputValueUnitRatio", "1000", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    text = "".join(line for line in out.open() if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, processed.stdout + processed.stderr
    return rows


def _tags(log: Path) -> set[str]:
    listed = subprocess.run(
        ["java", "-cp", str(JAR), "org.HdrHistogram.HistogramLogProcessor", "-listtags",
         "-i", str(log)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("Tags found")
    return {line.strip() for line in lines[1:] if line.strip()}


def _matches(java: list[dict[str, str]], ours: list[dict[str, Any]]) -> None:
    assert len(java) == len(ours)
    for theirs, mine in zip(java, ours, strict=True):
        latency = mine["latency_ms"]
        assert int(theirs["Int_Count"]) == latency["count"]
        assert float(theirs["Int_50%"]) == pytest.approx(latency["p50"], abs=0.0015)
        assert float(theirs["Int_90%"]) == pytest.approx(latency["p90"], abs=0.0015)
        assert float(theirs["Int_Max"]) == pytest.approx(latency["max"], abs=0.0015)


def test_the_java_reference_reads_a_bench_log_as_the_json_says(run_cli: RunCli, tmp_path: Path):
    result = run_cli(
        "bench", "--to", "sim://?latency=3ms&jitter=2ms&seed=4", "--synthetic",
        "rows=20000,columns=3", "--sweep", "1,4", "--batch-size", "50", "--warmup", "0.2s",
        "--duration", "1.5s", "--interval", "0.5s", "--processes", "1",
        "--json", "r.json", "--hdr-log", "r.hlog", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    intervals = document["timeline"]["intervals"]
    log = tmp_path / "r.hlog"
    assert log.read_text().startswith("#[Histogram log format version 1.3]")
    tags = sorted({i["tag"] for i in intervals})
    assert tags == ["c=1 batch 50", "c=4 batch 50"]
    assert _tags(log) == {log_tag(tag) for tag in tags}
    for tag in tags:
        ours = [i for i in intervals if i["tag"] == tag]  # empty ones too: a line each
        assert sum(1 for i in ours if i["latency_ms"]["count"]) >= 3
        _matches(_java_intervals(log, log_tag(tag)), ours)


def test_the_java_reference_reads_an_import_log(run_cli: RunCli, tmp_path: Path):
    (tmp_path / "in.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(3000)))
    result = run_cli(
        "import", "in.csv", "--to", "sim://?latency=2ms&jitter=1ms&seed=1", "--batch-size",
        "10", "-c", "1", "--interval", "0.25s", "--json", "s.json", "--hdr-log", "s.hlog", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    intervals = json.loads((tmp_path / "s.json").read_text())["timeline"]["intervals"]
    assert sum(1 for i in intervals if i["latency_ms"]["count"]) >= 2
    _matches(_java_intervals(tmp_path / "s.hlog", "import"), intervals)
