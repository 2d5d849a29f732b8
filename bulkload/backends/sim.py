"""``sim://``: a simulated remote server, for tests, demos and engine benchmarks.

    sim://?latency=5ms&jitter=2ms&capacity=20&error_rate=0.01&throttle_rate=0.02&seed=7

Each batch takes ``latency`` (+ ``per_row`` per row) of service time, varied by a normal
``jitter``. The server serves ``capacity`` batches at once; more wait in its queue, so
throughput saturates and latency climbs as concurrency grows, as with a real server.
Faults: ``error_rate`` (transient, like a 503), ``throttle_rate`` (like a 429 with a
``retry_after`` hint), ``reject_rate`` (the share of rows the server refuses for good;
the same rows on every try, so bisection isolates them). ``stall=1s&stall_at=3s``: the
server answers nothing for ``stall``, starting ``stall_at`` after it was opened (a GC
pause, a failover); ``stall_at=0`` makes it slow to start. ``degrade=10&degrade_at=2m``:
from ``degrade_at`` after it was opened, every batch takes ``degrade`` times as long (a
cache filled, a compaction began), for good. Deterministic with ``seed``.

Parameters: latency, jitter, per_row, stall, stall_at, degrade_at (durations: 5ms,
200us, 1s, or seconds), degrade (a factor), capacity, error_rate, throttle_rate,
retry_after, reject_rate, seed, connections, requests_per_connection.
"""

from __future__ import annotations

import asyncio
import random
import re
import zlib
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa

from bulkload.backends.base import BatchKey, ErrorKind, TableSpec
from bulkload.config import TargetOptions
from bulkload.errors import UsageError

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s)?\s*$")
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0}


def parse_duration(text: str, name: str) -> float:
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"sim://: {name} must be a duration like 5ms, 200us or 1s, not {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


class SimTransientError(Exception):
    """The simulated server is briefly unavailable (HTTP 503) or throttling (429)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class SimRejectedRows(Exception):
    """The simulated server refuses some rows of the batch (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class SimPayload:
    rows: int
    bad_rows: int  # rows in this batch the server will refuse


@dataclass(frozen=True, kw_only=True)
class SimSettings:
    latency: float = 0.005
    jitter: float = 0.0
    per_row: float = 0.0
    capacity: int = 0  # 0: unlimited
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 0.05
    reject_rate: float = 0.0
    stall: float = 0.0
    stall_at: float = 0.0
    degrade: float = 1.0  # service time multiplied by this from degrade_at on
    degrade_at: float = 0.0
    seed: int | None = None
    connections: int | None = None
    requests_per_connection: int | None = None

    @classmethod
    def from_url(cls, url: str) -> SimSettings:
        values: dict[str, object] = {}
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            if name in (
                "latency",
                "jitter",
                "per_row",
                "retry_after",
                "stall",
                "stall_at",
                "degrade_at",
            ):
                values[name] = parse_duration(value, name)
            elif name in ("capacity", "seed", "connections", "requests_per_connection"):
                values[name] = _integer(value, name)
            elif name == "degrade":
                values[name] = _factor(value, name)
            elif name in ("error_rate", "throttle_rate", "reject_rate"):
                values[name] = _probability(value, name)
            else:
                raise UsageError(f"sim://: unknown parameter {name!r}")
        return cls(**values)  # type: ignore[arg-type]


def _integer(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"sim://: {name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise UsageError(f"sim://: {name} must not be negative")
    return number


def _factor(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"sim://: {name} must be a number, not {value!r}") from None
    if not number > 0:
        raise UsageError(f"sim://: {name} must be above 0, not {value!r}")
    return number


def _probability(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"sim://: {name} must be a number from 0 to 1, not {value!r}") from None
    if not 0 <= number <= 1:
        raise UsageError(f"sim://: {name} must be from 0 to 1, not {value!r}")
    return number


class SimBackend:
    schemes: ClassVar[tuple[str, ...]] = ("sim",)
    accepts_text = False

    def __init__(self, url: str, options: TargetOptions):
        self.url = url
        self.settings = settings = SimSettings.from_url(url)
        connections = options.connections or settings.connections
        per_connection = options.requests_per_connection or settings.requests_per_connection or 1
        self.max_concurrency: int | None = connections * per_connection if connections else None
        self._rng = random.Random(settings.seed)
        self._slots = asyncio.Semaphore(settings.capacity) if settings.capacity else None
        self.rows_accepted = 0
        self.batches_accepted = 0
        self.keys: set[BatchKey] = set()
        self.peak_active = 0
        self._active = 0
        self._opened_at = 0.0

    async def open(self, table: TableSpec) -> None:
        self.table = table
        self._opened_at = asyncio.get_running_loop().time()

    def encode(self, batch: pa.RecordBatch) -> SimPayload:
        bad = 0
        if self.settings.reject_rate and batch.num_columns:
            bad = sum(1 for row in batch.to_pylist() if self._refuses(row))
        return SimPayload(batch.num_rows, bad)

    def _refuses(self, row: dict[str, object]) -> bool:
        digest = zlib.crc32(f"{self.settings.seed}:{sorted(row.items())!r}".encode())
        return digest / 0xFFFFFFFF < self.settings.reject_rate

    async def write(self, payload: SimPayload, key: BatchKey | None = None) -> None:
        if self._slots is None:
            await self._serve(payload, key)
            return
        async with self._slots:
            await self._serve(payload, key)

    async def _serve(self, payload: SimPayload, key: BatchKey | None) -> None:
        s = self.settings
        self._active += 1
        self.peak_active = max(self.peak_active, self._active)
        try:
            service = max(0.0, self._rng.gauss(s.latency, s.jitter) if s.jitter else s.latency)
            service += s.per_row * payload.rows
            if s.degrade != 1.0 and self._since_open() >= s.degrade_at:
                service *= s.degrade
            draw = self._rng.random()
            if draw < s.throttle_rate:
                await asyncio.sleep(service / 10)
                raise SimTransientError("429 too many requests", retry_after=s.retry_after)
            if draw < s.throttle_rate + s.error_rate:
                await asyncio.sleep(service / 2)
                raise SimTransientError("503 service unavailable")
            await asyncio.sleep(self._stalled(service))
            if payload.bad_rows:
                raise SimRejectedRows(f"422 unprocessable: {payload.bad_rows} row(s) refused")
            self.rows_accepted += payload.rows
            self.batches_accepted += 1
            if key is not None:
                self.keys.add(key)
        finally:
            self._active -= 1

    def _since_open(self) -> float:
        return asyncio.get_running_loop().time() - self._opened_at

    def _stalled(self, service: float) -> float:
        """``service``, stretched to the end of the stall when it overlaps it."""
        s = self.settings
        if not s.stall:
            return service
        now = self._since_open()
        start, end = s.stall_at, s.stall_at + s.stall
        return max(end - now, service) if now < end and now + service > start else service

    async def reset(self) -> None:
        self.rows_accepted = 0
        self.batches_accepted = 0
        self.keys.clear()

    async def committed_keys(self) -> list[BatchKey]:
        return []

    async def forget_checkpoints(self, table: str) -> int:
        return 0

    async def close(self) -> None:
        return None

    def classify(self, error: BaseException) -> ErrorKind:
        if isinstance(error, SimTransientError):
            return ErrorKind.TRANSIENT
        if isinstance(error, SimRejectedRows):
            return ErrorKind.PERMANENT
        return ErrorKind.FATAL

    def describe(self) -> str:
        return self.url
