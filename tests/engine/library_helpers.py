"""Helpers for the library API tests."""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Iterator

import pytest

HANG_LIMIT_S = 90


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    """A test that hangs dumps every thread's stack and ends the run, instead of waiting
    for ever (no pytest-timeout here)."""
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()
