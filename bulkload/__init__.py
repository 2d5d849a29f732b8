"""bulkload: stream CSV and Parquet into databases and ingest endpoints, fast.

The public library API; everything else is private and may change.
"""

from bulkload.backends import Backend, ErrorKind, TableSpec, available_backends, create_backend
from bulkload.config import (
    CsvOptions,
    EngineOptions,
    ImportConfig,
    ReportOptions,
    SourceOptions,
    TargetOptions,
    build_import_config,
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
from bulkload.load import load, load_async
from bulkload.sources import BatchSource, Rejection, SourceBatch
from bulkload.stats import LatencyHistogram, RunStats

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
