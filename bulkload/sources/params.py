"""Where a query's parameter values come from: generated keys
(``--params-synthetic 'id=uniform(1,1000000)'``, ``id=zipf(1.1,1,1000000)``) or a CSV
file (``--params ids.csv``: a header naming the parameters, one row per query, cycled).

Zipf: rank *k* (1 the hottest) is drawn with probability proportional to k^-s over
the range, and rank *k* is the key ``low + k - 1``: the lowest keys are the hot ones.
Values are drawn in chunks, so a long level never repeats a fixed list.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bulkload.errors import UsageError

_CHUNK = 65_536
_ZIPF_MAX_KEYS = 50_000_000  # the CDF table: 8 bytes a key
_DRAW = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(uniform|zipf)\(([^)]*)\)\s*(,|$)")


@dataclass(frozen=True, slots=True)
class Draw:
    """One generated parameter: ``kind`` uniform or zipf over [low, high]."""

    name: str
    kind: str
    low: int
    high: int
    skew: float = 0.0  # zipf's s


def parse_params_synthetic(text: str, option: str = "--params-synthetic") -> tuple[Draw, ...]:
    draws: list[Draw] = []
    at = 0
    text = text.strip()
    while at < len(text):
        match = _DRAW.match(text, at)
        if match is None:
            raise UsageError(
                f"{option}: cannot read {text[at:]!r}: expected name=uniform(LOW,HIGH) or "
                "name=zipf(S,LOW,HIGH), comma-separated"
            )
        name, kind, args = match.group(1), match.group(2), match.group(3)
        try:
            numbers = [float(a) for a in args.split(",")]
        except ValueError:
            raise UsageError(
                f"{option}: {name}={kind}({args}): arguments must be numbers"
            ) from None
        expected = 2 if kind == "uniform" else 3
        if len(numbers) != expected:
            raise UsageError(f"{option}: {name}={kind}(...) takes {expected} numbers, not {args!r}")
        skew = numbers[0] if kind == "zipf" else 0.0
        low, high = int(numbers[-2]), int(numbers[-1])
        if high < low:
            raise UsageError(f"{option}: {name}: the range {low}..{high} is empty")
        if kind == "zipf" and skew <= 0:
            raise UsageError(f"{option}: {name}: zipf's exponent must be above 0")
        if kind == "zipf" and high - low + 1 > _ZIPF_MAX_KEYS:
            raise UsageError(f"{option}: {name}: zipf over more than {_ZIPF_MAX_KEYS:,} keys")
        draws.append(Draw(name, kind, low, high, skew))
        at = match.end()
    if not draws:
        raise UsageError(f"{option}: give at least one name=uniform(LOW,HIGH)")
    return tuple(draws)


class ValueSource:
    """Values for a query's parameters, in the order asked: ``stream(names)`` returns a
    function giving the next tuple."""

    names: tuple[str, ...] = ()

    def stream(self, names: Sequence[str]) -> Callable[[], tuple[Any, ...]]:
        raise NotImplementedError


class SyntheticValues(ValueSource):
    def __init__(self, draws: Sequence[Draw], seed: int = 0):
        self.draws = {draw.name: draw for draw in draws}
        self.names = tuple(self.draws)
        self._seed = seed
        self._cdfs: dict[str, np.ndarray[Any, Any]] = {}

    def stream(self, names: Sequence[str]) -> Callable[[], tuple[Any, ...]]:
        draws = [self.draws[name] for name in names]
        rng = np.random.default_rng(self._seed)
        return _chunks(lambda: list(zip(*(self._draw(d, rng) for d in draws), strict=True)))

    def _draw(self, draw: Draw, rng: np.random.Generator) -> list[int]:
        if draw.kind == "uniform":
            return rng.integers(draw.low, draw.high + 1, size=_CHUNK).tolist()  # type: ignore[no-any-return]
        cdf = self._cdfs.get(draw.name)
        if cdf is None:
            weights = np.arange(1, draw.high - draw.low + 2, dtype=np.float64) ** -draw.skew
            cdf = self._cdfs[draw.name] = np.cumsum(weights) / weights.sum()
        ranks = np.searchsorted(cdf, rng.random(_CHUNK), side="right")
        return (np.minimum(ranks, len(cdf) - 1) + draw.low).tolist()  # type: ignore[no-any-return]


def _chunks(make: Callable[[], list[tuple[Any, ...]]]) -> Callable[[], tuple[Any, ...]]:
    """The next value of chunk after chunk (``make``, called again as each one runs out).
    Iterated in C (a chain of a callable iterator): one call a query, no generator frame
    resumed, about a third of the cost."""
    forever = iter(make, None)  # make never returns None: a new chunk each time
    return itertools.chain.from_iterable(forever).__next__


class FileValues(ValueSource):
    """A CSV file's rows (header: the names), cycled; numbers read as numbers."""

    def __init__(self, path: str, option: str = "--params"):
        try:
            with open(path, newline="", encoding="utf-8-sig") as file:
                reader = csv.reader(file)
                header = next(reader, None)
                rows = [tuple(_value(v) for v in row) for row in reader if row]
        except OSError as exc:
            raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None
        if not header or not rows:
            raise UsageError(f"{option} {path}: needs a header naming the parameters and a row")
        self.path = path
        self.names = tuple(name.strip() for name in header)
        self._rows = rows

    def stream(self, names: Sequence[str]) -> Callable[[], tuple[Any, ...]]:
        columns = [self.names.index(name) for name in names]
        rows = [tuple(row[i] for i in columns) for row in self._rows]
        return itertools.cycle(rows).__next__


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
