"""A saved run whose latencies are known sample by sample: the terminal, the HTML, the
gates and the JSON all report the percentiles HdrHistogram's Java reference reads (the
hand-worked figures are in tests/stats/test_histogram.py)."""

from __future__ import annotations

import json
from pathlib import Path

from bulkload.bench.result import SweepResult
from bulkload.report.json_summary import write_document
from bulkload.stats.level import LevelResult
from tests.conftest import RunCli
from tests.stats.test_histogram import _known


def _saved_run(path: Path) -> None:
    _, latency = _known()  # 1,680 writes: p99 8.751 ms, p99.9 12.503 ms, max 12.751 ms
    level = LevelResult(
        concurrency=4,
        batch_size=100,
        started_at=1_790_000_000.0,
        finished_at=1_790_000_010.0,
        elapsed_s=10.0,
        rows=168_000,
        batches=1_680,
        latency=latency,
        service_time=latency.copy(),
    )
    result = SweepResult(
        model="closed",
        target="sim://",
        table="t",
        command=["bulkload", "bench"],
        version="0.1.0",
        levels=[level],
        recommended_concurrency=4,
        recommended_batch_size=100,
        recommendation="concurrency 4 x batch 100: 16,800 rows/s, the best measured",
    )
    write_document(result.to_dict(), str(path))


def test_json_terminal_html_and_gates_report_the_reference_percentiles(
    run_cli: RunCli, tmp_path: Path
):
    _saved_run(tmp_path / "run.json")
    saved = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    figures = saved["levels"][0]["latency_ms"]
    assert (figures["p50"], figures["p90"], figures["p99"], figures["p999"]) == (
        1.839,
        2.511,
        8.751,
        12.503,
    )

    shown = run_cli("report", "show", "run.json", env={"COLUMNS": "200"})
    assert shown.code == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "16,800" in line).split()
    at = row.index("0.0/0") + 1  # in flight, then p50 p90 p99 p99.9 max
    assert row[at : at + 5] == ["1.84", "2.51", "8.75", "12.50", "12.75"], row

    # A rank rounded to the nearest read p99 8.503 and p99.9 12.255: these gates passed.
    for gate, measured in (("p99<8.6ms", "8.751 ms"), ("p999<12.4ms", "12.5 ms")):
        judged = run_cli("report", "check", "run.json", "--threshold", gate)
        assert judged.code == 99, (gate, judged.stdout, judged.stderr)
        assert f"measured {measured}" in judged.stdout, judged.stdout
    assert run_cli("report", "check", "run.json", "--threshold", "p999<=12.503ms").code == 0

    made = run_cli("report", "html", "run.json", "-o", "run.html")
    assert made.code == 0, made.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    table = page.split('<table id="levels">', 1)[1].split("</table>", 1)[0]
    assert ">8.75<" in table and ">12.50<" in table
