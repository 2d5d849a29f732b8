"""Python's csv module refuses fields over a limit that is one setting for the whole
process (128 KB by default). Where bulkload reads records back that may be as large as
``--max-field-size`` (a folded record, a row in the bad-records file), it lifts the
limit for the time of the read, one reader at a time."""

from __future__ import annotations

import csv
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def unlimited_fields() -> Iterator[None]:
    with _LOCK:
        previous = csv.field_size_limit(sys.maxsize)
        try:
            yield
        finally:
            csv.field_size_limit(previous)
