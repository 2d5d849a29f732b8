"""The in-process runner of ``import``: the whole job as its one share, in this process
(``bench``'s is :class:`bulkload.bench.run.ShardRun`, as it runs the sweep)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bulkload.config import ImportConfig
from bulkload.engine.import_run import RunControl
from bulkload.errors import AbortedError
from bulkload.parallel.runner import Outcome
from bulkload.stats.run import RunStats

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareRunner


class ImportRun:
    """:func:`bulkload.load.load_async` as a share runner: :meth:`stop` finishes the
    batches in flight; the error that stopped the load is kept for :meth:`outcome`."""

    def __init__(self, config: ImportConfig):
        self.config = config
        self.stats = RunStats()
        self.control = RunControl()
        self.error: Exception | None = None

    def stop(self) -> None:
        self.control.request_stop()

    async def run(self) -> None:
        from bulkload.load import load_async

        try:
            await load_async(self.config, stats=self.stats, control=self.control)
        except asyncio.CancelledError:
            self.stats.outcome = "interrupted"
            raise
        except Exception as exc:  # "aborted": the run stopped itself (--max-errors...)
            self.error = exc
            self.stats.outcome = "aborted" if isinstance(exc, AbortedError) else "failed"

    def outcome(self, *, stopped: bool = False) -> Outcome[RunStats]:
        stopped = stopped or self.control.stop_requested
        if stopped and self.stats.outcome == "completed":
            self.stats.outcome = "interrupted"
        return Outcome(self.stats, interrupted=stopped, error=self.error)


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[Outcome[RunStats]]] = ImportRun
