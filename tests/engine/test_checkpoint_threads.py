"""The committed-keys record is read by reader threads (is anything committed? which
stretches of this batch are not?) while the event loop's thread records new keys: the
reads must not fail however the two interleave (a --resume run with small batches
failed with "dictionary changed size during iteration")."""

from __future__ import annotations

import threading
import time

from bulkload.backends.base import BatchKey
from bulkload.engine.checkpoint import Committed


def test_readers_may_ask_while_keys_are_recorded():
    committed = Committed([BatchKey("f|1|2", 0, 0, 20)])
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                if committed:
                    committed.uncovered("f|1|2", 7, 20)
            except RuntimeError as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 1.5
    index = 1
    try:
        while time.monotonic() < deadline and not errors:
            committed.add(BatchKey("f|1|2", index, 0, 20))
            index += 1
    finally:
        done.set()
        thread.join()
    assert not errors, f"after {index} keys: {errors[0]}"
    assert bool(committed) and len(committed) == index
    assert not Committed()
