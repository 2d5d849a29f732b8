"""A backend installed as a real distribution (a package and its ``*.dist-info`` with
``entry_points.txt``, on the PYTHONPATH of a ``python -m bulkload`` process) declares
options of its own: the command line of import and bench, profiles and ``BULKLOAD_*``
variables take them, they reach the backend, and ``bulkload backends`` lists them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli

# A whole backend: it writes each row as a line of text to the file its URL names.
PLUGIN = """
from dataclasses import dataclass
from urllib.parse import urlsplit

from bulkload.backends.base import ErrorKind
from bulkload.config.option import Option, panel
from bulkload.config.parse import flag, single_char


@dataclass(frozen=True, kw_only=True)
class RowFileOptions:
    separator: str = ","
    header: bool = False


OPTIONS = panel(
    "Row file",
    RowFileOptions,
    Option(name="rowfile_separator", field="separator", flags=("--rowfile-separator",),
           parse=single_char, help="rowfile: the character between values."),
    Option(name="rowfile_header", field="header", flags=("--rowfile-header",),
           cli_type=bool, parse=flag, help="rowfile: write the column names first."),
)


class RowFileBackend:
    schemes = ("rowfile",)
    own_options = OPTIONS
    max_concurrency = 1
    accepts_text = True

    def __init__(self, url, target):
        self.path = urlsplit(url).path.lstrip("/")
        self.options = target.own("rowfile", RowFileOptions)

    async def open(self, table):
        self.file = open(self.path, "a", encoding="utf-8")
        if self.options.header:
            self.file.write(self.options.separator.join(table.schema.names) + "\\n")

    def encode(self, batch):
        return batch

    async def write(self, batch, key=None):
        for row in batch.to_pylist():
            self.file.write(self.options.separator.join(str(v) for v in row.values()) + "\\n")

    async def committed_keys(self):
        return []

    async def forget_checkpoints(self, table):
        return 0

    async def close(self):
        self.file.close()

    def classify(self, error):
        return ErrorKind.FATAL

    def describe(self):
        return f"rowfile:///{self.path}"
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The distribution ``bulkload-rowfile``, installed in a directory of its own."""
    site = tmp_path / "site"
    info = site / "bulkload_rowfile-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bulkload-rowfile\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[bulkload.backends]\nrowfile = rowfile:RowFileBackend\n"
    )
    (site / "rowfile.py").write_text(PLUGIN)
    return site


@pytest.fixture
def run(site: Path, run_cli_subprocess: RunCli, write_file) -> RunCli:
    write_file("d.csv", "a,b\n1,x\n2,y\n")

    def run(*args: str, env: dict[str, str] | None = None, **kw):  # type: ignore[no-untyped-def]
        return run_cli_subprocess(*args, env={"PYTHONPATH": str(site), **(env or {})}, **kw)

    return run  # type: ignore[return-value]


def test_import_takes_the_plugins_options_and_they_reach_it(run: RunCli, tmp_path: Path):
    result = run(
        "import", "d.csv", "--to", "rowfile:///out.txt", "--rowfile-separator", ";",
        "--rowfile-header", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert (tmp_path / "out.txt").read_text() == "a;b\n1;x\n2;y\n"


def test_a_plugins_option_comes_from_a_profile_or_the_environment(
    run: RunCli, tmp_path: Path, write_file
):
    # the profile alone names the plugin: it is learned where the profile is read
    write_file(
        "p.toml",
        'to = "rowfile:///p.txt"\n[import]\nrowfile_separator = "#"\nrowfile-header = true\n',
    )
    result = run("import", "d.csv", "--config", "p.toml", "-q")
    assert result.code == 0, result.stderr
    assert (tmp_path / "p.txt").read_text() == "a#b\n1#x\n2#y\n"
    # the target from the environment too: nothing on the command line names the plugin
    env = {"BULKLOAD_TO": "rowfile:///e.txt", "BULKLOAD_ROWFILE_SEPARATOR": "|"}
    result = run("import", "d.csv", "-q", env=env)
    assert result.code == 0, result.stderr
    assert (tmp_path / "e.txt").read_text() == "1|x\n2|y\n"


def test_bench_takes_the_plugins_options(run: RunCli, tmp_path: Path):
    result = run(
        "bench", "d.csv", "--to", "rowfile:///b.txt", "--rowfile-separator", "/",
        "--sweep", "1", "--warmup", "0", "--batches", "2", "--batch-size", "1", "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert lines and set(lines) <= {"1/x", "2/y"}


def test_help_and_backends_list_the_plugins_options(run: RunCli):
    listed = run("backends", env={"COLUMNS": "300"})
    assert listed.code == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("rowfile")]
    assert "rowfile://" in line and "bulkload-rowfile" in line
    assert "options: --rowfile-separator, --rowfile-header" in listed.stdout
    for command in ("import", "bench"):
        shown = run(command, "--help", env={"COLUMNS": "200"})
        assert "--rowfile-separator" in shown.stdout and "─ Row file ─" in shown.stdout


def test_without_the_plugin_its_option_is_unknown(run_cli_subprocess: RunCli, write_file):
    write_file("d.csv", "a\n1\n")
    result = run_cli_subprocess("import", "d.csv", "--to", "null://", "--rowfile-separator", ";")
    assert result.code == 3  # bad usage
    assert "No such option: --rowfile-separator" in result.error_line


def test_a_built_in_run_does_not_scan_the_entry_points_with_a_plugin_installed(
    site: Path, tmp_path: Path, write_file
):
    """Scanning costs start-up time: only a run that may need a plug-in's options pays."""
    write_file("d.csv", "a\n1\n")
    code = (
        "import sys\n"
        "from bulkload.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('importlib.metadata' in sys.modules)\n"
    )

    def scanned(*args: str) -> bool:
        out = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        )
        return out.stdout.strip().splitlines()[-1] == "True"

    assert not scanned("import", "d.csv", "--to", "null://", "-q", "--no-wal")
    assert scanned("import", "d.csv", "--to", "null://", "-q", "--rowfile-header")


