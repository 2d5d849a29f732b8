"""bulkload: stream CSV and Parquet into databases and ingest endpoints, fast.

The public library API; everything else is private and may change.

The names are imported on first use (PEP 562 module ``__getattr__``): the command line
imports this package too, and ``bulkload --version`` must not pay for pyarrow, numpy and
the database drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time see _HOME
    from bulkload.backends import (
        Backend,
        ErrorKind,
        TableSpec,
        available_backends,
        create_backend,
    )
    from bulkload.bench.result import SweepResult
    from bulkload.config import (
        BenchConfig,
        CsvOptions,
        EngineOptions,
        ImportConfig,
        ReportOptions,
        SourceOptions,
        TargetOptions,
    )
    from bulkload.config.keywords import BenchKeywords, LoadKeywords
    from bulkload.engine.async_loader import AsyncLoader
    from bulkload.engine.execute_concurrent import (
        ExecutionResult,
        ResultsGenerator,
        execute_concurrent,
        execute_concurrent_async,
    )
    from bulkload.engine.execute_queries import (
        execute_concurrent_queries,
        execute_concurrent_with_args,
    )
    from bulkload.engine.in_flight import InFlightCapWarning
    from bulkload.errors import (
        AbortedError,
        BulkloadError,
        InputError,
        PermanentWriteError,
        TargetError,
        TargetUnreachable,
        TransientWriteError,
        UsageError,
    )
    from bulkload.options import build_bench_config, build_import_config
    from bulkload.sources import BatchSource, Rejection, SourceBatch
    from bulkload.stats import LatencyHistogram, RunStats
    from bulkload.stats.level import LevelResult
    from bulkload.stats.outcome import Outcome

# Eager, and cheap: "load" and "bench" are also the names of a submodule and a subpackage,
# which importing binds here; imported first, they are not bound again by a later import.
import bulkload.load  # noqa: F401  (the submodule, before the function of the same name)
from bulkload.bench.library import bench, bench_async
from bulkload.library import load, load_async
from bulkload.version import __version__

__all__ = [
    "AbortedError",
    "AsyncLoader",
    "Backend",
    "BatchSource",
    "BenchConfig",
    "BenchKeywords",
    "BulkloadError",
    "CsvOptions",
    "EngineOptions",
    "ErrorKind",
    "ExecutionResult",
    "ImportConfig",
    "InFlightCapWarning",
    "InputError",
    "LatencyHistogram",
    "LevelResult",
    "LoadKeywords",
    "Outcome",
    "PermanentWriteError",
    "Rejection",
    "ReportOptions",
    "ResultsGenerator",
    "RunStats",
    "SourceBatch",
    "SourceOptions",
    "SweepResult",
    "TableSpec",
    "TargetError",
    "TargetOptions",
    "TargetUnreachable",
    "TransientWriteError",
    "UsageError",
    "__version__",
    "available_backends",
    "bench",
    "bench_async",
    "build_bench_config",
    "build_import_config",
    "create_backend",
    "execute_concurrent",
    "execute_concurrent_async",
    "execute_concurrent_queries",
    "execute_concurrent_with_args",
    "load",
    "load_async",
]

# The module each public name lives in (tests/test_public_api.py checks this against
# __all__).
_HOME = {
    "AbortedError": "bulkload.errors",
    "AsyncLoader": "bulkload.engine.async_loader",
    "Backend": "bulkload.backends",
    "BatchSource": "bulkload.sources",
    "BenchConfig": "bulkload.config",
    "BenchKeywords": "bulkload.config.keywords",
    "BulkloadError": "bulkload.errors",
    "CsvOptions": "bulkload.config",
    "EngineOptions": "bulkload.config",
    "ErrorKind": "bulkload.backends",
    "ExecutionResult": "bulkload.engine.execute_concurrent",
    "ImportConfig": "bulkload.config",
    "InFlightCapWarning": "bulkload.engine.in_flight",
    "InputError": "bulkload.errors",
    "LatencyHistogram": "bulkload.stats",
    "LevelResult": "bulkload.stats.level",
    "LoadKeywords": "bulkload.config.keywords",
    "Outcome": "bulkload.stats.outcome",
    "PermanentWriteError": "bulkload.errors",
    "Rejection": "bulkload.sources",
    "ReportOptions": "bulkload.config",
    "ResultsGenerator": "bulkload.engine.execute_concurrent",
    "RunStats": "bulkload.stats",
    "SourceBatch": "bulkload.sources",
    "SourceOptions": "bulkload.config",
    "SweepResult": "bulkload.bench.result",
    "TableSpec": "bulkload.backends",
    "TargetError": "bulkload.errors",
    "TargetOptions": "bulkload.config",
    "TargetUnreachable": "bulkload.errors",
    "TransientWriteError": "bulkload.errors",
    "UsageError": "bulkload.errors",
    "available_backends": "bulkload.backends",
    "build_bench_config": "bulkload.options",
    "build_import_config": "bulkload.options",
    "create_backend": "bulkload.backends",
    "execute_concurrent": "bulkload.engine.execute_concurrent",
    "execute_concurrent_async": "bulkload.engine.execute_concurrent",
    "execute_concurrent_queries": "bulkload.engine.execute_queries",
    "execute_concurrent_with_args": "bulkload.engine.execute_queries",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bulkload' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
