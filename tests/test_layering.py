"""The terminal belongs to ``bulkload/cli/``: typer, ``sys.exit``/``SystemExit``, exit
code constants, the ``bulkload: error:`` line, rich (its consoles and every renderer
drawing with it: ``cli/views/``) and installing signal handlers appear nowhere else in
the package. ``report/`` prepares figures as plain data and files (JSON, HTML); the
library API (``bulkload.load``, ``bulkload.bench``) never imports rich.

Read from each module's syntax tree, not grepped from its text: prose that names typer
(a comment, a docstring) is no violation, an import inside a function is one.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bulkload"
CLI = "cli/"

#: rule -> the folders (under bulkload/) where it may appear
PLACES = {
    "typer": (CLI,),
    "sys.exit": (CLI,),
    "SystemExit": (CLI,),
    "EXIT_ constant": (CLI,),
    "error line": (CLI,),
    "Console(": (CLI,),
    "signal handler": (CLI,),
    "rich": (CLI,),  # the terminal views are cli/views/
}

#: Modules being renovated right now by other parts of issue 21, which still break a
#: rule: each entry goes when its module lands (the test fails while an entry is no
#: longer needed, so the list only shrinks).
ALLOWED = {
    # a local share (a child process) leaves the terminal (setsid) and takes its stop
    # requests from its parent's SIGINT (first: end the level or batches in flight,
    # second: at once), which it must handle itself: no CLI runs in it
    "parallel/local.py": {"signal handler"},
}

_EXIT_NAME = re.compile(r"EXIT_[A-Z_]+$")


def _violations(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _imported(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from _imported(node.module, node.lineno)
            for alias in node.names:
                if _EXIT_NAME.match(alias.name):
                    yield "EXIT_ constant", node.lineno
                if node.module == "rich" and alias.name == "console":
                    yield "rich", node.lineno
        elif isinstance(node, ast.Name):
            if node.id == "SystemExit":
                yield "SystemExit", node.lineno
            if _EXIT_NAME.match(node.id):
                yield "EXIT_ constant", node.lineno
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner == "sys" and node.attr == "exit":
                yield "sys.exit", node.lineno
            if owner == "signal" and node.attr == "signal":
                yield "signal handler", node.lineno
            if _EXIT_NAME.match(node.attr):
                yield "EXIT_ constant", node.lineno
        elif isinstance(node, ast.Call):
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            if name == "Console":
                yield "Console(", node.lineno
        elif isinstance(node, ast.Constant) and "bulkload: error:" in str(node.value):
            yield "error line", node.lineno  # an f-string's parts are constants too


def _imported(module: str, line: int) -> Iterator[tuple[str, int]]:
    top = module.split(".")[0]
    if top == "typer":
        yield "typer", line
    if top == "rich":
        yield "rich", line


def violations(package: Path = PACKAGE) -> dict[str, dict[str, list[int]]]:
    """module (relative to the package) -> rule -> the lines that break it."""
    found: dict[str, dict[str, list[int]]] = {}
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for rule, line in _violations(tree):
            if module.startswith(PLACES[rule]):
                continue
            found.setdefault(module, {}).setdefault(rule, []).append(line)
    return found


def test_the_terminal_is_only_in_the_cli():
    unexpected = {
        f"bulkload/{module}:{lines[0]}: {rule}"
        for module, rules in violations().items()
        for rule, lines in rules.items()
        if rule not in ALLOWED.get(module, set())
    }
    assert not unexpected, "only bulkload/cli/ may do this:\n" + "\n".join(sorted(unexpected))


def test_not_even_prose_names_them_below_the_cli():
    """The plain grep a reader would run finds these words only under bulkload/cli/."""
    words = ("typer", "sys.exit", "SystemExit", "rich.console", "EXIT_")
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {word}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.relative_to(PACKAGE).as_posix().startswith(CLI)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for word in words
        if word in line
    ]
    assert not found, "\n".join(found)


def test_the_allow_list_only_shrinks():
    found = violations()
    stale = {
        f"{module}: {rule}"
        for module, rules in ALLOWED.items()
        for rule in rules
        if rule not in found.get(module, {})
    }
    assert not stale, "no longer needed, remove from ALLOWED:\n" + "\n".join(sorted(stale))


def test_rich_in_report_is_a_violation(tmp_path: Path):
    """report/ prepares data; a renderer drawing with rich belongs in cli/views/."""
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "view.py").write_text(
        "from rich.table import Table\nimport rich.text\n\ndef f():\n    from rich import box\n"
    )
    assert violations(tmp_path) == {"report/view.py": {"rich": [1, 2, 5]}}


def test_the_library_api_never_imports_rich(tmp_path: Path):
    """bulkload.load and bulkload.bench, run in a fresh interpreter: no terminal, so no
    rich (nor typer) among the modules imported."""
    script = (
        "import sys, bulkload\n"
        f"bulkload.load({str(tmp_path / 'a.csv')!r}, to='null://', table='a')\n"
        "bulkload.bench(synthetic='rows=300,columns=2', to='null://', sweep=[1],\n"
        "               warmup='0s', duration='0.1s')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'typer'}))\n"
    )
    (tmp_path / "a.csv").write_text("x\n1\n2\n")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import typer\n", "typer"),
        ("def f():\n    from typer import Exit\n", "typer"),
        ("import sys\nsys.exit(3)\n", "sys.exit"),
        ("raise SystemExit(2)\n", "SystemExit"),
        ("EXIT_TARGET = 5\n", "EXIT_ constant"),
        ("from bulkload.cli.x import EXIT_OK\n", "EXIT_ constant"),
        ("print(f'bulkload: error: {e}')\n", "error line"),
        ("from rich.console import Console\nc = Console()\n", "Console("),
        ("from rich.console import Console\n", "rich"),
        ("import signal\nsignal.signal(signal.SIGINT, h)\n", "signal handler"),
    ],
)
def test_each_rule_is_seen_below_the_cli(tmp_path: Path, source: str, rule: str):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "x.py").write_text(source)
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "x.py").write_text(source)
    found = violations(tmp_path)
    assert list(found) == ["engine/x.py"]  # the same lines in cli/ are no violation
    assert found["engine/x.py"][rule] == [source.count("\n")]


def test_no_module_imports_the_package_root_for_its_names():
    """The root (``bulkload/__init__``) imports the library, which imports most of the
    package: a module taking a name from it (``from bulkload import __version__``) closes
    an import cycle through a function-level import the layer contract cannot see (the
    root is its container). ``from bulkload import event_loop`` (a submodule) is fine."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "bulkload" and not node.level:
                for alias in node.names:
                    submodule = PACKAGE / alias.name
                    if not (submodule.with_suffix(".py").exists() or submodule.is_dir()):
                        found.append(f"{path.relative_to(PACKAGE)}: {alias.name}")
    assert not found, found
