"""Translate every failure of reading a source into one ``InputError`` naming the file.

Reading goes through several layers that each raise their own exceptions: the
decompressors (``EOFError`` for a truncated gzip/bz2, ``zstandard.ZstdError``), the
codecs (``UnicodeDecodeError``), pyarrow's CSV and Parquet readers (``ArrowInvalid``,
``ArrowIOError``, ...), and pyarrow re-raises whatever a Python stream it reads from
raised. :func:`read_errors` wraps each read call so that none of them reaches the CLI
as an "internal error".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa

from bulkload.errors import InputError
from bulkload.sources.streams import zstd_errors


@contextmanager
def read_errors(
    name: str, explain: Callable[[str], str] | None = None, after_line: int | None = None
) -> Iterator[None]:
    """Turn read failures inside the block into ``InputError`` naming the file.

    ``explain`` rewrites pyarrow's ``ArrowInvalid`` messages (format-specific parse
    errors); ``after_line`` is the last line read whole, when the caller knows it: a
    stream error cannot say which line it cut.
    """
    where = "" if after_line is None else f" (after line {after_line})"
    try:
        yield
    except InputError:
        raise
    except pa.ArrowInvalid as exc:
        message = explain(str(exc)) if explain else f"cannot read: {_first_line(exc)}"
        raise InputError(message + where, source=name) from None
    except EOFError as exc:
        raise InputError(
            f"the compressed file is truncated: {_first_line(exc)}{where}", source=name
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"text is not valid {exc.encoding} (pass --encoding){where}", source=name
        ) from None
    except _read_failures() as exc:
        raise InputError(f"cannot read: {_first_line(exc)}{where}", source=name) from None


def _read_failures() -> tuple[type[BaseException], ...]:
    """What a failed read raises; zstandard's error only once something imported it."""
    return (OSError, ValueError, pa.ArrowException, *zstd_errors())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
