"""Keyword arguments renamed in the public API still work, with a DeprecationWarning
naming the new spelling, so code written against an older release keeps running."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def renamed_keywords(
    renames: Mapping[str, str], *, where: str
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept each old keyword of ``renames`` (old -> new) as the new one, warning."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{where}() got both {old}= and {new}= (the same argument)")
                warnings.warn(
                    f"{where}({old}=...) is deprecated: use {new}=...",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
