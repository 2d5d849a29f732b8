"""The SQLite backend's own options and the model they fill; apart from the backend
module so that ``--help`` reads them without loading the driver (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

from bulkload.config.option import Option, panel
from bulkload.config.parse import flag


@dataclass(frozen=True, kw_only=True)
class SQLiteOptions:
    wal: bool = True


OPTIONS = panel(
    "SQLite",
    SQLiteOptions,
    Option(
        name="wal",
        flags=("--wal/--no-wal",),
        cli_type=bool,
        parse=flag,
        help="SQLite: WAL journal. --no-wal is faster but a crash can corrupt the file.",
    ),
)
