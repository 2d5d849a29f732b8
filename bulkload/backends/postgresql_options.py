"""The PostgreSQL backend's own options and the model they fill; apart from the backend
module so that ``--help`` reads them without loading the driver (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

from bulkload.config.option import Option, panel
from bulkload.config.parse import choice, names, non_empty
from bulkload.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class PostgresOptions:
    schema_name: str | None = None
    pg_method: str = "copy"
    pg_format: str = "binary"  # COPY format: binary (pgpq) or csv
    on_conflict: str | None = None  # nothing | update
    key: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.on_conflict and not self.key:
            raise UsageError(
                "--on-conflict needs --key col1,col2 (the columns that identify a row)"
            )
        if self.pg_method not in ("copy", "insert"):
            raise UsageError(f"--pg-method must be copy or insert, not {self.pg_method!r}")


OPTIONS = panel(
    "PostgreSQL",
    PostgresOptions,
    Option(
        name="schema_name",
        flags=("--schema-name",),
        parse=non_empty,
        default_help="public",
        help="PostgreSQL: schema of the table (created if missing).",
    ),
    Option(
        name="pg_method",
        flags=("--pg-method",),
        parse=choice("copy", "insert"),
        help="PostgreSQL: copy (fastest) or insert.",
    ),
    Option(
        name="pg_format",
        flags=("--pg-format",),
        parse=choice("binary", "csv"),
        help="PostgreSQL COPY format: binary (least server work) or csv (the server converts "
        "the text).",
    ),
    Option(
        name="on_conflict",
        flags=("--on-conflict",),
        parse=choice("nothing", "update"),
        help="PostgreSQL and MySQL upsert when --key columns match: nothing (keep) or update "
        "(overwrite).",
    ),
    Option(
        name="key",
        flags=("--key",),
        parse=names,
        help="PostgreSQL and MySQL: the columns identifying a row, for --on-conflict.",
    ),
)
