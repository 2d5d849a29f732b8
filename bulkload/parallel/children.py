"""What the local-process runners share: a child, how it ended, the error of a share.

A child's error comes back as data, in the result it saves (its ``error``), never as a
line parsed from its stderr; a child killed before saving one has none to tell.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bulkload.errors import BulkloadError
from bulkload.process_signals import signal_child

#: how long children get to stop after the second Ctrl-C before they are killed
KILL_AFTER_S = 10.0
#: the code of a child that ended without one of its own (killed by a signal)
KILLED_CODE = 2


class ShareFailed(BulkloadError):
    """What stopped a share (a child process, a Dask task), with the exit code its own
    error would have had."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Child:
    """One child process running share ``index`` of ``count``."""

    index: int
    count: int
    process: asyncio.subprocess.Process
    stderr_path: Path

    @property
    def name(self) -> str:
        return f"process {self.index}/{self.count} (pid {self.process.pid})"

    @property
    def code(self) -> int:
        """Its exit code; killed by a signal (or still running): 2."""
        code = self.process.returncode
        return KILLED_CODE if code is None or code < 0 else code

    def signal(self, signum: int) -> None:
        signal_child(self.process, signum)

    def describe(self, said: str) -> str:
        """``process 2/4 (pid N) exited 5: what it said``."""
        code = self.process.returncode or 0
        how = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
        return f"{self.name} {how}" + (f": {said}" if said else "")
