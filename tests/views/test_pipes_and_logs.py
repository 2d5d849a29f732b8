"""Output that is not a terminal (a CI log, a pipe): one line per line, never wrapped,
whatever COLUMNS says (80 here, where rich used to wrap). Each known phrase (a
rejection, a warning, the recommendation, a level's line) is checked whole on one line.

Real runs: sim:// and null:// targets, short windows, files in tmp_path."""

from __future__ import annotations

import json
import re

import pytest

from bulkload.backends import available_backends
from bulkload.cli.views import import_progress
from tests.views.screen import split_phrases

NARROW = {"COLUMNS": "80"}

#: every field of an import's progress line, whole
PROGRESS_FIELD = re.compile(
    r"[\d,]+ rows|[\d,]+ rows/s|ETA \d+:\d\d:\d\d|circuit [a-z-]+|rejected [\d,]+"
    r"|retries [\d,]+|elapsed \d+:\d\d:\d\d|in flight \d+|[\d,]+\.\d MB/s"
)
#: a finished level in a log
LEVEL_LINE = re.compile(
    r"level \d+/\d+ c=\d+ batch [\d,]+: [\d,]+ rows/s, p99 [\d.,]+ ms, in flight [\d.]+, "
    r"errors [\d,]+(; sweep about \d+:\d\d:\d\d left)?"
)


def numbers_n(rows: int, bad: tuple[int, ...]) -> str:
    return "n\n" + "".join("x\n" if i in bad else f"{i}\n" for i in range(rows))


def test_an_import_in_a_log_is_one_line_per_event(run_cli, write_file, monkeypatch):
    """A 3 s import (60 writes of 50 ms): progress lines every 0.2 s, each with every
    field; the rejections, longer than 80 columns, each on a line of its own."""
    write_file("n.csv", numbers_n(600, bad=(5, 77)))
    monkeypatch.setattr(import_progress, "PLAIN_INTERVAL_S", 0.2)
    result = run_cli(
        "import", "n.csv", "--type", "n=int", "--to", "sim://?latency=50ms",
        "--batch-size", "10", "-c", "1", env=NARROW,
    )  # fmt: skip
    assert result.code == 1, result.stderr  # rows were rejected
    progress = [line for line in result.stderr.splitlines() if " rows/s" in line]
    assert len(progress) >= 5, result.stderr
    for line in progress:
        fields = line.split("  ")
        assert all(PROGRESS_FIELD.fullmatch(field) for field in fields), line
        assert fields[0].endswith(" rows") and fields[-1].endswith(" MB/s"), line  # all there
    assert any(" ETA " in line for line in progress), progress  # after 2 s, in the line
    reason = "column 'n': cannot convert 'x' to int (load the column as --type n=string)"
    phrases = [f"n.csv:7: {reason}", f"n.csv:79: {reason}", "table n  (completed)"]
    assert split_phrases(result.stdout, phrases) == []
    assert "\n(completed)" not in result.stdout


def _bench(run_cli, *extra: str, json_path: str = "run.json", env=NARROW):
    result = run_cli(
        "bench", "--synthetic", "rows=3000,columns=3", "--to", "sim://?latency=1ms",
        "--sweep", "1,2", "--processes", "1", "--warmup", "0.1s", "--duration", "0.3s",
        "--json", json_path, *extra, env=env,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return result


def test_a_sweep_in_a_log_says_its_planned_time_and_a_line_per_level(run_cli, tmp_path):
    result = _bench(run_cli)
    log = result.stderr.splitlines()
    assert "bench: 2 levels x 0.4 s (0.1 s warm-up + 0.3 s measured): about 0:00:01 planned" in (
        log
    )
    levels = [line for line in log if line.startswith("level ")]
    assert [line[:9] for line in levels] == ["level 1/2", "level 2/2"], result.stderr
    assert all(LEVEL_LINE.fullmatch(line) for line in levels), levels
    assert "; sweep about 0:00:0" in levels[0]  # the time left, once a level is done
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["warnings"], "the short input gives at least one warning"
    phrases = [saved["recommendation"], *saved["warnings"], "(closed model, completed)"]
    assert split_phrases(result.stdout, phrases) == []
    header = next(line for line in result.stdout.splitlines() if "conc." in line)
    assert "MB/s" in header and "retries" in header  # no column dropped: no width to fit


def test_report_compare_in_a_log_keeps_each_level_on_its_line(run_cli):
    _bench(run_cli, json_path="a.json")
    _bench(run_cli, json_path="b.json")
    result = run_cli("report", "compare", "a.json", "b.json", env=NARROW)
    assert result.code in (0, 99), result.stderr  # 99: a loaded machine slowed one run
    rows = [line for line in result.stdout.splitlines() if line.startswith("c=")]
    assert len(rows) == 2, result.stdout
    for row, level in zip(rows, ("c=1", "c=2"), strict=True):
        assert re.match(rf"^{level} batch 10,000 +[\d,]+ \([+-][\d.]+%\) ", row), row
        assert row.rstrip().endswith(("ok", "REGRESSED")), row


def test_backends_in_a_log_are_one_line_each(run_cli):
    result = run_cli("backends", env=NARROW)
    assert result.code == 0, result.stderr
    phrases = []
    for info in available_backends():
        schemes = ", ".join(f"{s}://" for s in info.schemes)
        phrases.append(f"{info.name:<12} {schemes:<30} {info.target}  (")
        if info.options:
            flags = ", ".join(o.flags[0] if o.flags else o.name for o in info.options)
            phrases.append(f"options: {flags}")
    assert any(len(phrase) > 80 for phrase in phrases)  # the http options' line is
    assert split_phrases(result.stdout, phrases) == []


@pytest.mark.parametrize(
    "command",
    [
        ("import",), ("bench",), ("report",), ("report", "show"), ("report", "compare"),
        ("report", "check"), ("report", "merge"), ("report", "html"),
    ],
)  # fmt: skip
def test_help_fits_80_columns_and_cuts_nothing(run_cli, command):
    result = run_cli(*command, "--help", env=NARROW)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout  # a help text cut at the column's end
    assert "<bool>" not in result.stdout  # flags take no value


def test_help_shows_bracketed_text_as_written(run_cli):
    shown = run_cli("bench", "--help", env=NARROW).stdout
    words = shown.split()
    assert "bulkload[html]." in words  # --html: needs bulkload[html]
    assert "'bulkload[dask]'):" in words  # --cluster: pip install 'bulkload[dask]'
    synthetic = shown[shown.index("--synthetic") : shown.index("[env var: BULKLOAD_SYNTHETIC]")]
    assert "types=int:float:string" in synthetic.split()
    assert "string_length=L," in synthetic.split()
