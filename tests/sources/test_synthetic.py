from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from bulkload.errors import UsageError
from bulkload.sources.synthetic import (
    TYPES,
    SyntheticSpec,
    _mix64,
    parse_synthetic,
    schema_of,
    synthetic_batches,
)

ALL_TYPES = "types=int:float:string:timestamp:bool:date"


def table(spec: SyntheticSpec, batch_size: int, **keys: int) -> pa.Table:
    return pa.Table.from_batches(list(synthetic_batches(spec, batch_size, **keys)), schema_of(spec))


def test_parse_defaults():
    spec = parse_synthetic("rows=1000")
    assert spec == SyntheticSpec(rows=1000, columns=6, seed=0, types=TYPES, string_length=16)
    assert spec.column_types == ("int", "float", "string", "timestamp", "bool")


def test_parse_every_key():
    spec = parse_synthetic(" rows=1_000 , columns=4,seed=7,types=string:bool,string_length=3")
    assert spec == SyntheticSpec(
        rows=1000, columns=4, seed=7, types=("string", "bool"), string_length=3
    )
    assert spec.column_types == ("string", "bool", "string")  # cycled over non-key columns
    assert spec.column_names == ("id", "string_1", "bool_2", "string_3")


def test_schema_is_declared_and_every_batch_has_it():
    spec = parse_synthetic(f"rows=25,columns=7,{ALL_TYPES}")
    assert schema_of(spec) == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("int_1", pa.int64(), nullable=False),
            pa.field("float_2", pa.float64(), nullable=False),
            pa.field("string_3", pa.string(), nullable=False),
            pa.field("timestamp_4", pa.timestamp("us"), nullable=False),
            pa.field("bool_5", pa.bool_(), nullable=False),
            pa.field("date_6", pa.date32(), nullable=False),
        ]
    )
    batches = list(synthetic_batches(spec, 10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert all(b.schema == schema_of(spec) for b in batches)
    for batch in batches:
        batch.validate(full=True)


def test_keys_are_consecutive_and_unique():
    spec = parse_synthetic("rows=1000,columns=1")
    ids = table(spec, 64).column("id").to_pylist()
    assert ids == list(range(1000))
    shard = table(spec, 64, first_key=250, rows=100).column("id").to_pylist()
    assert shard == list(range(250, 350))


def test_shards_generate_exactly_the_rows_of_one_run():
    spec = parse_synthetic(f"rows=10000,columns=13,seed=42,{ALL_TYPES},string_length=33")
    whole = table(spec, 1000)
    shards = [
        table(spec, 333, first_key=0, rows=2500),
        table(spec, 4096, first_key=2500, rows=5000),
        table(spec, 1, first_key=7500, rows=7),
        table(spec, 999, first_key=7507, rows=2493),
    ]
    assert pa.concat_tables(shards).equals(whole)
    # In any order: a later shard does not depend on an earlier one having run.
    assert table(spec, 77, first_key=7500, rows=2500).equals(whole.slice(7500))


def test_values_depend_on_the_seed_not_on_the_keys_order():
    one = table(parse_synthetic("rows=500,seed=1"), 100)
    again = table(parse_synthetic("rows=500,seed=1"), 500)
    other = table(parse_synthetic("rows=500,seed=2"), 100)
    assert one.equals(again)
    assert one.column("id").equals(other.column("id"))
    for name in one.column_names[1:]:
        differ = np.mean(
            np.array(one.column(name).to_pylist(), dtype=object)
            != np.array(other.column(name).to_pylist(), dtype=object)
        )
        assert differ > 0.4, name  # bools agree half the time by chance


def test_columns_of_one_type_are_not_copies():
    data = table(parse_synthetic("rows=200,columns=3,types=int"), 50)
    assert data.column("int_1").to_pylist() != data.column("int_2").to_pylist()


def test_value_ranges_and_spread():
    spec = parse_synthetic(f"rows=20000,columns=7,seed=3,{ALL_TYPES},string_length=12")
    data = table(spec, 5000)
    ints = data.column("int_1").to_numpy()
    assert ints.min() >= 0 and ints.max() < 2**31 and ints.max() > 2**31 * 0.99
    floats = data.column("float_2").to_numpy()
    assert floats.min() >= 0 and floats.max() < 1000 and abs(floats.mean() - 500) < 10
    strings = data.column("string_3").to_pylist()
    assert {len(s) for s in strings} == {12}
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set("".join(strings)) == alphabet
    assert len(set(strings)) == len(strings)
    stamps = data.column("timestamp_4").to_pylist()
    assert dt.datetime(2020, 1, 1) <= min(stamps) and max(stamps) < dt.datetime(2030, 1, 1)
    assert max(stamps) - min(stamps) > dt.timedelta(days=3600)
    bools = data.column("bool_5").to_numpy(zero_copy_only=False)
    assert 0.47 < bools.mean() < 0.53
    dates = data.column("date_6").to_pylist()
    assert dt.date(2000, 1, 1) <= min(dates) and max(dates) < dt.date(2040, 1, 1)
    assert max(dates) - min(dates) > dt.timedelta(days=14000)


def test_mixer_is_splitmix64():
    """The reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c)."""
    state = np.array([1234567], dtype=np.uint64)
    outputs = []
    for _ in range(5):
        state = state + np.uint64(0x9E3779B97F4A7C15)
        outputs.append(int(_mix64(state.copy())[0]))
    assert outputs == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]


def test_known_values_stay_the_same():
    """Shards on other machines and later versions must generate these exact rows."""
    spec = parse_synthetic(f"rows=1,columns=7,seed=9,{ALL_TYPES},string_length=20")
    rows = table(spec, 2, first_key=10**12, rows=2).to_pylist()
    assert rows == [
        {
            "id": 1000000000000,
            "int_1": 1990884140,
            "float_2": 784.6996977983415,
            "string_3": "ONRWapZTJRa0Hu-JVtV9",
            "timestamp_4": dt.datetime(2022, 1, 2, 19, 26, 41, 966624),
            "bool_5": False,
            "date_6": dt.date(2016, 1, 4),
        },
        {
            "id": 1000000000001,
            "int_1": 1292478572,
            "float_2": 72.159527688624,
            "string_3": "1fHn2InzCAyQQQp7MFEH",
            "timestamp_4": dt.datetime(2021, 7, 17, 14, 14, 28, 122764),
            "bool_5": True,
            "date_6": dt.date(2032, 8, 20),
        },
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--synthetic: expected key=value, got '' in ''"),
        ("columns=3", "--synthetic: rows is required, e.g. rows=1000000"),
        ("rows=10,cols=3", "--synthetic: unknown key 'cols'; keys: rows, columns, seed, types"),
        ("rows=10,rows=20", "--synthetic: rows given twice"),
        ("rows=10,seed", "--synthetic: expected key=value, got 'seed' in 'rows=10,seed'"),
        ("rows=0", "--synthetic: rows must be a whole number >= 1, not '0'"),
        ("rows=1e6", "--synthetic: rows must be a whole number >= 1, not '1e6'"),
        ("rows=ten", "--synthetic: rows must be a whole number >= 1, not 'ten'"),
        ("rows=10,columns=0", "--synthetic: columns must be a whole number from 1 to 10,000"),
        ("rows=10,columns=20000", "--synthetic: columns must be a whole number from 1 to"),
        ("rows=10,seed=-1", "--synthetic: seed must be a whole number from 0 to"),
        ("rows=10,string_length=0", "--synthetic: string_length must be a whole number from 1"),
        ("rows=10,types=int:text", "--synthetic: types: unknown type 'text'; types: int:float"),
        ("rows=10,types=", "--synthetic: types: unknown type ''"),
    ],
)
def test_bad_specs_get_one_line_naming_the_key(text, message):
    with pytest.raises(UsageError) as caught:
        parse_synthetic(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_option_name_is_the_callers():
    with pytest.raises(UsageError, match=r"^--source synthetic: rows is required"):
        parse_synthetic("seed=1", option="--source synthetic")


def test_bad_arguments_to_the_generator():
    spec = parse_synthetic("rows=10")
    with pytest.raises(ValueError, match="batch_size"):
        next(synthetic_batches(spec, 0))
    with pytest.raises(ValueError, match="first_key"):
        next(synthetic_batches(spec, 10, first_key=-1))
    assert list(synthetic_batches(spec, 10, rows=0)) == []


def test_generates_the_rows_asked_for_in_batches_of_the_size_asked():
    """(Its speed is benchmarks/synthetic_rows.py's, not a test's.)"""
    spec = parse_synthetic("rows=25001")
    sizes = [batch.num_rows for batch in synthetic_batches(spec, 10_000)]
    assert sizes == [10_000, 10_000, 5_001]
