"""Shared fixtures: run the real CLI in a subprocess, write input files, read tables back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.startswith("bulkload: error")]
        return lines[-1] if lines else ""


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run ``python -m bulkload ARGS`` in tmp_path, as a user would, and capture it."""

    def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
        full_env.update({"NO_COLOR": "1", "COLUMNS": "120"})
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "bulkload", *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            env=full_env,
            timeout=120,
        )
        result = CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            path.write_bytes(content)
        return path

    return write


def read_table(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()


def column_types(db: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return {row[1]: row[2] for row in conn.execute(f'PRAGMA table_info("{table}")')}
