"""The seam every share runner offers its caller (the CLI, or a library user).

"Prepare the target once, run share i of N, merge", with three runners behind it:
in-process (``bench --shard i/N``, one share), local processes (``--processes P``) and
Dask (``--cluster``). A runner is library code: it never touches the terminal or the
process's signals. Its caller wires stop requests to :meth:`ShareRunner.stop` (the
first Ctrl-C: each share ends what it runs, keeps what it finished) and cancels
:meth:`ShareRunner.run` for the second (every share stops at once; none outlives it),
then reads :meth:`ShareRunner.outcome`: the merged result, the shares that failed and
the error that stopped the parent, all as data, and decides how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from bulkload.errors import FailureKind

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass
class ShareEnd:
    """How one share ended (a local process, a Dask task): what it sent as its result
    (None: nothing, it was killed), and where it ran."""

    index: int
    count: int
    where: str  # "process 2/4 (pid N)", "worker 1/2 on HOST"
    body: dict[str, Any] | None
    pid: int | None = None  # a local process's
    killed_by: int | None = None  # the signal that ended a local process

    @property
    def kind(self) -> FailureKind | None:
        """What ended the share badly (None: it finished; killed, no result: FAILED)."""
        if self.body is None:
            return FailureKind.FAILED
        kind = self.body.get("kind")
        return None if kind is None else FailureKind(kind)

    @property
    def failed(self) -> bool:
        """It failed: not finished, not interrupted (by the user, by the runner after
        another failed, or by a signal of its own)."""
        return self.kind not in (None, FailureKind.INTERRUPTED)

    @property
    def error(self) -> str:
        return str((self.body or {}).get("error") or "")

    def describe(self, code: int) -> str:
        """``process 2/4 (pid N) exited 5: its error`` (or ``was killed by signal 9``;
        a Dask task: ``worker 1/2 on HOST: its error``); ``code`` is the exit code its
        run would have had (the CLI knows the codes)."""
        if self.body is None and self.killed_by is not None:
            how = f" was killed by signal {self.killed_by}"
        elif self.pid is not None:
            how = f" exited {code}"
        else:
            how = "" if self.error else " failed"
        return f"{self.where}{how}" + (f": {self.error}" if self.error else "")


@dataclass
class Outcome(Generic[R]):
    """What every runner gives back: its merged ``result`` (bench: the sweep, None when
    no share sent one; import: the statistics), the shares that failed (the first to
    fail first), whether it was interrupted, the error that stopped the parent itself
    (preparing the target; in-process, the run), and what the shares said besides
    their error (warnings, once each)."""

    result: R
    failures: list[ShareEnd] = field(default_factory=list)
    interrupted: bool = False
    error: Exception | None = None
    messages: list[str] = field(default_factory=list)


class ShareRunner(Protocol[R_co]):
    """Prepare the target once, run share i of N of the job, wait for every share."""

    def stop(self) -> None:
        """A graceful stop: every share ends what it runs and starts nothing more."""

    async def run(self) -> None:
        """Prepare, run the shares until each has ended; cancelled: stop them at once.
        What stops it is kept for :meth:`outcome`, never raised (but the cancel)."""

    def outcome(self, *, stopped: bool = False) -> R_co:
        """The merged result; ``stopped``: the caller stopped the run (a share that
        ended badly after that ended by the stop's doing, and failed none)."""
