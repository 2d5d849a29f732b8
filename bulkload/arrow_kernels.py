"""The few Arrow compute kernels an import calls (type inference and conversion, the
SQLite backend's text forms), called by name.

``import pyarrow.compute`` generates a Python wrapper with a docstring for each of the
~300 kernels (40-70 ms, more than the rest of a one-row import's own start-up);
``pyarrow._compute``, which it wraps, loads in ~10 ms and runs the same kernels. A run
that needs more of them imports pyarrow.compute as usual.
"""

from __future__ import annotations

import pyarrow as pa
from pyarrow import _compute


def drop_null(values: pa.Array) -> pa.Array:
    return _compute.call_function("drop_null", [values])


def any_match(values: pa.Array, pattern: str) -> bool:
    """Whether any non-null value matches the regular expression ``pattern``."""
    options = _compute.MatchSubstringOptions(pattern)
    matches = _compute.call_function("match_substring_regex", [values], options)
    return bool(_compute.call_function("any", [matches]).as_py())


def cast(values: pa.Array, dtype: pa.DataType) -> pa.Array:
    """A safe cast: a value that does not fit raises ``ArrowInvalid``."""
    return _compute.call_function("cast", [values], _compute.CastOptions.safe(dtype))


def cast_unsafe(values: pa.Array, dtype: pa.DataType) -> pa.Array:
    """A cast that truncates (a timestamp to whole seconds) instead of raising."""
    return _compute.call_function("cast", [values], _compute.CastOptions.unsafe(dtype))


def call(name: str, *arguments: object) -> pa.Array:
    """Kernel ``name`` with its default options: "equal", "multiply", "if_else"..."""
    return _compute.call_function(name, list(arguments))


def utf8_lower(values: pa.Array) -> pa.Array:
    return _compute.call_function("utf8_lower", [values])


def filter_rows(values: pa.Array, keep: pa.Array) -> pa.Array:
    return _compute.call_function("filter", [values, keep])


def int64_scalar(value: int) -> pa.Scalar:
    """An int64 scalar built from its bytes: pa.scalar() imports pandas whenever it is
    installed (pyarrow checks a Python value for pandas' types), 0.3 s of start-up."""
    data = pa.py_buffer(value.to_bytes(8, "little", signed=True))
    return pa.Array.from_buffers(pa.int64(), 1, [None, data])[0]
