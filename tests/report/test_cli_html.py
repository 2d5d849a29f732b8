"""The HTML report through the real CLI: ``bench --html`` and ``report html``, their bad
inputs (one line, exit 3) and the reports of failed sweeps and password-bearing URLs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RunCli

# Sweeps and Chromium load the CPU: run on the worker of the timing-sensitive bench tests,
# one after another, never beside them (--dist loadgroup).

QUICK = ("--sweep", "1,4", "--warmup", "0.1s", "--duration", "0.3s", "--progress", "off")
SYNTHETIC = ("--synthetic", "rows=5000,columns=3,seed=1")


def levels_in(page: str) -> int:
    body = page.split('<table id="levels">', 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr ")


def test_bench_writes_the_json_and_the_html_report(run_cli: RunCli, tmp_path: Path):
    result = run_cli(
        "bench", *SYNTHETIC, "--to", "sim://?latency=2ms", *QUICK,
        "--json", "run.json", "--html", "run.html",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    saved = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert levels_in(page) == len(saved["levels"]) == 2
    assert "--html run.html" in page  # the command line, in the header
    assert 'data-chart="throughput"' in page


def test_report_html_renders_a_saved_run_with_a_baseline(run_cli: RunCli, tmp_path: Path):
    for _ in range(3):  # a loaded machine's stall of 44 ms can make one p99 worse
        for name, latency in (("base", "40ms"), ("run", "2ms")):
            made = run_cli(
                "bench", *SYNTHETIC, "--to", f"sim://?latency={latency}", *QUICK, "--json",
                f"{name}.json", "-q",
            )  # fmt: skip
            assert made.code == 0, made.stderr
        result = run_cli("report", "html", "run.json", "-o", "out.html", "--baseline", "base.json")
        assert result.code == 0, result.stderr
        assert result.stdout.strip() == "wrote out.html"
        page = (tmp_path / "out.html").read_text(encoding="utf-8")
        if badges(page) == ["passed"]:
            break
    assert "vs baseline" in page and "sim://?latency=40ms" in page
    # far faster than its baseline (p99 too, even on a loaded machine): compared, passed
    assert badges(page) == ["passed"]
    assert "No regression against base.json" in page
    # without -o: beside the result, named after it
    assert run_cli("report", "html", "run.json").code == 0
    assert (tmp_path / "run.html").stat().st_size > 0


def badges(page: str) -> list[str]:
    return re.findall(r'<span class="badge [a-z]+">([^<]+)</span>', page)


def test_report_html_says_a_slower_run_regressed(run_cli: RunCli, tmp_path: Path):
    for name, latency in (("base", "1ms"), ("run", "4ms")):
        made = run_cli(
            "bench", *SYNTHETIC, "--to", f"sim://?latency={latency}", *QUICK, "--json",
            f"{name}.json", "-q",
        )  # fmt: skip
        assert made.code == 0, made.stderr
    result = run_cli("report", "html", "run.json", "-o", "out.html", "--baseline", "base.json")
    assert result.code == 0, result.stderr
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert badges(page) == ["regressed"]
    callout = page.split('id="verdict-baseline">', 1)[1].split("</div>", 1)[0]
    assert callout.startswith("<strong>Regressed against base.json</strong>")
    # the level and the figure that regressed (4 times slower: whatever the machine's load)
    assert "c=4 batch 10,000: rows_per_s" in callout
    assert "<th>rows/s vs baseline</th>" in page and "<th>p99 vs baseline</th>" in page
    # bench --baseline --html says it too (and exits 99), and so does the saved run later
    again = run_cli(
        "bench", *SYNTHETIC, "--to", "sim://?latency=4ms", *QUICK, "--baseline", "base.json",
        "--json", "again.json", "--html", "again.html", "-q",
    )  # fmt: skip
    assert again.code == 99, again.stderr
    assert badges((tmp_path / "again.html").read_text(encoding="utf-8")) == ["regressed"]
    assert run_cli("report", "html", "again.json", "-o", "saved.html").code == 0
    saved = (tmp_path / "saved.html").read_text(encoding="utf-8")
    assert badges(saved) == ["regressed"] and "Regressed against base.json" in saved


def test_a_failed_gate_is_the_badge_and_is_listed(run_cli: RunCli, tmp_path: Path):
    result = run_cli(
        "bench", *SYNTHETIC, "--to", "sim://?latency=2ms", *QUICK, "--json", "run.json",
        "--html", "run.html", "--threshold", "p99@all<1us", "--threshold", "error_rate<50%",
    )  # fmt: skip
    assert result.code == 99, result.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert badges(page) == ["failed (gates)"]
    callout = page.split('id="verdict-gates">', 1)[1].split("</div>", 1)[0]
    assert callout.startswith("<strong>Gates failed: 2 of 3</strong>")
    assert "FAILED: p99@all &lt; 1 us at c=4" in callout and "ok: error_rate" in callout
    # the saved result says the same, re-rendered later
    assert run_cli("report", "html", "run.json", "-o", "again.html").code == 0
    assert badges((tmp_path / "again.html").read_text(encoding="utf-8")) == ["failed (gates)"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing.json: no such file"),
        ("{not json", "missing.json: not JSON"),
        ('{"schema_version": 1}', "missing.json: not a bulkload bench result"),
        ("[1, 2]", "missing.json: not a bulkload bench result"),
        ('{"kind": "bulkload-bench", "schema_version": 1}', "missing.json: malformed"),
    ],
)
def test_a_missing_or_malformed_result_is_one_line_exit_3(
    run_cli: RunCli, write_file, content: str | None, message: str
):
    if content is not None:
        write_file("missing.json", content)
    result = run_cli("report", "html", "missing.json", "-o", "r.html")
    assert result.code == 3, result.stderr
    assert result.error_line.startswith(f"bulkload: error: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_baseline_is_named(run_cli: RunCli, write_file, tmp_path: Path):
    made = run_cli("bench", *SYNTHETIC, "--to", "sim://", *QUICK, "--json", "run.json", "-q")
    assert made.code == 0, made.stderr
    result = run_cli("report", "html", "run.json", "--baseline", "nope.json")
    assert result.code == 3
    assert result.error_line == "bulkload: error: nope.json: no such file"
    assert not (tmp_path / "run.html").exists()


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("-", "--html writes a file: give a path, not -"),
        ("no/such/dir/r.html", "--html: cannot write no/such/dir/r.html"),
        (".", "--html: . is a directory"),
    ],
)
def test_a_bad_html_path_stops_bench_before_it_runs(run_cli: RunCli, html: str, message: str):
    result = run_cli("bench", *SYNTHETIC, "--to", "sim://", *QUICK, "--html", html)
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: {message}"), result.stderr
    assert "rows/s" not in result.stdout  # no level ran


def test_a_failed_sweep_still_writes_its_report(run_cli: RunCli, tmp_path: Path):
    # nothing listens on port 1: the target is unavailable (exit 5)
    result = run_cli(
        "bench", *SYNTHETIC, "--to", "postgresql://postgres:pw@127.0.0.1:1/test", *QUICK,
        "--json", "run.json", "--html", "run.html",
    )  # fmt: skip
    assert result.code == 5, result.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert '<span class="badge failed">failed</span>' in page
    assert "127.0.0.1:1" in page and "No level was measured" in page


@pytest.mark.postgres
def test_a_password_in_the_target_url_never_reaches_the_report(run_cli: RunCli, tmp_path: Path, pg):
    dsn, schema, _sql = pg  # trust authentication: any password is accepted
    url = dsn.replace("postgres@", "postgres:s3cr3t-pw@")
    assert "s3cr3t-pw" in url
    result = run_cli(
        "bench", *SYNTHETIC, "--to", url, "--schema-name", schema, *QUICK,
        "--json", "run.json", "--html", "run.html",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "s3cr3t-pw" not in page
    assert re.search(r"postgres:\*\*\*@127\.0\.0\.1", page)
    rerendered = run_cli("report", "html", "run.json", "-o", "again.html")
    assert rerendered.code == 0
    assert "s3cr3t-pw" not in (tmp_path / "again.html").read_text(encoding="utf-8")


def test_without_plotly_html_is_refused_naming_the_extra(run_cli: RunCli, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if bulkload[html] were missing
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    result = run_cli("bench", *SYNTHETIC, "--to", "sim://", *QUICK, "--html", "r.html")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: --html: the HTML report needs plotly, which is not installed: "
        "pip install 'bulkload[html]'"
    )
    result = run_cli("report", "html", "run.json")
    assert result.code == 3 and "bulkload[html]" in result.error_line


def test_an_interrupted_sweep_writes_the_report_of_its_finished_levels(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bulkload", "bench", *SYNTHETIC, "--to", "sim://?latency=2ms",
            "--sweep", "1,2,4,8,16", "--warmup", "0.1s", "--duration", "1s",
            "--json", "run.json", "--html", "run.html", "--progress", "plain",
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the first level is done
        if proc.stderr.readline().startswith("level 2/"):
            break
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    saved = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert '<span class="badge interrupted">interrupted</span>' in page
    assert levels_in(page) == len(saved["levels"]) >= 1


def test_report_alone_shows_its_commands(run_cli: RunCli):
    result = run_cli("report")
    assert result.code == 0
    assert "html" in result.stdout and "Write the HTML report" in result.stdout
