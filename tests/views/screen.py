"""Run the real command line in a pseudo-terminal of a given width, and read what it
drew: the lines as a terminal shows them, and checks that nothing was wrapped or cut
inside a number or a word."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterable
from pathlib import Path

from rich.cells import cell_len

#: styles (colour, bold, dim): part of a line
_STYLE = re.compile(r"\x1b\[[0-9;]*m")
#: cursor moves, erasing, showing or hiding the cursor, window titles: between lines
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Z]")


def run_in_terminal(*args: str, columns: int, cwd: Path, timeout: float = 120) -> str:
    """``python -m bulkload ARGS`` with stdout and stderr on a pseudo-terminal
    ``columns`` wide (set with TIOCSWINSZ: no COLUMNS variable); what it wrote, with
    the terminal's control sequences left in."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BULKLOAD_") and name not in ("COLUMNS", "LINES", "TERM")
    }
    env.update({"TERM": "xterm-256color", "NO_COLOR": "1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkload", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
            raise AssertionError(f"bulkload {' '.join(args)} ran past {timeout} s")
        process.wait(timeout=30)
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def drawn_lines(raw: str) -> list[str]:
    """Every run of text the terminal drew between line ends and cursor moves: each
    line of each live frame, then what stayed."""
    text = _CONTROL.sub("\n", _STYLE.sub("", raw))
    return [line.rstrip() for line in re.split(r"\r\n|\n|\r", text) if line.strip()]


def too_wide(lines: Iterable[str], columns: int) -> list[str]:
    return [line for line in lines if cell_len(line) > columns]


def words_kept_whole(lines: Iterable[str], phrase: str) -> bool:
    """Whether ``phrase`` is in the lines with each of its words whole: on one line, or
    wrapped at spaces (a terminal may), never inside a word or a number."""
    words = [word for line in lines for word in line.split()]
    wanted = phrase.split()
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words)))


def on_one_line(lines: Iterable[str], phrase: str) -> bool:
    """Whether ``phrase`` is whole on a single line (a log, a pipe: never wrapped)."""
    return any(phrase in line for line in lines)


def split_phrases(text: str, phrases: Iterable[str]) -> list[str]:
    """The known phrases not on one line of ``text``; "(split)" when they are there
    once the line ends are removed (wrapped), "(missing)" otherwise."""
    lines = text.splitlines()
    joined = re.sub(r"\s*\n\s*", " ", text)
    glued = re.sub(r"\n\s*", "", text)
    bad = []
    for phrase in phrases:
        if not on_one_line(lines, phrase):
            wrapped = phrase in joined or phrase in glued
            bad.append(f"{phrase!r} {'(split)' if wrapped else '(missing)'}")
    return bad
