"""The end of every command that produced a result: render it, write the files asked
for (JSON, HTML), then pick the exit code.

A file that cannot be written is one error line: after the error that ended the run, if
one did (that error, raised last, gives the code), else it ends the command itself
(exit 2: the run happened, a blind re-run would repeat it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulkload.cli.error_line import error_line
from bulkload.cli.exit_codes import ExitCode
from bulkload.errors import BulkloadError

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Output:
    """One file to write: ``write(path)`` raises OSError; ``option`` names it in errors."""

    option: str
    path: str
    write: Callable[[str], None]


def outputs(*wanted: tuple[str, str | None, Callable[[str], None]]) -> list[Output]:
    """The outputs whose path was given: ``("--json", path or None, write)`` each."""
    return [Output(option, path, write) for option, path, write in wanted if path]


def show_and_save(
    console: Console | None,
    view: Callable[[Console], None] | None,
    files: Sequence[Output] = (),
    *,
    failed: bool = False,
    done: str = "",
) -> None:
    """Render ``view`` on ``console``, then write ``files``. ``failed``: an error ended
    the run (its caller reports it); ``done`` says what the run did, after a file's
    problem when no error did."""
    if view is not None and console is not None:
        view(console)
    for output in files:
        try:
            output.write(output.path)
        except OSError as exc:
            problem = f"{output.option}: cannot write {output.path}: {exc.strerror or exc}"
            if failed:
                error_line(problem)
                continue
            raise BulkloadError(f"{problem}{done}") from None


def finish(
    console: Console | None,
    view: Callable[[Console], None] | None,
    files: Sequence[Output] = (),
    *,
    code: ExitCode = ExitCode.OK,
    error: BaseException | None = None,
    done: str = "",
) -> ExitCode:
    """:func:`show_and_save`, then the exit code: ``error`` (what ended the run) is
    raised once everything is written, for its error line and code; else ``code``."""
    show_and_save(console, view, files, failed=error is not None, done=done)
    if error is not None:
        raise error
    return code


def consoles(json_to_stdout: bool) -> tuple[Console, Console]:
    """The result's console and the messages' one: stdout belongs to the JSON when it
    goes there, and people read stderr then."""
    from bulkload.cli.views.console import console

    return console(stderr=json_to_stdout), console(stderr=True)
