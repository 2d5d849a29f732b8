"""The consoles the views draw on. A terminal gets its width: the views fit it (fields
dropped whole, text wrapped at spaces). Anything else (a CI log, a pipe, a file) gets
one line per line, never wrapped: a log line is read whole, searched and parsed, and a
break inside a number there is no help to anyone."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console

#: the width of a console that is not a terminal: tables as wide as they need
UNBOUNDED = 10_000


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) as wide as its terminal, or unbounded. No
    ``:name:`` emoji codes: the views print none, and file and table names are shown as
    they are (the code table is also 2-3 ms of every run's start-up)."""
    shown = Console(stderr=stderr, highlight=False, emoji=False)
    if shown.is_terminal:
        return shown
    return Console(stderr=stderr, highlight=False, emoji=False, width=UNBOUNDED, soft_wrap=True)


def fit(fields: list[tuple[int, str]], width: int | None, sep: str = "  ") -> str:
    """``fields`` (priority, text), in the order shown, joined by ``sep``; while wider
    than ``width`` the field of the highest priority number goes, whole (never cut
    inside a number or a word); the last one left always stays."""
    kept = list(fields)
    while width is not None and len(kept) > 1 and cell_len(sep.join(t for _, t in kept)) > width:
        kept.remove(max(kept, key=lambda field: field[0]))
    return sep.join(text for _, text in kept)
