"""Synthetic rows, for ``bulkload bench`` and CI jobs that have no input files.

A spec is ``rows=N[,columns=K,seed=S,types=T1:T2:...,string_length=L]``:

- ``rows`` (required): how many rows a whole run generates;
- ``columns`` (default 6): columns in all, the key ``id`` included;
- ``seed`` (default 0): any whole number >= 0; another seed, other values;
- ``types`` (default ``int:float:string:timestamp:bool:date``): cycled over the columns
  after ``id``;
- ``string_length`` (default 16): characters in every string value.

Column ``id`` (int64) holds the keys ``first_key, first_key + 1, ...``; the others are
named after their type and position (``int_1``, ``float_2``, ``string_3``, ...) and hold:

=============  =============================================================
``int``        int64 in [0, 2**31)
``float``      float64 in [0, 1000)
``string``     ``string_length`` characters from ``A-Z a-z 0-9 - _``
``timestamp``  timestamp[us], no time zone, in [2020-01-01, 2030-01-01)
``bool``       bool
``date``       date32 in [2000-01-01, 2040-01-01)
=============  =============================================================

Every value is a **pure function of (seed, key, column position)**: generating keys
[a, b) gives exactly the rows a single run gives for those keys, whatever the batch
size, the order or the machine. That is what lets ``--shard i/N`` split a synthetic
load. The values come from SplitMix64 (Steele, Lea & Flood 2014; the generator behind
Java's SplittableRandom), computed with numpy: value = mix64(stream + key * GAMMA), where
each (seed, column, word) has its own stream constant (a string longer than 10
characters takes several 64-bit words). Polars' ``Expr.hash`` would be faster still, but
its results may change between polars versions, and shards may run on machines with
different versions. Arrays are built straight from numpy buffers.

Speed, default spec (6 columns: id, int, float, string[16], timestamp, bool), measured
on the project's 2-core machine while other jobs kept it busy (load average 1.9), one
thread: 4.8-8.8M rows/s in 10,000-row batches, 5.6-8.0M in 1,000-row batches, 6.6-8.2M
in 100,000-row batches; the bench target is >= 2M rows/s. The test suite checks
>= 1M rows/s (``test_generates_millions_of_rows_per_second``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bulkload.errors import UsageError

TYPES = ("int", "float", "string", "timestamp", "bool", "date")
KEY_COLUMN = "id"
_MAX_COLUMNS = 10_000
_MAX_STRING_LENGTH = 100_000
_KEYS = ("rows", "columns", "seed", "types", "string_length")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
    "date": pa.date32(),
}
_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)
_CHARS_PER_WORD = 10  # 6 bits per character from each 64-bit value
_FLOAT_SCALE = 1000.0
_TIMESTAMP_START_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00
_TIMESTAMP_SPAN_US = 3_653 * 86_400 * 1_000_000  # to 2030-01-01
_DATE_START_DAYS = 10_957  # 2000-01-01
_DATE_SPAN_DAYS = 14_610  # to 2040-01-01

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    """A parsed spec; ``types`` is the cycle, ``column_types`` the result."""

    rows: int
    columns: int = 6
    seed: int = 0
    types: tuple[str, ...] = TYPES
    string_length: int = 16

    @property
    def column_types(self) -> tuple[str, ...]:
        """The type of each column after ``id``."""
        return tuple(self.types[i % len(self.types)] for i in range(self.columns - 1))

    @property
    def column_names(self) -> tuple[str, ...]:
        names = [f"{kind}_{i}" for i, kind in enumerate(self.column_types, start=1)]
        return (KEY_COLUMN, *names)


def schema_of(spec: SyntheticSpec) -> pa.Schema:
    """The schema of every batch: ``id`` int64 (not null), then the typed columns."""
    fields = [pa.field(KEY_COLUMN, pa.int64(), nullable=False)]
    for name, kind in zip(spec.column_names[1:], spec.column_types, strict=True):
        fields.append(pa.field(name, _ARROW_TYPES[kind], nullable=False))
    return pa.schema(fields)


def parse_synthetic(text: str, *, option: str = "--synthetic") -> SyntheticSpec:
    """``rows=N[,columns=K,seed=S,types=a:b,string_length=L]``; UsageError naming the
    key on a bad spec."""
    values: dict[str, str] = {}
    for part in text.split(","):
        key, equals, value = (s.strip() for s in part.partition("="))
        if not equals:
            raise UsageError(f"{option}: expected key=value, got {part.strip()!r} in {text!r}")
        if key not in _KEYS:
            raise UsageError(f"{option}: unknown key {key!r}; keys: {', '.join(_KEYS)}")
        if key in values:
            raise UsageError(f"{option}: {key} given twice")
        values[key] = value
    if "rows" not in values:
        raise UsageError(f"{option}: rows is required, e.g. rows=1000000")
    types: tuple[str, ...] = TYPES
    if "types" in values:
        types = tuple(t.strip() for t in values["types"].split(":"))
        unknown = [t for t in types if t not in TYPES]
        if unknown or not types:
            raise UsageError(
                f"{option}: types: unknown type {unknown[0]!r}; types: {':'.join(TYPES)}"
            )
    return SyntheticSpec(
        rows=_whole(option, "rows", values["rows"], low=1),
        columns=_whole(option, "columns", values.get("columns", "6"), low=1, high=_MAX_COLUMNS),
        seed=_whole(option, "seed", values.get("seed", "0"), low=0, high=_MASK64),
        types=types,
        string_length=_whole(
            option,
            "string_length",
            values.get("string_length", "16"),
            low=1,
            high=_MAX_STRING_LENGTH,
        ),
    )


def synthetic_batches(
    spec: SyntheticSpec, batch_size: int, *, first_key: int = 0, rows: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Batches of ``batch_size`` rows (the last may be shorter) for the keys
    ``first_key .. first_key + rows - 1``; ``rows`` defaults to ``spec.rows``."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if first_key < 0:
        raise ValueError("first_key must be >= 0")
    total = spec.rows if rows is None else rows
    schema = schema_of(spec)
    generators = [_GENERATORS[kind] for kind in spec.column_types]
    end = first_key + total
    for start in range(first_key, end, batch_size):
        keys = np.arange(start, min(start + batch_size, end), dtype=np.int64)
        arrays = [pa.array(keys)]
        for column, generate in enumerate(generators, start=1):
            arrays.append(generate(spec, column, keys))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _whole(option: str, key: str, text: str, *, low: int, high: int | None = None) -> int:
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"from {low} to {high:,}" if high is not None else f">= {low}"
        raise UsageError(f"{option}: {key} must be a whole number {bound}, not {text!r}")
    return value


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (in place on a uint64 array): a bijection whose
    every output bit depends on every input bit."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


@functools.lru_cache(maxsize=4096)
def _stream(seed: int, column: int, word: int) -> np.uint64:
    """The starting state of the stream of one (seed, column, word): SplitMix64 steps
    over the three numbers, so nearby seeds or columns share nothing. Cached: it would
    otherwise cost more than a small batch's values."""
    state = np.array([seed & _MASK64], dtype=np.uint64)
    for part in (column, word):
        state = _mix64(state + np.array([part], dtype=np.uint64) * _GAMMA)
    return np.uint64(_mix64(state)[0])


