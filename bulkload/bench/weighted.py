"""Which operation runs next in a weighted set (``--mix write=W,read=R``, a weighted
query set): a smooth weighted round-robin, not a random draw.

A random draw holds the ratio only over many operations, and a seeded one repeats the
same stretch at the start of every level and every share: with Random(0) the first 100
picks of ``write=1,read=3`` held 12 writes, not 25, so a short or slow level (a few
hundred operations, a loaded machine) measured about 7 reads a write, and merging
shares did not even it out. Spread evenly, any run of n picks holds each member's share
to within a pick or two, from the first pick on.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

_PICKS = 4096  # picks computed once, then cycled: a pick costs one next()


def spread(weights: Sequence[float], count: int = _PICKS) -> list[int]:
    """``count`` picks (indices into ``weights``), each member as often as its weight
    says and evenly apart (nginx's smooth weighted round-robin). With whole weights the
    count is a multiple of their sum, so the picks cycle seamlessly."""
    total = float(sum(weights))
    if total <= 0 or any(weight < 0 for weight in weights):
        raise ValueError(f"weights must be >= 0 with a positive sum, not {list(weights)}")
    if all(float(weight).is_integer() for weight in weights) and total <= count:
        count = int(total) * max(1, count // int(total))
    credit = [0.0] * len(weights)
    picks = []
    for _ in range(count):
        for index, weight in enumerate(weights):
            credit[index] += weight
        chosen = max(range(len(weights)), key=credit.__getitem__)
        credit[chosen] -= total
        picks.append(chosen)
    return picks


def weighted_cycle(weights: Sequence[float]) -> Iterator[int]:
    """The picks of :func:`spread`, endlessly."""
    return itertools.cycle(spread(weights))
