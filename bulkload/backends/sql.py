"""What the SQL backends share: identifier quoting and the checkpoint bookkeeping table."""

from __future__ import annotations

from bulkload.errors import UsageError

# One row per committed batch, written in the batch's own transaction (see --checkpoint).
CHECKPOINT_TABLE = "_bulkload_checkpoints"


def quote_identifier(name: str) -> str:
    """Quote a table or column name so any text is safe: keywords, spaces and quotes."""
    if "\x00" in name:
        raise UsageError(f"identifier contains a NUL character: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_backticks(name: str) -> str:
    """Quote a name the MySQL way (backticks, doubled inside): any text is then one name."""
    if "\x00" in name:
        raise UsageError(f"identifier contains a NUL character: {name!r}")
    return "`" + name.replace("`", "``") + "`"
