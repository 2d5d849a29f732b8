"""The library's configuration: frozen option models that own their defaults
(:mod:`.models`), the value parsers (:mod:`.parse`), the declaration of one option
(:mod:`.option`) and TOML profiles (:mod:`.profiles`). Standard library only.

The builders that validate a mapping of option values into these models,
``build_import_config`` and ``build_bench_config``, live with the option registry in
:mod:`bulkload.options` (they need every option declared, backends' included).
"""

from bulkload.config.models import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_TARGET,
    BenchConfig,
    ClusterOptions,
    CsvOptions,
    EngineOptions,
    GateOptions,
    ImportConfig,
    ReportOptions,
    SourceOptions,
    SweepOptions,
    TargetOptions,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TARGET",
    "BenchConfig",
    "ClusterOptions",
    "CsvOptions",
    "EngineOptions",
    "GateOptions",
    "ImportConfig",
    "ReportOptions",
    "SourceOptions",
    "SweepOptions",
    "TargetOptions",
]
