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
    from bulkload.config import (
        CsvOptions,
        EngineOptions,
        ImportConfig,
        ReportOptions,
        SourceOptions,
        TargetOptions,
    )
    from bulkload.engine.ceiling import InFlightCapWarning
    from bulkload.engine.executor import (
        ExecutionResult,
        ResultsGenerator,
        execute_concurrent,
        execute_concurrent_async,
    )
    from bulkload.engine.loader import AsyncLoader
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
    from bulkload.options import build_import_config
    from bulkload.sources import BatchSource, Rejection, SourceBatch
    from bulkload.stats import LatencyHistogram, RunStats

# Eager, and cheap: "load" is also the name of the submodule, which importing binds here.
from bulkload.load import load, load_async

__version__ = "0.1.0"

__all__ = [
    "AbortedError",
    "AsyncLoader",
    "Backend",
    "BatchSource",
    "BulkloadError",
    "CsvOptions",
    "EngineOptions",
    "ErrorKind",
    "ExecutionResult",
    "ImportConfig",
    "InFlightCapWarning",
    "InputError",
    "LatencyHistogram",
    "PermanentWriteError",
    "Rejection",
    "ReportOptions",
    "ResultsGenerator",
    "RunStats",
    "SourceBatch",
    "SourceOptions",
    "TableSpec",
    "TargetError",
    "TargetOptions",
    "TargetUnreachable",
    "TransientWriteError",
    "UsageError",
    "__version__",
    "available_backends",
    "build_import_config",
    "create_backend",
    "execute_concurrent",
    "execute_concurrent_async",
    "load",
    "load_async",
]

# The module each public name lives in (tests/test_public_api.py checks this against
# __all__).
_HOME = {
    "AbortedError": "bulkload.errors",
    "AsyncLoader": "bulkload.engine.loader",
    "Backend": "bulkload.backends",
    "BatchSource": "bulkload.sources",
    "BulkloadError": "bulkload.errors",
    "CsvOptions": "bulkload.config",
    "EngineOptions": "bulkload.config",
    "ErrorKind": "bulkload.backends",
    "ExecutionResult": "bulkload.engine.executor",
    "ImportConfig": "bulkload.config",
    "InFlightCapWarning": "bulkload.engine.ceiling",
    "InputError": "bulkload.errors",
    "LatencyHistogram": "bulkload.stats",
    "PermanentWriteError": "bulkload.errors",
    "Rejection": "bulkload.sources",
    "ReportOptions": "bulkload.config",
    "ResultsGenerator": "bulkload.engine.executor",
    "RunStats": "bulkload.stats",
    "SourceBatch": "bulkload.sources",
    "SourceOptions": "bulkload.config",
    "TableSpec": "bulkload.backends",
    "TargetError": "bulkload.errors",
    "TargetOptions": "bulkload.config",
    "TargetUnreachable": "bulkload.errors",
    "TransientWriteError": "bulkload.errors",
    "UsageError": "bulkload.errors",
    "available_backends": "bulkload.backends",
    "build_import_config": "bulkload.options",
    "create_backend": "bulkload.backends",
    "execute_concurrent": "bulkload.engine.executor",
    "execute_concurrent_async": "bulkload.engine.executor",
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
