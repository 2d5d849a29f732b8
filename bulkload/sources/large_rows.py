"""Rows too large for --max-field-size: the check on every value, and the line of a row
too large for the CSV parser (an error path only).

pyarrow's streaming reader says that a row straddles its blocks, not which row. To name
its line, the file is read once more with Python's csv module, counting records the way
pyarrow numbers them (blank lines do not count), up to the first row past the rows
already delivered that is too large.
"""

from __future__ import annotations

import csv
import io

import pyarrow as pa

from bulkload.config import CsvOptions
from bulkload.csv_fields import unlimited_fields
from bulkload.sources.discovery import SourceFile
from bulkload.sources.streams import open_source


def first_oversized_row(batch: pa.RecordBatch, limit: int) -> int | None:
    """Index of the batch's first row holding a value of more than ``limit`` bytes
    (UTF-8), if any. The parser's block is larger than the limit (a row must fit with
    its other fields), so it can hand out a larger value: the limit is checked here."""
    first: int | None = None
    for column in batch.columns:
        if column.nbytes <= limit:  # all its values together fit: cheap, and the usual case
            continue
        import pyarrow.compute as pc  # ~40-70 ms: only for a batch with a large column

        index = pc.index(pc.greater(pc.binary_length(column), limit), True).as_py()
        if index >= 0 and (first is None or index < first):
            first = index
    return first


def line_of_large_row(
    source: SourceFile,
    options: CsvOptions,
    delimiter: str,
    after: int,
    limit: int,
    row_limit: int,
) -> int | None:
    """Record number of the first row after record ``after`` with a value of more than
    ``limit`` bytes or more than ``row_limit`` bytes in all, or None if there is none or
    the file cannot be read again."""
    stream, _ = open_source(source)
    try:
        text = io.TextIOWrapper(stream, encoding=options.encoding, errors="replace", newline="")
        rows = csv.reader(
            text,
            delimiter=delimiter,
            quotechar=options.quote_char or '"',
            quoting=csv.QUOTE_NONE if options.quote_char is None else csv.QUOTE_MINIMAL,
        )
        records = (row for row in rows if row)
        with unlimited_fields():  # the rows looked for are the huge ones
            for number, row in enumerate(records, start=1):
                if number > after and _too_large(row, limit, row_limit):
                    return number
        return None
    except (OSError, EOFError, ValueError, csv.Error):
        return None
    finally:
        stream.close()


def _too_large(row: list[str], limit: int, row_limit: int) -> bool:
    # a character takes at most 4 bytes in UTF-8: most rows need no encoding to tell
    if 4 * (sum(map(len, row)) + len(row)) <= limit:
        return False
    sizes = [len(value.encode("utf-8", errors="replace")) for value in row]
    return max(sizes) > limit or sum(sizes) + len(row) > row_limit
