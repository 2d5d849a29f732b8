"""Generated parameter values (``--params-synthetic``): drawn chunk after chunk, so a
long level goes on drawing new keys rather than cycling a fixed list."""

from __future__ import annotations

from bulkload.sources import params
from bulkload.sources.params import SyntheticValues, parse_params_synthetic


def test_values_go_on_past_a_chunk_and_the_next_chunk_is_new():
    source = SyntheticValues(parse_params_synthetic("a=uniform(1,1000000), b=uniform(5,6)"))
    next_values = source.stream(["b", "a"])  # in the order asked
    drawn = [next_values() for _ in range(2 * params._CHUNK + 10)]
    assert all(len(values) == 2 for values in drawn)
    assert all(5 <= b <= 6 and 1 <= a <= 1_000_000 for b, a in drawn)
    first, second = drawn[: params._CHUNK], drawn[params._CHUNK : 2 * params._CHUNK]
    assert first != second  # a new draw, not the first chunk again
    assert len({a for _, a in drawn}) > params._CHUNK  # keys of every chunk differ


def test_the_same_seed_draws_the_same_keys():
    draws = parse_params_synthetic("id=zipf(1.1,1,1000)")
    one, two = SyntheticValues(draws, seed=3).stream(["id"]), SyntheticValues(draws).stream(["id"])
    again = SyntheticValues(draws, seed=3).stream(["id"])
    first = [one() for _ in range(1000)]
    assert first == [again() for _ in range(1000)]
    assert first != [two() for _ in range(1000)]
    assert all(1 <= key <= 1000 for (key,) in first)
