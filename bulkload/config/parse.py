"""Value parsers: what a user wrote (on the command line, in a variable or a profile) to
a typed value, or a UsageError naming the option. Each takes ``(value, option)``, the
option being the flag to name in the error.

Standard library only: ``bulkload --help`` and a bad option's error import this.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bulkload.errors import UsageError
from bulkload.redact import redact_url

# (value as written, the flag to name in an error) -> the typed value
Parse = Callable[[Any, str], Any]

# The --type names, for help and errors (sources/schema.py maps them to Arrow types).
TYPE_HELP = "int, float, bool, date, timestamp, timestamptz, string, decimal(P,S)"


def text(value: Any, option: str) -> str:
    return str(value)


def non_empty(value: Any, option: str) -> str:
    if not str(value).strip():
        raise UsageError(f"{option} must not be empty")
    return str(value)


def file_path(value: Any, option: str) -> str:
    """A file to write; not '-': stdout is for the terminal view (or --json -)."""
    path = non_empty(value, option)
    if path == "-":
        raise UsageError(f"{option} writes a file: give a path, not -")
    return path


def flag(value: Any, option: str) -> bool:
    """true/false from the command line, a variable (1, yes...) or a TOML boolean."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{option} must be true or false, not {value!r}")


def whole(*, minimum: int) -> Parse:
    def parse(value: Any, option: str) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UsageError(f"{option} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{option} must be a whole number, not {value!r}") from None
        if number < minimum:
            raise UsageError(f"{option} must be at least {minimum}, not {number}")
        return number

    return parse


def number(value: Any, option: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        raise UsageError(f"{option} must be a finite number, not {value!r}")
    return result


def positive_rate(value: Any, option: str) -> float:
    """A limit per second: 0 would mean "never send", so it is refused rather than read
    as "no limit"."""
    result = number(value, option)
    if result <= 0:
        raise UsageError(f"{option} must be greater than 0, not {value} (omit it for no limit)")
    return result


_DURATION = re.compile(r"\s*(?P<number>[0-9]*\.?[0-9]+)\s*(?P<unit>us|µs|ms|s|m|h)?\s*")
_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, option: str) -> float:
    """Seconds from ``500ms``, ``2s``, ``1m``, ``1h``, ``200us`` or a bare number of
    seconds (``1.5``); 0 is a real value (no wait)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            try:  # "-1", "nan", "1e3": a number, refused or taken below
                seconds = float(str(value))
            except ValueError:
                raise UsageError(
                    f"{option} must be a duration such as 500ms, 2s, 1m or 1.5 (seconds), "
                    f"not {value!r}"
                ) from None
        else:
            seconds = float(match["number"]) * _DURATION_UNITS[match["unit"] or "s"]
    if not math.isfinite(seconds):
        raise UsageError(f"{option} must be a finite number, not {value!r}")
    if seconds < 0:
        raise UsageError(f"{option} must not be negative, not {value!r}")
    return seconds


def positive_duration(value: Any, option: str) -> float:
    seconds = parse_duration(value, option)
    if seconds == 0:
        raise UsageError(f"{option} must be longer than 0, not {value!r}")
    return seconds


def duration_or_none(value: Any, option: str) -> float | None:
    """A duration where 0 means "no limit"."""
    return parse_duration(value, option) or None


def choice(*choices: str) -> Parse:
    def parse(value: Any, option: str) -> str:
        if value not in choices:
            raise UsageError(f"{option} must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    return parse


def listed(value: Any, option: str, *, split: bool = True) -> list[str]:
    """A list, a tuple, or one comma-separated string; commas inside items split too."""
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a list or a comma-separated string")
    if not split:
        return [str(item) for item in items]
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out


def names(value: Any, option: str) -> tuple[str, ...] | None:
    return tuple(listed(value, option)) or None


def strings(value: Any, option: str) -> tuple[str, ...]:
    return tuple(listed(value, option))


def paths(value: Any, option: str) -> tuple[str, ...] | None:
    return tuple(listed(value, option, split=False)) or None


def pairs(value: Any, option: str) -> dict[str, str]:
    """``a=b`` items (repeatable or comma-separated) or a TOML table -> dict."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    items = value if isinstance(value, list | tuple) else [value]
    # split on commas outside parentheses: price=decimal(12,2),qty=int
    parts = [p.strip() for item in items for p in re.split(r",(?![^()]*\))", str(item))]
    for item in filter(None, parts):
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise UsageError(f"{option} expects name=value, got {item!r}")
        out[name.strip()] = target.strip()
    return out


