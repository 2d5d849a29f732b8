"""Column types: parse ``--type`` names, infer types from a sample, and cast batches.

Every source is read as text (CSV) or its own types (Parquet), then *conformed* to one
target schema resolved from the first batch of the first source. Conforming casts each
column; a value that does not convert rejects its row, not the batch, and the reason
names the column and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from bulkload import arrow_kernels as kernels
from bulkload.config.parse import TYPE_HELP  # the --type help lists them without pyarrow
from bulkload.errors import InputError, UsageError

STRING = pa.string()
TIMESTAMP = pa.timestamp("us")
TIMESTAMP_TZ = pa.timestamp("us", tz="UTC")

_TYPE_NAMES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "int64": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "real": pa.float64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP,
    "datetime": TIMESTAMP,
    "timestamptz": TIMESTAMP_TZ,
    "string": STRING,
    "str": STRING,
    "text": STRING,
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d+)\s*,\s*(\d+)\)$")

_PROBE_VALUES = 64

# Numbers written with a leading zero (zip codes, ids like 007) stay text.
_LEADING_ZERO = r"^[+-]?0\d"


def parse_type(name: str) -> pa.DataType:
    """Map a ``--type`` name to an Arrow type."""
    key = name.strip().lower()
    if key in _TYPE_NAMES:
        return _TYPE_NAMES[key]
    match = _DECIMAL.match(key)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise UsageError(
                f"--type: decimal precision must be 1..38 and scale <= precision: {name}"
            )
        return pa.decimal128(precision, scale)
    raise UsageError(f"--type: unknown type {name!r} (use one of: {TYPE_HELP})")


def infer_type(column: pa.Array) -> pa.DataType:
    """The narrowest type every non-null value of a text column converts to."""
    values = kernels.drop_null(column)
    if len(values) == 0:
        return STRING
    leading_zero = kernels.any_match(values, _LEADING_ZERO)
    candidates = [pa.bool_(), pa.date32(), TIMESTAMP, TIMESTAMP_TZ]
    if not leading_zero:
        candidates[:0] = [pa.int64(), pa.float64()]
    for candidate in candidates:
        # A failing cast converts the whole column before it raises (~2 ms per 10k
        # values): a few values first rule out most candidates for ~0.02 ms.
        probe = values.slice(0, _PROBE_VALUES)
        if _casts_cleanly(probe, candidate) and _casts_cleanly(values, candidate):
            return candidate
    return STRING


def normalize_type(dtype: pa.DataType, column: str) -> pa.DataType:
    """Fold the many Arrow types a Parquet file may hold into the ones backends map."""
    if pa.types.is_dictionary(dtype):
        return normalize_type(dtype.value_type, column)
    if pa.types.is_integer(dtype):
        return pa.int64()
    if pa.types.is_floating(dtype):
        return pa.float64()
    if pa.types.is_boolean(dtype) or pa.types.is_decimal(dtype):
        return dtype
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return STRING
    if pa.types.is_date(dtype):
        return pa.date32()
    if pa.types.is_timestamp(dtype):
        return TIMESTAMP_TZ if dtype.tz else TIMESTAMP
    if pa.types.is_null(dtype):
        return STRING
    raise InputError(
        f"column {column!r} has type {dtype}, which bulkload cannot load yet; "
        "leave it out with --select"
    )


@dataclass(frozen=True)
class SchemaPlan:
    """Which source columns to keep, what to call them, and what type each must have."""

    source_names: tuple[str, ...]
    target_schema: pa.Schema

    @classmethod
    def resolve(
        cls,
        sample: pa.RecordBatch,
        *,
        select: tuple[str, ...] | None,
        rename: Mapping[str, str],
        types: Mapping[str, str],
        infer: bool,
    ) -> SchemaPlan:
        """Build the plan from the first batch; ``infer`` is True for text sources."""
        available = sample.schema.names
        names = tuple(select) if select else tuple(available)
        for option, wanted in (("--select", names), ("--type", types), ("--rename", rename)):
            missing = [n for n in wanted if n not in available]
            if missing:
                raise UsageError(
                    f"{option}: no column named {', '.join(map(repr, missing))} "
                    f"(columns are: {', '.join(available)})"
                )
        fields = []
        for name in names:
            column = sample.column(available.index(name))
            if name in types:
                dtype = parse_type(types[name])
            elif infer and pa.types.is_string(column.type):
                dtype = infer_type(column)
            else:
                dtype = normalize_type(column.type, name)
            fields.append(pa.field(rename.get(name, name), dtype))
        target = [f.name for f in fields]
        duplicates = sorted({n for n in target if target.count(n) > 1})
        if duplicates:
            raise UsageError(f"two columns would both be named {', '.join(map(repr, duplicates))}")
        return cls(names, pa.schema(fields))

    def as_text(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The selected columns under their target names, left as text."""
        available = batch.schema.names
        missing = [n for n in self.source_names if n not in available]
        if missing:
            raise InputError(
                f"column {missing[0]!r} is missing (columns are: {', '.join(available)})"
            )
        columns = [batch.column(available.index(n)) for n in self.source_names]
        return pa.RecordBatch.from_arrays(columns, names=self.target_schema.names)

    def conform(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, dict[int, str]]:
        """Cast a batch to the target schema.

        Returns the rows that converted and ``{row index in batch: reason}`` for the rows
        that did not (indexes refer to the input batch).
        """
        available = batch.schema.names
        columns: list[pa.Array] = []
        bad: dict[int, str] = {}
        for name, target_field in zip(self.source_names, self.target_schema, strict=True):
            if name not in available:
                raise InputError(
                    f"column {name!r} is missing (columns are: {', '.join(available)})"
                )
            column = batch.column(available.index(name))
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
            if column.type == target_field.type:
                columns.append(column)
                continue
            try:
                columns.append(_cast(column, target_field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                for row in _bad_rows(column, target_field.type):
                    bad.setdefault(row, _reason(name, column[row].as_py(), target_field.type))
                columns.append(column)  # cast again below, once the bad rows are out
        if not bad:
            return pa.RecordBatch.from_arrays(columns, schema=self.target_schema), {}
        keep = pa.array([i not in bad for i in range(batch.num_rows)])
        kept = [
            _cast(kernels.filter_rows(col, keep), f.type)
            for col, f in zip(columns, self.target_schema, strict=True)
        ]
        return pa.RecordBatch.from_arrays(kept, schema=self.target_schema), bad


def _cast(column: pa.Array, dtype: pa.DataType) -> pa.Array:
    if column.type == dtype:
        return column
    if pa.types.is_string(column.type) and pa.types.is_boolean(dtype):
        # Arrow accepts true/false/1/0 in any case; nothing else.
        return kernels.cast(kernels.utf8_lower(column), dtype)
    return kernels.cast(column, dtype)


def _casts_cleanly(values: pa.Array, dtype: pa.DataType) -> bool:
    try:
        _cast(values, dtype)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _bad_rows(column: pa.Array, dtype: pa.DataType, offset: int = 0) -> list[int]:
    """Indexes of values that do not cast, found by bisection: a few casts per bad value."""
    if _casts_cleanly(column, dtype):
        return []
    if len(column) == 1:
        return [offset]
    middle = len(column) // 2
    return _bad_rows(column.slice(0, middle), dtype, offset) + _bad_rows(
        column.slice(middle), dtype, offset + middle
    )


def _reason(column: str, value: object, dtype: pa.DataType) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "...'"
    wider = _wider_type(value, dtype)
    return (
        f"column {column!r}: cannot convert {text} to {type_label(dtype)} "
        f"(load the column as --type {column}={wider})"
    )


def _wider_type(value: object, dtype: pa.DataType) -> str:
    """The narrowest ``--type`` that holds the value too: float for a fraction in an
    integer column (typed from a first batch of whole numbers), else string."""
    whole = pa.types.is_integer(dtype) or pa.types.is_decimal(dtype)
    if whole and isinstance(value, str) and _casts_cleanly(pa.array([value]), pa.float64()):
        return "float"
    return "string"


def type_label(dtype: pa.DataType) -> str:
    """The user-facing name of a type, as accepted by ``--type``."""
    for name, known in _TYPE_NAMES.items():
        if known == dtype:
            return name
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    return str(dtype)
