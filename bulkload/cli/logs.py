"""Where log records go while a command runs: other libraries' nowhere, unless --debug.

bulkload configured no logging, so a library's warning reached the terminal through
Python's last-resort handler: asyncpg's pool printed "Failed to restore the pool
connection floor; retrying" with a traceback whenever the server restarted, while the
engine was retrying and the run went on to succeed. A command puts this handler on the
root logger for its run: a record of bulkload's own loggers shows as one line, anyone
else's is dropped; with --debug every one shows, traceback included.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

_DEBUG_FORMAT = logging.Formatter("bulkload: debug: %(name)s: %(levelname)s: %(message)s")


class _CommandLogs(logging.Handler):
    def __init__(self, debug: bool):
        super().__init__()
        self.debug = debug

    def emit(self, record: logging.LogRecord) -> None:
        ours = record.name == "bulkload" or record.name.startswith("bulkload.")
        try:
            if self.debug:
                text = _DEBUG_FORMAT.format(record)
            elif ours:
                message = record.getMessage().strip() or record.levelname
                text = f"bulkload: {record.levelname.lower()}: {message.splitlines()[0]}"
            else:
                return
            print(text, file=sys.stderr)  # looked up now: the command's stderr
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def command_logs(debug: bool) -> Iterator[None]:
    """Route log records as above for the duration of one command."""
    handler = _CommandLogs(debug)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
