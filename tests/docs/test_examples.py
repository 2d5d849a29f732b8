"""Every shell (```bash) and Python (```python) example of README.md and docs/ runs, as
written, against local targets: SQLite files and the sample data in a temporary
directory, ``sim://`` and ``null://``, the test PostgreSQL, the test ingest server.

sybil finds the examples and the ``<!-- skip: next "reason" -->`` marks of the few that
need an outside host (each reported as a skipped test with its reason). The examples of
one page run in order, as one test, in one directory and (for Python) one namespace, so
a page can build on its earlier examples. Two addresses are rewritten to the test
servers' when those listen elsewhere: ``postgresql://postgres@127.0.0.1/test`` and
``http://127.0.0.1:8080``. A Python example must emit no warning.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unittest
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from tests.servers.fixtures import ingest_process  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SAMPLE_DATA = [ROOT / "sample-data" / "orders.csv", ROOT / "sample-data" / "orders.parquet"]

DOCS_PG = "postgresql://postgres@127.0.0.1/test"
DOCS_HTTP = "http://127.0.0.1:8080"
SHELL_TIMEOUT_S = 120

# The languages a fenced block may have; only bash and python ones are run.
SHOWN_ONLY = {"text", "toml", "yaml", "json"}
RUN = {"bash", "python"}


@dataclass
class Context:
    """What one page's examples run with."""

    workdir: Path
    substitutions: dict[str, str] = field(default_factory=dict)

    def rewrite(self, source: str) -> str:
        for docs_address, real in self.substitutions.items():
            source = source.replace(docs_address, real)
        return source


def _context(example: Example) -> Context:
    context: Context = example.namespace["__docs_context__"]
    return context


def run_shell(example: Example) -> None:
    context = _context(example)
    env = {key: value for key, value in os.environ.items() if not key.startswith("BULKLOAD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    for _ in range(3):  # 99: a gate failed; a loaded machine's stall can fail a p99 gate
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", context.rewrite(example.parsed)],
            cwd=context.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT_S,
        )
        if done.returncode != 99:
            break
    if done.returncode != 0:
        raise AssertionError(
            f"{_where(example)}: exit {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )


def run_python(example: Example) -> None:
    context = _context(example)
    code = compile(context.rewrite(example.parsed), _where(example), "exec")
    before = Path.cwd()
    os.chdir(context.workdir)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(code, example.namespace)
    finally:
        os.chdir(before)
    if caught:
        shown = "\n".join(f"{w.category.__name__}: {w.message}" for w in caught)
        raise AssertionError(f"{_where(example)}: the example warns:\n{shown}")


def _where(example: Example) -> str:
    return f"{Path(example.path).relative_to(ROOT)}:{example.line}"


SYBIL = Sybil(
    parsers=[
        CodeBlockParser(language="bash", evaluator=run_shell),
        CodeBlockParser(language="python", evaluator=run_python),
        SkipParser(),
    ]
)


def _is_code(example: Example) -> bool:
    return example.region.evaluator in (run_shell, run_python)


def _page_examples(page: Path) -> list[Example]:
    document: Document = SYBIL.parse(page)
    return list(document)


def _skip_reason(example: Example) -> str | None:
    """The reason of a ``<!-- skip: next "reason" -->`` region (None for other regions)."""
    if _is_code(example):
        return None
    action, reason = example.parsed
    return str(reason).strip("\"'") if action == "next" and reason else None


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _context_for(page: Path, request: pytest.FixtureRequest) -> Context:
    text = page.read_text()
    workdir = request.getfixturevalue("tmp_path_factory").mktemp(page.stem)
    for sample in SAMPLE_DATA:
        shutil.copy(sample, workdir / sample.name)
    shutil.copytree(ROOT / "configs", workdir / "configs")
    context = Context(workdir)
    if DOCS_PG in text:
        context.substitutions[DOCS_PG] = request.getfixturevalue("pg_server")
    if DOCS_HTTP in text:
        context.substitutions[DOCS_HTTP] = request.getfixturevalue("ingest_process").url
    return context


# One test per page, running its examples in order: a page may build on its earlier
# examples (files, Python names), and so its examples must share a process.
def _runs_some(page: Path) -> bool:
    """Whether a page has a code example not marked to be skipped."""
    examples = _page_examples(page)
    marked = sum(1 for example in examples if _skip_reason(example))
    return sum(map(_is_code, examples)) > marked


PAGES_WITH_EXAMPLES = [page for page in PAGES if _runs_some(page)]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=_name)
def test_examples_run(page: Path, request: pytest.FixtureRequest) -> None:
    examples = _page_examples(page)
    examples[0].namespace["__docs_context__"] = _context_for(page, request)
    ran = 0
    for example in examples:
        try:
            example.evaluate()
        except unittest.SkipTest:
            continue  # reported by test_marked_examples_are_skipped
        ran += _is_code(example)
    assert ran, f"{_name(page)}: every example is skipped"


def _marked() -> list[Any]:
    return [
        pytest.param(f"{_name(page)}:{example.line}: {reason}", id=f"{_name(page)}:{example.line}")
        for page in PAGES
        for example in _page_examples(page)
        if (reason := _skip_reason(example))
    ]


@pytest.mark.parametrize("reason", _marked())
def test_marked_examples_are_skipped(reason: str) -> None:
    """The examples that need an outside host, each named with its reason."""
    pytest.skip(reason)


FENCE = re.compile(r"^ *```(\S*)", re.M)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_block_says_its_language(page: Path) -> None:
    """A fence without a language, or with one the tests neither run nor allow, would
    slip an untested example in."""
    opening = FENCE.findall(page.read_text())[::2]  # every other fence closes a block
    unknown = [language or "(none)" for language in opening if language not in RUN | SHOWN_ONLY]
    assert not unknown, f"{page.name}: blocks in {unknown}; use bash/python (run) or text"


def test_the_pages_have_examples() -> None:
    """The collection itself works: a parser change that finds nothing fails here."""

    def found(name: str) -> int:
        return sum(1 for example in _page_examples(ROOT / name) if _is_code(example))

    assert found("README.md") >= 3
    assert found("docs/getting-started.md") >= 4
