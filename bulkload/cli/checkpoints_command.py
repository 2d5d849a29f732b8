"""``bulkload forget-checkpoints``: remove a table's checkpoint bookkeeping."""

from __future__ import annotations

from pathlib import Path

import typer

from bulkload import event_loop
from bulkload.cli.error_line import errors_as_exit_codes


def forget_checkpoints_command(
    to: str = typer.Option(..., "--to", envvar="BULKLOAD_TO", help="Target URL."),
    table: str = typer.Option(..., "--table", envvar="BULKLOAD_TABLE", help="Table name."),
    schema_name: str | None = typer.Option(
        None, "--schema-name", help="PostgreSQL: schema of the table."
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Also delete this checkpoint file."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks, and the log records of the libraries used."
    ),
) -> None:
    """Remove the checkpoint bookkeeping of a table (the _bulkload_checkpoints rows written
    by --checkpoint runs), so a later --resume starts from scratch."""
    from bulkload.backends import create_backend
    from bulkload.options import build_import_config

    with errors_as_exit_codes(debug):
        settings = build_import_config({"paths": ["-"], "to": to, "schema_name": schema_name})
        backend = create_backend(settings.target)
        removed = event_loop.run(backend.forget_checkpoints(table))
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        print(f"removed {removed} checkpoint key(s) of table {table!r} from {backend.describe()}")