def test_the_library_takes_the_plugins_options_as_keywords(site: Path, tmp_path: Path):
    # a process of its own: what an in-process scan learns stays for the whole process
    (tmp_path / "d.csv").write_text("a,b\n1,x\n")
    code = (
        "import bulkload\n"
        "stats = bulkload.load('d.csv', to='rowfile:///k.txt', rowfile_separator='+')\n"
        "print(stats.rows_loaded)\n"
        "try:\n"
        "    bulkload.load('d.csv', to='rowfile:///k.txt', rowfile_separatr='+')\n"
        "except TypeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "1",
        "load() got unexpected keyword argument(s): rowfile_separatr",
    ]
    assert (tmp_path / "k.txt").read_text() == "1+x\n"


def test_a_plugin_option_that_clashes_with_a_declared_one_is_refused(
    site: Path, run: RunCli, tmp_path: Path
):
    """Another installed backend declaring --wal again: refused, and said why; the first
    plugin's options still work."""
    info = site / "bulkload_clash-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bulkload-clash\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bulkload.backends]\nclash = clash:ClashBackend\n")
    (site / "clash.py").write_text(
        PLUGIN.replace("--rowfile-header", "--wal")
        .replace("rowfile_separator", "clash_separator")
        .replace('"--rowfile-separator"', '"--clash-separator"')
        .replace("class RowFileBackend", "class ClashBackend")
        .replace('("rowfile",)', '("clash",)')
    )
    listed = run("backends", env={"COLUMNS": "300"})
    assert "options refused: option --wal is already declared" in listed.stdout
    result = run("import", "d.csv", "--to", "rowfile:///c.txt", "--rowfile-separator", ":", "-q")
    assert result.code == 0, result.stderr
    assert (tmp_path / "c.txt").read_text() == "1:x\n2:y\n"
    refused = run("import", "d.csv", "--to", "clash:///c.txt", "--clash-separator", ":")
    assert refused.code == 3 and "No such option: --clash-separator" in refused.error_line
