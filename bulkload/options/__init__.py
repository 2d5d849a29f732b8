"""The command line's options: each declared once (:mod:`.registry`, :mod:`.declared`,
and each backend's next to its code), validated into the config models by
:mod:`.build`. Standard library only: ``bulkload --help`` imports it."""

from bulkload.config.option import BENCH, COMMANDS, IMPORT, Option
from bulkload.config.parse import flag, parse_duration, percentage
from bulkload.options.build import build_bench_config, build_import_config
from bulkload.options.declared import slo
from bulkload.options.registry import (
    BACKEND_OPTIONS,
    OPTIONS,
    add_installed_options,
    commands_of,
    declared_options,
    flags_of,
    help_of,
    load_profile,
    options_for,
    profile_keys,
    resolve,
)

__all__ = [
    "BACKEND_OPTIONS",
    "BENCH",
    "COMMANDS",
    "IMPORT",
    "OPTIONS",
    "Option",
    "add_installed_options",
    "build_bench_config",
    "build_import_config",
    "commands_of",
    "declared_options",
    "flag",
    "flags_of",
    "help_of",
    "load_profile",
    "options_for",
    "parse_duration",
    "percentage",
    "profile_keys",
    "resolve",
    "slo",
]
