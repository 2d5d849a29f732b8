"""The command line: the only package that knows typer, exit codes, the ``bulkload:
error:`` line, rich consoles and signal handling (``tests/test_layering.py`` checks it).

Below it the library returns result objects or raises :mod:`bulkload.errors`; here
they become a rendered result, files and an exit code.

- :mod:`.root`: the typer app, its commands, and the console script's :func:`main`
- :mod:`.params`: typer parameters generated from :mod:`bulkload.options`
- :mod:`.import_command`, :mod:`.bench_command`, :mod:`.report_commands`,
  :mod:`.checkpoints_command`, :mod:`.backends_command`: one module per command
- :mod:`.finish`: render, write JSON/HTML, pick the exit code (every command's end)
- :mod:`.views`: the terminal views (rich): summaries, progress, tables, verdicts, and
  the consoles they draw on (a terminal's width, or unbounded lines in logs and pipes)
- :mod:`.exit_codes`: the codes, and the one mapping from outcome or error to code
- :mod:`.error_line`: the ``bulkload: error:`` line, errors turned into codes
- :mod:`.logs`: where log records go while a command runs
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulkload.cli.root import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: :func:`bulkload.cli.root.main`. ``bulkload --version``
    is answered here, before typer and the commands are imported (~60 ms of a ~100 ms
    start-up): scripts and installers call it to check what is installed."""
    if argv is None:  # the console script: see event_loop.run_command
        import gc

        # What start-up imports lives until exit; the collector walking it over and
        # over while it is imported was ~5% of a one-row import's CPU. The run turns
        # it back on (run_command), with start-up's objects frozen out of its way.
        gc.disable()
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        from bulkload.version import __version__

        print(f"bulkload {__version__}")
        sys.stdout.flush()
        sys.exit(0)  # ExitCode.OK, as the app's --version callback exits
    from bulkload.cli import root

    root.main(argv)


def __getattr__(name: str) -> Any:
    # bulkload.cli.exit_codes without typer and the commands: the app on first use
    if name == "app":
        from bulkload.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'bulkload.cli' has no attribute {name!r}")