def target_url(value: Any, option: str) -> str:
    """The URL, parsed now: a bad port or bracket would surface mid-run otherwise."""
    url = str(value)
    try:
        _ = urlsplit(url).port  # raises for a port that is not a number in 0..65535
    except ValueError as exc:
        shown = redact_url(url)  # "<unparseable URL>" when even the password is unreadable
        raise UsageError(f"{option}: invalid URL {shown}: {exc}") from None
    return url


def max_errors(value: Any, option: str) -> tuple[int | None, float | None]:
    """``100`` (rows) or ``2.5%`` (of the rows read) -> (count, percent)."""
    text_ = str(value).strip()
    if text_.endswith("%"):
        percent = number(text_[:-1], option)
        if not 0 < percent <= 100:
            raise UsageError(f"{option} percentage must be in (0, 100], not {text_!r}")
        return None, percent
    return whole(minimum=0)(text_, option), None


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(value: Any, option: str) -> int:
    """Bytes from 67108864, 512KB, 64MB, 1GB (binary units; KiB/MiB spellings too)."""
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"{option} must be a size such as 64MB, 512KB or a number of bytes")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


_ESCAPES = {"\\t": "\t", "tab": "\t", "\\n": "\n"}


def single_char(value: Any, option: str) -> str:
    char = _ESCAPES.get(str(value), str(value))
    if len(char) != 1:
        raise UsageError(f"{option} must be a single character, not {value!r}")
    if char in "\r\n":
        raise UsageError(f"{option} cannot be a line break")
    return char


def encoding(value: Any, option: str) -> str:
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise UsageError(f"{option}: unknown encoding {value!r}") from None


def process_count(value: Any, option: str) -> int | str:
    """``auto``, or a number of processes (at least 1)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        raise UsageError(f"{option} must be auto or a whole number, not {value!r}")
    return int(whole(minimum=1)(value, option))


def levels(value: Any, option: str) -> tuple[int, ...] | str:
    """``auto``, or concurrency levels ``1,2,4`` (sorted, each once)."""
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    return _ascending(value, option, whole(minimum=1))


def batch_sizes(value: Any, option: str) -> tuple[int, ...]:
    return _ascending(value, option, whole(minimum=1))


def rates(value: Any, option: str) -> tuple[float, ...]:
    return _ascending(value, option, positive_rate)


def _ascending(value: Any, option: str, each: Parse) -> tuple[Any, ...]:
    items = listed(value if isinstance(value, list | tuple) else str(value), option)
    if not items:
        raise UsageError(f"{option} needs at least one value")
    return tuple(sorted({each(item, option) for item in items}))


def percentage(value: Any, option: str) -> float:
    """``10%`` (or ``10``) as the fraction 0.1."""
    written = str(value).strip()
    try:
        percent = float(written.removesuffix("%"))
    except ValueError:
        raise UsageError(f"{option} must be a percentage like 10%, not {value!r}") from None
    if not 0 <= percent < 100 or not math.isfinite(percent):
        raise UsageError(f"{option} must be from 0% to less than 100%, not {written}")
    return percent / 100


_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def shard(value: Any, option: str) -> tuple[int, int]:
    """``i/N``: the i-th of N shares (i from 1 to N)."""
    match = _SHARD.fullmatch(str(value))
    if match is None:
        raise UsageError(f"{option} must be i/N (e.g. 2/4), not {value!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"{option} {index}/{count}: i must be from 1 to N")
    return index, count


_LOCAL_CLUSTER = re.compile(r"local:(\d+)")


def local_workers(address: str) -> int | None:
    """N of a ``local:N`` cluster address; None for a scheduler's address."""
    local = _LOCAL_CLUSTER.fullmatch(address)
    return None if local is None else int(local[1])


def cluster_address(value: Any, option: str) -> str:
    """A Dask scheduler address (``tcp://host:8786``) or ``local:N`` (N local workers)."""
    text = str(value).strip()
    local = local_workers(text)
    if local is not None:
        if local < 1:
            raise UsageError(f"{option} local:N needs N >= 1, not {text!r}")
        return text
    if "://" not in text or not urlsplit(text).hostname:
        raise UsageError(
            f"{option} must be a scheduler address (tcp://host:8786) or local:N, not {text!r}"
        )
    return text
