"""Latency recording in an HDR histogram: constant memory, mergeable across runs.

Values are recorded in microseconds from 1 µs to 1 hour with 3 significant digits, so
any percentile is within 0.1% of the true value (values outside the range are clamped).

A histogram travels as text: ``encode()`` gives HdrHistogram's compressed base64 form
(readable by any HdrHistogram implementation) and ``LatencyHistogram.decode()`` turns it
back into a histogram with the same count, percentiles, min and max. Histograms of
different runs, shards or machines add up with ``merge()``; ``copy()`` and ``reset()``
let a caller take a window (e.g. exclude a warm-up) without losing what it has.

Percentiles are read as the reference HdrHistogram (Java, and hdr-histogram-js) reads
them, by :func:`value_at_percentile`: the value at rank ceil(p/100 · count) of the
recorded samples, reported as the highest value of its slot. (The Python library hdrh
rounds the rank to the nearest instead, which reads a tail percentile one sample low.)

``mean_ms`` and ``stdev_ms`` (population standard deviation) are computed from the
recorded slots, each slot counted at the middle of its range. ``percentile_spectrum()``
reads the histogram the way HdrHistogram plots are read: at percentiles 50, 75, 87.5,
93.75, ... (each step halves the distance to 100) up to 99.999, then the max.
"""

from __future__ import annotations

import ctypes
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from hdrh.codec import HdrCookieException, HdrLengthException
from hdrh.histogram import HdrHistogram

from bulkload.errors import InputError

_LOWEST_US = 1
_HIGHEST_US = 3_600 * 1_000_000
_SIGNIFICANT_DIGITS = 3
#: the last percentile of a spectrum before the max
SPECTRUM_LAST_PERCENTILE = 99.999
#: what hdrh raises on text that is not an encoded histogram
_UNDECODABLE = (ValueError, TypeError, zlib.error, HdrCookieException, HdrLengthException)


def _counts(hdr: HdrHistogram) -> np.ndarray:
    """hdrh's ctypes array of counts as a writable numpy view (no copy). By the buffer
    protocol: ``np.ctypeslib`` would be imported for it, ~1-6 ms of a short run's start."""
    return np.frombuffer(hdr.counts, dtype=np.dtype(f"u{ctypes.sizeof(hdr.counts._type_)}"))


def _new_hdr() -> HdrHistogram:
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_DIGITS)


def value_at_percentile(hdr: HdrHistogram, percentile: float) -> int:
    """The value at ``percentile`` (0..100) as HdrHistogram's Java reference reads it
    (``AbstractHistogram.getValueAtPercentile``, 2.1.11 and later): rank
    max(ceil(p/100 · count), 1), with p first lowered by one ulp so that a product like
    66.4 · 750 / 100 = 498.00000000000006 does not round up into the next sample; the
    answer is the highest value equivalent to that sample's slot (the lowest at p = 0).
    0 for an empty histogram."""
    requested = min(max(math.nextafter(percentile, -math.inf), 0.0), 100.0)
    rank = max(math.ceil(requested * hdr.total_count / 100.0), 1)
    counts = _counts(hdr)[: hdr.counts_len]
    index = int(np.searchsorted(np.cumsum(counts), rank, side="left"))
    if index >= hdr.counts_len:
        return 0
    value = hdr.get_value_from_index(index)
    if percentile == 0.0:
        return int(hdr.get_lowest_equivalent_value(value))
    return int(hdr.get_highest_equivalent_value(value))


@dataclass(frozen=True, slots=True)
class Bucket:
    """Count of samples with latency in [low_ms, high_ms)."""

    low_ms: float
    high_ms: float
    count: int


#: samples buffered before they are folded into the HDR histogram
FLUSH_AT = 4096


