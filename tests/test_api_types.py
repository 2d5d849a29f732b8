"""The public API's types as a user's type checker sees them: mypy (strict) on two small
modules, one that must pass (overloads, keyword types) and one whose every marked line
must be an error (required arguments, misspelt or mistyped keywords)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typing"


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(cache), "--ignore-missing-imports", str(path)],
        capture_output=True, text=True, timeout=600, cwd=HERE.parent.parent,
    )  # fmt: skip


@pytest.mark.slow
def test_the_api_types_check(tmp_path: Path):
    result = _mypy(HERE / "api_types.py", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_misuse_of_the_api_is_a_type_error(tmp_path: Path):
    path = HERE / "api_misuse.py"
    result = _mypy(path, tmp_path)
    lines = path.read_text().splitlines()
    marked = {number for number, line in enumerate(lines, 1) if "  # error: " in line}
    reported = {int(n) for n in re.findall(rf"{re.escape(path.name)}:(\d+): error", result.stdout)}
    assert marked and reported == marked, result.stdout
