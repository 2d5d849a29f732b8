"""The ``bulkload: error:`` line: how an error that ends a command is told, and its code.

One line on stderr, never a traceback (unless ``--debug``); the code comes from
:func:`bulkload.cli.exit_codes.for_error`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from bulkload.cli.exit_codes import for_error
from bulkload.errors import BulkloadError

PREFIX = "bulkload: error:"


@contextlib.contextmanager
def errors_as_exit_codes(debug: bool) -> Iterator[None]:
    """Turn errors into one line on stderr and their exit code (tracebacks with --debug);
    other libraries' log records stay off the terminal unless --debug."""
    from bulkload.cli.logs import command_logs  # logging: not needed for --help

    try:
        with command_logs(debug):
            yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as error:
        show(error, debug, "interrupted")
        raise typer.Exit(for_error(error)) from None
    except Exception as error:
        show(error, debug)
        raise typer.Exit(for_error(error)) from None


def error_message(error: BaseException) -> str:
    """What the user is told: our own errors as they are, anything else as internal."""
    if isinstance(error, BulkloadError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error} (--debug shows where)"


def show(error: BaseException, debug: bool, message: str | None = None) -> None:
    if debug:
        import traceback

        traceback.print_exception(error)
    error_line(message or error_message(error))


def error_line(message: str) -> None:
    """Print the first line of ``message`` as the command's error line."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"{PREFIX} {first}", file=sys.stderr)
