"""--metrics-addr against a real Prometheus server (Debian's ``prometheus``), started
here on a free port, scraping bulkload every second: after the run, PromQL through
Prometheus' HTTP API gives the run's totals and a p99 consistent with the JSON's."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkload.report.prometheus import BUCKETS_MS
from bulkload.stats.histogram import LatencyHistogram
from tests.conftest import RunCli

pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=10) as answer:
            document = json.load(answer)
        assert document["status"] == "success", document
        result: list[dict[str, Any]] = document["data"]["result"]
        return result

    def value(self, promql: str) -> float:
        result = self.query(promql)
        assert len(result) == 1, result
        return float(result[0]["value"][1])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Prometheus, int]]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        pytest.skip("needs Debian's prometheus (.ci/run installs it)")
    target, port = _free_port(), _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: bulkload\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target}']\n"
    )
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"),
    )  # fmt: skip
    try:
        server = Prometheus(port)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.2)
        # its discovery hands targets to the scrapers every 5 s: wait until it tried ours
        while not _tried(server):
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.2)
        yield server, target
    finally:
        process.terminate()
        process.wait(timeout=30)


def last(metric: str, by: str = "") -> str:
    """The series' last scraped values, summed: once the run has ended its series are
    stale (the target is gone), so an instant query of the bare name finds nothing."""
    grouped = f" by ({by})" if by else ""
    return f"sum{grouped} (last_over_time({metric}[5m]))"


def _tried(server: Prometheus) -> bool:
    with urllib.request.urlopen(f"{server.url}/api/v1/targets", timeout=10) as answer:
        targets = json.load(answer)["data"]["activeTargets"]
    return bool(targets) and targets[0]["lastScrape"] > "0001-01-01T00:00:00Z"


def test_prometheus_scrapes_a_bench_run_totals_and_p99(
    run_cli: RunCli, tmp_path: Path, prometheus: tuple[Prometheus, int]
):
    server, port = prometheus
    result = run_cli(
        "bench", "--to", "sim://?latency=5ms&jitter=3ms&seed=2", "--synthetic",
        "rows=20000,columns=2", "--batch-size", "10", "--sweep", "2,4", "--warmup", "0",
        "--duration", "3s", "--processes", "1", "--metrics-addr", f"127.0.0.1:{port}",
        "--json", "r.json", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    intervals = document["timeline"]["intervals"]
    rows = sum(i["rows"] for i in intervals)
    assert rows > 0
    time.sleep(0.5)  # the last scrape is being written to the TSDB
    assert server.value(last("bulkload_rows_total")) == rows
    assert server.value(last("bulkload_operations_total")) == sum(i["batches"] for i in intervals)
    by_level = server.query(last("bulkload_operations_total", "level"))
    assert {r["metric"]["level"] for r in by_level} == {"c=2 batch 10", "c=4 batch 10"}
    by_operation = server.query(last("bulkload_operations_total", "operation"))
    assert {r["metric"]["operation"] for r in by_operation} == {"write"}
    assert server.value(last("bulkload_errors_total")) == 0
    # p99 over the run: Prometheus interpolates inside the bucket the JSON's p99 is in
    whole = LatencyHistogram()
    for interval in intervals:
        if interval["latency_hdr"]:
            whole.merge(LatencyHistogram.decode(interval["latency_hdr"]))
    p99_ms = whole.percentile_ms(99)
    upper = next(b for b in BUCKETS_MS if b >= p99_ms)
    lower = max([0, *(b for b in BUCKETS_MS if b < p99_ms)])
    promql = f"histogram_quantile(0.99, {last('bulkload_latency_seconds_bucket', 'le')}) * 1000"
    assert lower <= server.value(promql) <= upper
    count = server.value(last("bulkload_latency_seconds_count"))
    assert count == whole.count


def test_an_import_split_among_processes_is_served_by_the_parent(
    run_cli: RunCli, tmp_path: Path, prometheus: tuple[Prometheus, int]
):
    server, port = prometheus
    rows = 12000
    (tmp_path / "in.csv").write_text("id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(rows)))
    # 2 processes of 2 writes of 10 rows, 10 ms each: ~4,000 rows/s, over about 3 s
    result = run_cli(
        "import", "in.csv", "--to", "sim://?latency=10ms", "--batch-size", "10", "-c", "4",
        "--processes", "2", "--interval", "0.5s", "--metrics-addr", f"127.0.0.1:{port}",
        "--json", "s.json", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "s.json").read_text())
    assert document["rows_loaded"] == rows
    assert len(document["processes"]) == 2
    time.sleep(0.5)  # the last scrape is being written to the TSDB
    # the parent served both processes' intervals: the totals are the whole import's
    assert server.value(last("bulkload_rows_total")) == rows
    assert server.value(last("bulkload_operations_total")) == document["batches"]
    assert server.value(last("bulkload_latency_seconds_count")) == document["latency_samples"]
    runs = server.query(last("bulkload_rows_total", "run, level"))
    assert len(runs) == 1 and runs[0]["metric"]["level"] == "import"
    # while it ran, both processes' writes were in flight at once
    assert server.value("max_over_time(sum(bulkload_in_flight)[5m:250ms])") >= 3


def test_a_bench_split_among_processes_is_served_by_the_parent(
    run_cli: RunCli, tmp_path: Path, prometheus: tuple[Prometheus, int]
):
    server, port = prometheus
    result = run_cli(
        "bench", "--to", "sim://?latency=5ms", "--synthetic", "rows=20000,columns=2",
        "--batch-size", "10", "--sweep", "2,4", "--warmup", "0", "--duration", "2s",
        "--processes", "2", "--metrics-addr", f"127.0.0.1:{port}", "--json", "r.json", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    intervals = document["timeline"]["intervals"]
    time.sleep(0.5)
    assert server.value(last("bulkload_rows_total")) == sum(i["rows"] for i in intervals) > 0
    assert server.value(last("bulkload_operations_total")) == sum(i["batches"] for i in intervals)
    by_level = server.query(last("bulkload_operations_total", "level"))
    saved = {}
    for interval in intervals:
        saved[interval["tag"]] = saved.get(interval["tag"], 0) + interval["batches"]
    assert {r["metric"]["level"]: float(r["value"][1]) for r in by_level} == saved


def test_the_operation_label_says_what_a_bench_run_does():
    """A read sweep's metrics count queries, a mixed one's writes and queries together:
    labelled ``write`` (as every run once was) they said the wrong thing."""
    from dataclasses import replace

    from bulkload.cli.metrics import operation_of
    from bulkload.config.models import QueryOptions
    from bulkload.report.prometheus import LiveMetrics
    from bulkload.stats.timeline import Interval

    assert operation_of(QueryOptions()) == "write"
    reads = QueryOptions(queries=("SELECT 1",))
    assert operation_of(reads) == "query"
    assert operation_of(replace(reads, mix=(1.0, 3.0))) == "mixed"
    metrics = LiveMetrics("run", operation_of(reads))
    metrics.add(Interval(1000.0, 1001.0, "c=1 batch 1", rows=5, batches=5))
    families = {family.name: family for family in metrics.collect()}
    (sample,) = families["bulkload_operations"].samples
    assert sample.labels["operation"] == "query" and sample.value == 5


def test_live_metrics_count_each_interval_once_when_the_timeline_coarsens():
    from bulkload.report.prometheus import LiveMetrics
    from bulkload.stats.timeline import Interval, Timeline

    timeline = Timeline(1.0, max_intervals=4)
    metrics = LiveMetrics("run")
    metrics.watch(timeline)
    for second in range(20):
        timeline.add(Interval(1000.0 + second, 1001.0 + second, "import", rows=10, batches=1))
    assert len(timeline) <= 4
    families = {family.name: family for family in metrics.collect()}
    (sample,) = families["bulkload_rows"].samples
    assert sample.value == 200 == sum(i.rows for i in timeline.intervals)


@pytest.mark.parametrize("command", ["import", "bench"])
def test_a_run_on_cluster_workers_is_served_by_the_client(
    run_cli_subprocess: Any, tmp_path: Path, prometheus: tuple[Prometheus, int], command: str
):
    pytest.importorskip("distributed")
    server, port = prometheus
    if command == "import":
        rows = 8000
        (tmp_path / "in.csv").write_text("id,v\n" + "".join(f"{i},{i}\n" for i in range(rows)))
        args = ("import", "in.csv", "--batch-size", "10", "-c", "4")
    else:
        args = (
            "bench", "--synthetic", "rows=20000,columns=2", "--batch-size", "10",
            "--sweep", "2,4", "--warmup", "0", "--duration", "2s",
        )  # fmt: skip
    result = run_cli_subprocess(
        *args, "--to", "sim://?latency=10ms", "--cluster", "local:2", "--interval", "0.5s",
        "--metrics-addr", f"127.0.0.1:{port}", "--json", "r.json", "-q", timeout=180,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    intervals = document["timeline"]["intervals"]
    time.sleep(0.5)  # the last scrape is being written to the TSDB
    # the client served both workers' intervals: the totals are the whole run's
    rows_total = sum(i["rows"] for i in intervals)
    assert rows_total > 0
    if command == "import":
        assert rows_total == document["rows_loaded"] == rows
    assert server.value(last("bulkload_rows_total")) == rows_total
    assert server.value(last("bulkload_operations_total")) == sum(i["batches"] for i in intervals)
    count = sum(i["latency_ms"]["count"] for i in intervals)
    assert server.value(last("bulkload_latency_seconds_count")) == count
    if command == "bench":  # every level's intervals are in the JSON, and served
        saved: dict[str, int] = {}
        for interval in intervals:
            saved[interval["tag"]] = saved.get(interval["tag"], 0) + interval["batches"]
        assert len(saved) == 2, saved
        by_level = server.query(last("bulkload_operations_total", "level"))
        assert {r["metric"]["level"]: float(r["value"][1]) for r in by_level} == saved
