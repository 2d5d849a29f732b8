"""The MySQL/MariaDB backend's own options and the model they fill; apart from the
backend module so that ``--help`` reads them without loading the driver (standard
library only). Connection settings (TLS, charset, socket) go in the URL's query, as
for PostgreSQL; upserts use the PostgreSQL panel's ``--on-conflict``/``--key``."""

from __future__ import annotations

from dataclasses import dataclass

from bulkload.config.option import Option, panel
from bulkload.config.parse import choice
from bulkload.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class MySQLOptions:
    mysql_method: str = "load"  # LOAD DATA LOCAL INFILE from memory, or multi-row INSERT

    def __post_init__(self) -> None:
        if self.mysql_method not in ("load", "insert"):
            raise UsageError(f"--mysql-method must be load or insert, not {self.mysql_method!r}")


OPTIONS = panel(
    "MySQL / MariaDB",
    MySQLOptions,
    Option(
        name="mysql_method",
        flags=("--mysql-method",),
        parse=choice("load", "insert"),
        help="MySQL/MariaDB: load (LOAD DATA LOCAL INFILE, streamed from memory; fastest) "
        "or insert (multi-row INSERT).",
    ),
)
