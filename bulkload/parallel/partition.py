"""The one partition formula: share i of N (i from 1) of a count, or of a range of keys.

Deterministic, so N machines agree on it without talking to each other; the parts add
up to the whole, the remainder going to the first shares. Batches of files are divided
by the source (``SourceOptions.process_share``: batch n of the f-th file belongs to
share i when (f + n) mod N == i - 1), for import and bench alike.
"""

from __future__ import annotations

Share = tuple[int, int]  # (index from 1, count)


def part(total: int, share: Share) -> int:
    """Share ``share``'s part of ``total``: the parts add up to ``total`` (some may be 0
    when ``total`` is smaller than the number of shares)."""
    index, count = share
    base, extra = divmod(total, count)
    return base + (1 if index <= extra else 0)


def part_at_least_one(total: int, share: Share) -> int:
    """:func:`part`, but at least 1: for what each share needs one of (a writer in
    flight, a connection, a batch to write)."""
    return max(1, part(total, share))


def key_range(rows: int, share: Share) -> tuple[int, int]:
    """(first key, number of keys) of a share's part of ``rows`` keys: contiguous, and
    no key in two shares."""
    index, count = share
    first = (index - 1) * (rows // count) + min(index - 1, rows % count)
    return first, part(rows, share)
