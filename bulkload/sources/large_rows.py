"""Find the line of a row too large for the CSV parser (an error path only).

pyarrow's streaming reader says that a row straddles its blocks, not which row. To name
its line, the file is read once more with Python's csv module, counting records the way
pyarrow numbers them (blank lines do not count), up to the first row past the rows
already delivered that is larger than the limit.
"""

from __future__ import annotations

import csv
import io

from bulkload.config import CsvOptions
from bulkload.csv_fields import unlimited_fields
from bulkload.sources.discovery import SourceFile
from bulkload.sources.streams import open_source


def line_of_large_row(
    source: SourceFile, options: CsvOptions, delimiter: str, after: int, limit: int
) -> int | None:
    """Record number of the first row after record ``after`` with more than ``limit``
    characters, or None if there is none or the file cannot be read again."""
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
                if number > after and sum(map(len, row)) + len(row) > limit:
                    return number
        return None
    except (OSError, EOFError, ValueError, csv.Error):
        return None
    finally:
        stream.close()
