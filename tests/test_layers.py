"""The layers contract (``[tool.importlinter]`` in pyproject.toml, run by ``make lint``)
holds, and it is not a formality: an upward import, even inside a function, breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Check the package under ``root`` against the pyproject.toml there."""
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy, not the installed package
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_package_keeps_its_layers():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers point down KEPT" in result.stdout
    assert "No import cycles between siblings KEPT" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path: Path):
    shutil.copytree(
        ROOT / "bulkload", tmp_path / "bulkload", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    channel = tmp_path / "bulkload" / "engine" / "channel.py"
    with channel.open("a") as source:  # the engine reaching up into the reports
        source.write("\n\ndef _upward() -> None:\n    import bulkload.report\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "bulkload.engine is not allowed to import bulkload.report" in result.stdout
