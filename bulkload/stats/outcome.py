"""How a run, a level or a sweep ended, as an enum that is also its string: existing
comparisons (``stats.outcome == "completed"``), f-strings and the JSON documents keep
working, and a type checker knows the values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, overload


class Outcome(StrEnum):
    RUNNING = "running"  # not over yet (a RunStats while its run goes on)
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # stopped on request (Ctrl-C, a stop signal)
    ABORTED = "aborted"  # stopped by a rule: --max-errors, --fail-fast, a failed gate
    FAILED = "failed"  # stopped by an error (the target down, retries spent)
    KILLED = "killed"  # a worker process that never reported (import --processes)


class OutcomeField:
    """A dataclass field holding an :class:`Outcome`: a plain string assigned to it (as
    code written before the enum does) is turned into the member, and a string that
    names none is refused."""

    def __init__(self, default: Outcome):
        self._default = default
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"_{name}"

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Outcome: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Outcome: ...
    def __get__(self, obj: Any, owner: type | None = None) -> Outcome:
        if obj is None:  # the dataclass asks for the default
            return self._default
        value: Outcome = getattr(obj, self._name, self._default)
        return value

    def __set__(self, obj: object, value: Outcome | str) -> None:
        setattr(obj, self._name, Outcome(value))