class LatencyHistogram:
    """Samples are buffered and folded into the HDR histogram in bulk: recording costs a
    list append on the engine's hot path. The hottest paths (a write's two latencies)
    append to ``pending_s`` themselves, as :meth:`record` does: a call is ~0.1 µs of a
    1-row HTTP request's ~6."""

    def __init__(self) -> None:
        self._hdr = _new_hdr()
        self._pending: list[int] = []  # µs, from record_us
        #: seconds, from record: turned into µs in bulk, as int() would, when folded.
        #: Who appends here calls :meth:`flush` once it holds FLUSH_AT samples.
        self.pending_s: list[float] = []

    @classmethod
    def decode(cls, encoded: str) -> LatencyHistogram:
        """The histogram ``encode()`` produced. Raises InputError on anything else."""
        try:
            decoded = HdrHistogram.decode(encoded)
        except _UNDECODABLE as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise InputError(f"not an encoded latency histogram{detail}") from None
        hist = cls()
        try:
            # Added into our own layout, so histograms encoded elsewhere merge with ours.
            hist._hdr.add(decoded)
        except IndexError:
            raise InputError("encoded latency histogram holds values beyond 1 hour") from None
        return hist

    def record(self, seconds: float) -> None:
        pending = self.pending_s
        pending.append(seconds)
        if len(pending) >= FLUSH_AT:
            self.flush()

    def record_us(self, micros: int) -> None:
        """Record one latency given in whole microseconds."""
        self._pending.append(micros)
        if len(self._pending) >= FLUSH_AT:
            self.flush()

    def record_many(self, seconds: Iterable[float] | np.ndarray) -> None:
        """Record many latencies (seconds) at once, e.g. a whole window's samples."""
        micros = (np.asarray(seconds, dtype=np.float64) * 1_000_000).astype(np.int64)
        if micros.size:
            self._add(micros)

    def flush(self) -> None:
        """Fold the buffered samples into the HDR histogram."""
        if self.pending_s:
            seconds, self.pending_s = self.pending_s, []
            # truncated toward zero, as int(seconds * 1_000_000) does
            self._add((np.array(seconds, dtype=np.float64) * 1_000_000).astype(np.int64))
        if self._pending:
            pending, self._pending = self._pending, []
            self._add(np.array(pending, dtype=np.int64))

    def _add(self, micros: np.ndarray) -> None:
        """Count many values (µs) at once. hdrh's ``record_value`` is pure Python, ~1.5 µs
        a value (a 1-row HTTP bench spent 0.3 µs a sample on it, and paused its event
        loop for each fold): here hdrh's own slot arithmetic (``_counts_index_for``) runs
        in numpy for all of them, ~50 ns a sample, into hdrh's counts. A test holds it to
        ``record_value``, so a change inside hdrh cannot go unnoticed."""
        hdr = self._hdr
        values = np.clip(micros, _LOWEST_US, _HIGHEST_US)
        _, bits = np.frexp(values | hdr.sub_bucket_mask)  # bit length: hdrh's 64 - clz
        bucket = bits - (hdr.unit_magnitude + hdr.sub_bucket_half_count_magnitude + 1)
        sub_bucket = values >> (bucket + hdr.unit_magnitude)
        index = ((bucket + 1) << hdr.sub_bucket_half_count_magnitude) + (
            sub_bucket - hdr.sub_bucket_half_count
        )
        counts = _counts(hdr)
        counts += np.bincount(index, minlength=hdr.counts_len).astype(counts.dtype)
        hdr.total_count += int(values.size)
        hdr.min_value = min(hdr.min_value, int(values.min()))
        hdr.max_value = max(hdr.max_value, int(values.max()))

    @property
    def hdr(self) -> HdrHistogram:
        self.flush()
        return self._hdr

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s samples to this histogram (``other`` is left as it was)."""
        self.hdr.add(other.hdr)

    def copy(self) -> LatencyHistogram:
        """An independent histogram with the same samples."""
        twin = LatencyHistogram()
        twin.merge(self)
        return twin

    def reset(self) -> None:
        """Forget every sample (a fresh HDR array is faster than zeroing hdrh's)."""
        self._hdr = _new_hdr()
        self._pending = []
        self.pending_s = []

    @property
    def count(self) -> int:
        return int(self.hdr.get_total_count())

    def percentile_ms(self, percentile: float) -> float:
        """Every percentile bulkload reports (terminal, JSON, HTML, gates) is read here."""
        if self.count == 0:
            return 0.0
        return float(value_at_percentile(self.hdr, percentile)) / 1000

    @property
    def max_ms(self) -> float:
        return float(self.hdr.get_max_value()) / 1000 if self.count else 0.0

    @property
    def min_ms(self) -> float:
        return float(self.hdr.get_min_value()) / 1000 if self.count else 0.0

    @property
    def mean_ms(self) -> float:
        if self.count == 0:
            return 0.0
        values_us, counts = self._recorded()
        return float(np.dot(values_us, counts) / counts.sum()) / 1000

    @property
    def stdev_ms(self) -> float:
        """Population standard deviation."""
        if self.count == 0:
            return 0.0
        values_us, counts = self._recorded()
        mean = np.dot(values_us, counts) / counts.sum()
        variance = np.dot((values_us - mean) ** 2, counts) / counts.sum()
        return float(np.sqrt(variance)) / 1000

    def summary_ms(self) -> dict[str, float]:
        return {
            "p50": round(self.percentile_ms(50), 3),
            "p90": round(self.percentile_ms(90), 3),
            "p99": round(self.percentile_ms(99), 3),
            "p999": round(self.percentile_ms(99.9), 3),
            "max": round(self.max_ms, 3),
            "mean": round(self.mean_ms, 3),
            "stdev": round(self.stdev_ms, 3),
        }

    def percentile_spectrum(self, ticks_per_half: int = 1) -> list[tuple[float, float]]:
        """(percentile, latency ms) at HdrHistogram's log-scale ticks, for charts.

        Each step halves the distance to 100 (50, 75, 87.5, 93.75, ...), split into
        ``ticks_per_half`` evenly spaced ticks; the ticks stop below 99.999, which comes
        next, and the last point is (100.0, max). Empty histogram: no points."""
        if ticks_per_half < 1:
            raise ValueError("ticks_per_half must be at least 1")
        if self.count == 0:
            return []
        percentiles: list[float] = []
        remaining = 50.0  # distance from the current half-step to 100
        while 100 - remaining < SPECTRUM_LAST_PERCENTILE:
            step = remaining / 2 / ticks_per_half
            for tick in range(ticks_per_half):
                percentile = 100 - remaining + tick * step
                if percentile < SPECTRUM_LAST_PERCENTILE:
                    percentiles.append(percentile)
            remaining /= 2
        percentiles.append(SPECTRUM_LAST_PERCENTILE)
        spectrum = [(p, self.percentile_ms(p)) for p in percentiles]
        spectrum.append((100.0, self.max_ms))
        return spectrum

    def buckets(self, count: int = 12) -> list[Bucket]:
        """Samples in ``count`` log-spaced buckets between the min and max latency."""
        if self.count == 0:
            return []
        low, high = max(self.min_ms, 0.001), max(self.max_ms, 0.001)
        if high <= low * 1.0001:
            return [Bucket(low, high, self.count)]
        ratio = (high / low) ** (1 / count)
        edges = [low * ratio**i for i in range(count + 1)]
        edges[-1] = high * 1.0001
        values_us, samples = self._recorded()
        where = np.searchsorted(edges, values_us / 1000, side="right") - 1
        counts = np.bincount(np.clip(where, 0, count - 1), weights=samples, minlength=count)
        return [Bucket(edges[i], edges[i + 1], int(counts[i])) for i in range(count)]

    def _recorded(self) -> tuple[np.ndarray, np.ndarray]:
        """(value in µs, samples) of every non-empty HDR slot, the value being the middle
        of the slot's range. hdrh's own iterators walk all ~23k slots in Python (0.1 s)."""
        hdr = self.hdr
        slots = _counts(hdr)[: hdr.counts_len]
        used = np.flatnonzero(slots)
        values = []
        for index in used.tolist():
            low = hdr.get_value_from_index(index)
            values.append((low + hdr.get_highest_equivalent_value(low)) / 2)
        return np.array(values, dtype=np.float64), slots[used].astype(np.float64)

    def counts_at_or_below(self, bounds_ms: Iterable[float]) -> list[int]:
        """Samples at or below each bound (ms), as a Prometheus histogram's buckets count
        them (a slot counts at its middle, as :attr:`mean_ms` does)."""
        if self.count == 0:
            return [0 for _ in bounds_ms]
        values_us, counts = self._recorded()
        below = np.cumsum(counts)
        found = []
        for bound in bounds_ms:
            index = int(np.searchsorted(values_us, bound * 1000, side="right")) - 1
            found.append(int(below[index]) if index >= 0 else 0)
        return found

    def slot_counts(self) -> np.ndarray:
        """A copy of the per-slot counts: two of them, subtracted, are what was recorded
        in between (:meth:`from_slot_counts`), without a second histogram on the hot path."""
        hdr = self.hdr
        return _counts(hdr)[: hdr.counts_len].copy()

    @classmethod
    def from_slot_counts(cls, slots: np.ndarray) -> LatencyHistogram:
        """The histogram holding ``slots`` (from :meth:`slot_counts`, or a difference)."""
        hist = cls()
        hdr = hist._hdr
        counts = _counts(hdr)
        counts[: slots.size] = slots
        used = np.flatnonzero(slots)
        if used.size:
            hdr.total_count = int(slots.sum())
            hdr.min_value = int(hdr.get_value_from_index(int(used[0])))
            hdr.max_value = int(
                hdr.get_highest_equivalent_value(hdr.get_value_from_index(int(used[-1])))
            )
        return hist

    def encode(self) -> str:
        """Compressed HDR encoding (base64), for saving and merging elsewhere."""
        encoded = self.hdr.encode()
        return encoded.decode() if isinstance(encoded, bytes) else str(encoded)
