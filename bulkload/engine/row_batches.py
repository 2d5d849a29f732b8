"""Rows buffered as Python values, turned into Arrow batches once per batch.

The first batch fixes the table's columns: every key seen in any of its rows, typed from
the first non-null values (a column with no value at all becomes text, as the SQL
backends would create it). Later rows are fitted to those columns: a missing key is
NULL, a value of another type is converted when Arrow can do so safely (2 into a float
column, 7 into a text column); a row with a key the table lacks, or a value that cannot
be converted, is refused with a reason. A value is never dropped silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

Row = dict[str, Any]
#: what a loader buffers: one row dict, or a RecordBatch the caller built (pyarrow ships
#: no type hints, so the union cannot be spelled)
Item = Any

_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    ValueError,
    OverflowError,
)


@dataclass(slots=True)
class Fitted:
    """A chunk of buffered rows as one batch, and the rows that did not fit."""

    batch: pa.RecordBatch
    #: position in the chunk of each row of ``batch``
    positions: list[int]
    #: (position in the chunk, reason, the row) of each row refused
    refused: list[tuple[int, str, Row]] = field(default_factory=list)


class RowFitter:
    def __init__(self, table: str):
        self.table = table
        self.schema: pa.Schema | None = None

    def fit(self, items: Sequence[Item]) -> Fitted:
        """Fit buffered items (in order) to the table's columns, fixing them first if
        this is the first chunk."""
        if self.schema is None:
            self.schema = _infer_schema(items)
        batches: list[pa.RecordBatch] = []
        fitted = Fitted(pa.RecordBatch.from_pylist([], schema=self.schema), [])
        offset = 0
        for group in _groups(items):
            if isinstance(group, pa.RecordBatch):
                as_is = self._fit_arrow(group)
                if as_is is not None:
                    batches.append(as_is)
                    fitted.positions.extend(range(offset, offset + group.num_rows))
                    offset += group.num_rows
                    continue
                group = group.to_pylist()
            batch, kept, refused = self._fit_rows(group)
            batches.append(batch)
            fitted.positions.extend(offset + i for i in kept)
            fitted.refused.extend((offset + i, reason, row) for i, reason, row in refused)
            offset += len(group)
        if batches:
            table = pa.Table.from_batches(batches, schema=self.schema).combine_chunks()
            if table.num_rows:
                fitted.batch = table.to_batches()[0]
        return fitted

    def _fit_arrow(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """The batch in the table's columns, or None if some row needs a closer look."""
        assert self.schema is not None
        if batch.schema.equals(self.schema):
            return batch
        if set(batch.schema.names) - set(self.schema.names):
            return None
        columns = []
        for column in self.schema:
            index = batch.schema.get_field_index(column.name)
            if index < 0:
                columns.append(pa.nulls(batch.num_rows, column.type))
                continue
            try:
                columns.append(batch.column(index).cast(column.type))
            except _CONVERSION_ERRORS:
                return None
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _fit_rows(
        self, rows: list[Row]
    ) -> tuple[pa.RecordBatch, Sequence[int], list[tuple[int, str, Row]]]:
        assert self.schema is not None
        if not set().union(*rows).difference(self.schema.names):
            try:
                return self._batch(rows), range(len(rows)), []
            except _CONVERSION_ERRORS:
                pass  # some row does not fit: find which, one by one
        kept: list[int] = []
        refused: list[tuple[int, str, Row]] = []
        for i, row in enumerate(rows):
            reason = self._why_refused(row)
            if reason is None:
                kept.append(i)
            else:
                refused.append((i, reason, row))
        return self._batch([rows[i] for i in kept]), kept, refused

    def _batch(self, rows: list[Row]) -> pa.RecordBatch:
        assert self.schema is not None
        try:  # pyarrow's own loop, twice as fast; a missing key is null
            return pa.RecordBatch.from_pylist(rows, schema=self.schema)
        except _CONVERSION_ERRORS:
            pass  # values to convert (7 into text): column by column
        columns = [_column([row.get(f.name) for row in rows], f.type) for f in self.schema]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _why_refused(self, row: Row) -> str | None:
        assert self.schema is not None
        unknown = [key for key in row if key not in self.schema.names]
        if unknown:
            return (
                f"column {', '.join(map(repr, unknown))} not in table {self.table!r} "
                f"(its columns were fixed by the first batch: {', '.join(self.schema.names)})"
            )
        for column in self.schema:
            value = row.get(column.name)
            try:
                _column([value], column.type)
            except _CONVERSION_ERRORS:
                return f"column {column.name!r}: cannot store {value!r} as {column.type}"
        return None


def _column(values: list[Any], dtype: pa.DataType) -> pa.Array:
    """Values as the column's type: directly, or inferred then safely cast (7 -> '7'),
    or, for values of mixed kinds, one by one."""
    try:
        return pa.array(values, type=dtype)
    except _CONVERSION_ERRORS:
        pass
    try:
        return pa.array(values).cast(dtype)
    except _CONVERSION_ERRORS:
        if len(values) == 1:
            raise
    return pa.concat_arrays([_column([value], dtype) for value in values])


def _groups(items: Sequence[Item]) -> list[list[Row] | pa.RecordBatch]:
    """Consecutive rows as one list; each Arrow batch on its own."""
    groups: list[list[Row] | pa.RecordBatch] = []
    for is_batch, run in itertools.groupby(items, key=_is_batch):
        if is_batch:
            groups.extend(run)
        else:
            groups.append(list(run))
    return groups


def _is_batch(item: Item) -> bool:
    return isinstance(item, pa.RecordBatch)


def _infer_schema(items: Sequence[Item]) -> pa.Schema:
    """Every column of the first chunk, in order of appearance, typed from its first
    non-null values; a column with none is text (what SQL backends create for it)."""
    types: dict[str, pa.DataType | None] = {}
    rows: list[Row] = []
    for item in items:
        if isinstance(item, pa.RecordBatch):
            for f in item.schema:
                if types.get(f.name) is None and not pa.types.is_null(f.type):
                    types[f.name] = f.type
                else:
                    types.setdefault(f.name, None)
        else:
            rows.append(item)
            for name in item:
                types.setdefault(name, None)
    fields = []
    for name, dtype in types.items():
        if dtype is None:
            dtype = _inferred([row[name] for row in rows if row.get(name) is not None])
        fields.append(pa.field(name, pa.string() if pa.types.is_null(dtype) else dtype))
    return pa.schema(fields)


def _inferred(values: list[Any]) -> pa.DataType:
    try:
        return pa.array(values).type
    except _CONVERSION_ERRORS:
        return pa.string()  # mixed kinds (1 and "a"): text holds them all
