"""Output on a terminal of 80, 120 and 200 columns (a pseudo-terminal whose window size
is set, as a terminal emulator sets it): every line drawn fits the width, live frames
included; the progress lines keep their fields whole and drop the least needed ones;
nothing is wrapped inside a number or a word.

Real processes on real (short) runs: sim:// targets, files in tmp_path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.views.screen import drawn_lines, run_in_terminal, too_wide, words_kept_whole

pytestmark = pytest.mark.slow

WIDTHS = (80, 120, 200)

IMPORT_FIELD = re.compile(
    r"[\d,]+ rows|[\d,]+ rows/s|ETA \d+:\d\d:\d\d|circuit [a-z-]+|rejected [\d,]+"
    r"|retries [\d,]+|elapsed \d+:\d\d:\d\d|in flight \d+|[\d,]+\.\d MB/s"
)
SWEEP_FIELD = re.compile(
    r"sweep: level \d+ of \d+|(about|at most) \d+:\d\d:\d\d left|elapsed \d+:\d\d:\d\d"
)
LEVEL_FIELD = re.compile(
    r"c=\d+ batch [\d,]+: (warming up|measuring|draining)|[\d,]+ rows/s|p99 [\d.,]+ ms"
    r"|in flight \d+|errors [\d,]+"
)


def _fields_whole(line: str, grammar: re.Pattern[str]) -> bool:
    return all(grammar.fullmatch(field) for field in line.split("  "))


@pytest.mark.parametrize("columns", WIDTHS)
def test_an_import_fits_the_terminal(tmp_path: Path, columns: int):
    """80 writes of 50 ms (4 s): live frames after the 2 s the ETA waits for."""
    (tmp_path / "n.csv").write_text(
        "n\n" + "".join("x\n" if i in (5, 77) else f"{i}\n" for i in range(800))
    )
    raw = run_in_terminal(
        "import", "n.csv", "--type", "n=int", "--to", "sim://?latency=50ms",
        "--batch-size", "10", "-c", "1", columns=columns, cwd=tmp_path,
    )  # fmt: skip
    lines = drawn_lines(raw)
    assert too_wide(lines, columns) == []
    progress = [line for line in lines if re.match(r"[\d,]+ rows  ", line)]
    assert len(progress) >= 4, lines
    assert all(_fields_whole(line, IMPORT_FIELD) for line in progress), progress
    shown = [line.split("  ") for line in progress]
    with_eta = [fields for fields in shown if fields[2:3] and fields[2].startswith("ETA ")]
    assert with_eta, progress  # rows, rows/s, then the ETA: first, at any width
    if columns >= 120:
        assert any(fields[-1].endswith(" MB/s") for fields in with_eta), progress  # all
    bars = [line for line in lines if re.fullmatch(r"━*─* +\d+%", line)]
    assert bars, lines  # the bar is a line of its own
    reason = "n.csv:79: column 'n': cannot convert 'x' to int (load the column as --type n=string)"
    assert words_kept_whole(lines, reason)
    assert words_kept_whole(lines, "read = loaded + rejected: 800 = 798 + 2 ✓")


@pytest.mark.parametrize("columns", WIDTHS)
def test_a_sweep_fits_the_terminal_and_says_how_long_it_takes(tmp_path: Path, columns: int):
    """Levels of 1.2 s: each drawn a few times by the live display (4 a second)."""
    raw = run_in_terminal(
        "bench", "--synthetic", "rows=3000,columns=3", "--to", "sim://?latency=2ms&jitter=1ms",
        "--sweep", "1,2,4", "--processes", "1", "--warmup", "0.3s", "--duration", "0.9s",
        "--json", "run.json", columns=columns, cwd=tmp_path,
    )  # fmt: skip
    lines = drawn_lines(raw)
    assert too_wide(lines, columns) == []
    planned = "bench: 3 levels x 1.2 s (0.3 s warm-up + 0.9 s measured): about 0:00:04 planned"
    assert words_kept_whole(lines[:2], planned), lines[:2]  # first, before any level
    overall = [line for line in lines if line.startswith("sweep: level")]
    assert overall and all(_fields_whole(line, SWEEP_FIELD) for line in overall), overall
    assert {line.split("  ")[0] for line in overall} >= {
        f"sweep: level {k} of 3" for k in (1, 2, 3)
    }
    assert any(" left" in line for line in overall), overall
    level = [line for line in lines if line.startswith("c=") and ": " in line.split("  ")[0]]
    assert level and all(_fields_whole(line, LEVEL_FIELD) for line in level), level
    saved = json.loads((tmp_path / "run.json").read_text())
    for phrase in (saved["recommendation"], *saved["warnings"]):
        assert words_kept_whole(lines, phrase), phrase
    table = lines[lines.index(next(line for line in lines if "conc." in line)) :][:4]
    assert "…" not in "".join(table), table
    assert all(re.search(r"\d+%$", row) for row in table[1:]), table  # the cpu column: last


def test_report_compare_fits_80_columns(tmp_path: Path):
    for name in ("a.json", "b.json"):
        run_in_terminal(
            "bench", "--synthetic", "rows=3000,columns=3", "--to", "sim://?latency=1ms",
            "--sweep", "1,2", "--processes", "1", "--warmup", "0.1s", "--duration", "0.3s",
            "--progress", "off", "--json", name, columns=200, cwd=tmp_path,
        )  # fmt: skip
    lines = drawn_lines(
        run_in_terminal("report", "compare", "a.json", "b.json", columns=80, cwd=tmp_path)
    )
    assert too_wide(lines, 80) == []
    rows = [line for line in lines if line.startswith("c=")]
    assert [row[:16] for row in rows] == ["c=1 batch 10,000", "c=2 batch 10,000"], lines
    assert "…" not in "\n".join(lines)