def _random_words(spec: SyntheticSpec, column: int, keys: np.ndarray, word: int = 0) -> np.ndarray:
    """64 random bits per key for this column: mix64(stream + key * GAMMA)."""
    # uint64 array arithmetic wraps modulo 2**64, as SplitMix64 wants.
    return _mix64(keys.astype(np.uint64) * _GAMMA + _stream(spec.seed, column, word))


def _ints(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    return pa.array((_random_words(spec, column, keys) >> np.uint64(33)).astype(np.int64))


def _floats(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    # The top 53 bits make a double in [0, 1), evenly spaced like random.random().
    unit = (_random_words(spec, column, keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return pa.array(unit * _FLOAT_SCALE)


def _strings(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    length = spec.string_length
    if len(keys) * length >= 2**31:
        raise ValueError("a batch of synthetic strings must stay under 2 GiB")
    shifts = np.arange(_CHARS_PER_WORD, dtype=np.uint64) * np.uint64(6)
    words = -(-length // _CHARS_PER_WORD)
    codes = np.empty((len(keys), words * _CHARS_PER_WORD), dtype=np.uint8)
    for word in range(words):
        bits = _random_words(spec, column, keys, word)
        block = (bits[:, None] >> shifts[None, :]) & np.uint64(63)
        codes[:, word * _CHARS_PER_WORD : (word + 1) * _CHARS_PER_WORD] = block
    text = np.ascontiguousarray(_ALPHABET[codes[:, :length]])
    offsets = np.arange(0, (len(keys) + 1) * length, length, dtype=np.int32)
    return pa.StringArray.from_buffers(len(keys), pa.py_buffer(offsets), pa.py_buffer(text))


def _timestamps(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    offset = _random_words(spec, column, keys) % np.uint64(_TIMESTAMP_SPAN_US)
    micros = offset.astype(np.int64) + _TIMESTAMP_START_US
    return pa.array(micros.view("datetime64[us]"), type=pa.timestamp("us"))


def _bools(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    return pa.array((_random_words(spec, column, keys) >> np.uint64(63)).astype(np.bool_))


def _dates(spec: SyntheticSpec, column: int, keys: np.ndarray) -> pa.Array:
    offset = _random_words(spec, column, keys) % np.uint64(_DATE_SPAN_DAYS)
    days = (offset.astype(np.int64) + _DATE_START_DAYS).astype(np.int32)
    return pa.Array.from_buffers(pa.date32(), len(days), [None, pa.py_buffer(days)])


_GENERATORS: dict[str, Callable[[SyntheticSpec, int, np.ndarray], pa.Array]] = {
    "int": _ints,
    "float": _floats,
    "string": _strings,
    "timestamp": _timestamps,
    "bool": _bools,
    "date": _dates,
}
