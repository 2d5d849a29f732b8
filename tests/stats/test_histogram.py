from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from bulkload.errors import InputError
from bulkload.stats import LatencyHistogram
from bulkload.stats.level import LevelResult


def test_percentiles_are_within_hdr_precision():
    hist = LatencyHistogram()
    for ms in range(1, 1001):  # 1 ms .. 1000 ms, uniform
        hist.record(ms / 1000)
    assert hist.count == 1000
    assert abs(hist.percentile_ms(50) - 500) <= 0.5
    assert abs(hist.percentile_ms(99) - 990) <= 1
    assert abs(hist.max_ms - 1000) <= 1
    assert abs(hist.mean_ms - 500.5) <= 1


def test_histograms_merge():
    fast, slow = LatencyHistogram(), LatencyHistogram()
    for _ in range(90):
        fast.record(0.001)
    for _ in range(10):
        slow.record(0.1)
    fast.merge(slow)
    assert fast.count == 100
    assert abs(fast.percentile_ms(50) - 1) < 0.01
    assert abs(fast.percentile_ms(95) - 100) < 0.1


def test_buckets_cover_every_sample():
    hist = LatencyHistogram()
    for i in range(1, 500):
        hist.record(i / 10_000)
    buckets = hist.buckets(10)
    assert sum(b.count for b in buckets) == 499
    assert buckets[0].low_ms <= hist.min_ms and buckets[-1].high_ms >= hist.max_ms


def test_empty_histogram():
    hist = LatencyHistogram()
    assert hist.summary_ms() == {
        "p50": 0,
        "p90": 0,
        "p99": 0,
        "p999": 0,
        "max": 0,
        "mean": 0,
        "stdev": 0,
    }
    assert hist.buckets() == []


def _lognormal_seconds(count: int, seed: int) -> np.ndarray:
    """Latencies around 3 ms with a long tail, like a real target's."""
    return np.random.default_rng(seed).lognormal(mean=np.log(0.003), sigma=0.8, size=count)


def _filled(seconds: np.ndarray) -> LatencyHistogram:
    hist = LatencyHistogram()
    for value in seconds.tolist():
        hist.record(value)
    return hist


def test_decode_inverts_encode_exactly():
    hist = _filled(_lognormal_seconds(20_000, seed=1))
    decoded = LatencyHistogram.decode(hist.encode())
    assert decoded.count == hist.count == 20_000
    assert (decoded.min_ms, decoded.max_ms) == (hist.min_ms, hist.max_ms)
    for percentile in (1, 50, 90, 99, 99.9, 99.99, 100):
        assert decoded.percentile_ms(percentile) == hist.percentile_ms(percentile)
    assert decoded.summary_ms() == hist.summary_ms()
    assert decoded.encode() == hist.encode()


def test_decode_of_an_empty_histogram_is_empty():
    decoded = LatencyHistogram.decode(LatencyHistogram().encode())
    assert decoded.count == 0
    assert decoded.summary_ms() == LatencyHistogram().summary_ms()


@pytest.mark.parametrize("garbage", ["", "not base64!", "aGVsbG8gd29ybGQh", "HISTFAAAACl4nJNp"])
def test_decode_rejects_text_that_is_not_a_histogram(garbage):
    with pytest.raises(InputError, match="not an encoded latency histogram"):
        LatencyHistogram.decode(garbage)


def test_decoded_halves_merge_into_the_whole():
    samples = _lognormal_seconds(30_000, seed=2)
    whole = _filled(samples)
    first = LatencyHistogram.decode(_filled(samples[:12_345]).encode())
    second = LatencyHistogram.decode(_filled(samples[12_345:]).encode())
    first.merge(second)
    assert first.count == whole.count == 30_000
    assert (first.min_ms, first.max_ms) == (whole.min_ms, whole.max_ms)
    # Same slots, same counts: percentiles agree to the histogram's precision (0.1%).
    for percentile in (50, 90, 99, 99.9):
        assert first.percentile_ms(percentile) == pytest.approx(
            whole.percentile_ms(percentile), rel=1e-3
        )
    raw_p99 = float(np.percentile(samples * 1000, 99))
    assert first.percentile_ms(99) == pytest.approx(raw_p99, rel=2e-3)


def test_stdev_matches_numpy_on_the_raw_samples():
    samples = _lognormal_seconds(50_000, seed=3)
    hist = _filled(samples)
    assert hist.stdev_ms == pytest.approx(float(np.std(samples * 1000)), rel=0.01)
    assert hist.summary_ms()["stdev"] == round(hist.stdev_ms, 3)


def test_stdev_of_identical_samples_is_zero():
    hist = LatencyHistogram()
    for _ in range(100):
        hist.record(0.005)
    assert hist.stdev_ms == 0.0


def test_copy_is_independent():
    hist = _filled(_lognormal_seconds(1_000, seed=4))
    twin = hist.copy()
    twin.record(2.0)
    assert (twin.count, hist.count) == (1_001, 1_000)
    assert twin.max_ms == pytest.approx(2000, rel=1e-3) and hist.max_ms < 2000


def test_reset_forgets_recorded_and_pending_samples():
    hist = _filled(_lognormal_seconds(5_000, seed=5))  # some still buffered, not flushed
    hist.reset()
    assert hist.count == 0 and hist.summary_ms()["max"] == 0
    hist.record(0.010)
    assert hist.count == 1 and hist.percentile_ms(50) == pytest.approx(10, rel=1e-3)


def test_record_many_and_record_us_match_record():
    samples = _lognormal_seconds(10_000, seed=6)
    one_by_one = _filled(samples)
    at_once = LatencyHistogram()
    at_once.record_many(samples)
    in_micros = LatencyHistogram()
    for value in samples.tolist():
        in_micros.record_us(int(value * 1_000_000))
    assert at_once.encode() == one_by_one.encode() == in_micros.encode()


def test_percentile_spectrum_halves_the_distance_to_100():
    hist = LatencyHistogram()
    for ms in range(1, 100_001):  # 1 ms .. 100 s, uniform: percentile p is about p * 1 s
        hist.record(ms / 1000)
    spectrum = hist.percentile_spectrum()
    percentiles = [p for p, _ in spectrum]
    assert percentiles[:5] == [50, 75, 87.5, 93.75, 96.875]
    assert percentiles[-2:] == [99.999, 100.0]
    assert all(a < b for a, b in itertools.pairwise(percentiles))
    assert len(percentiles) == 18  # 50 .. 99.9985 (16 ticks), 99.999, max
    for percentile, ms in spectrum:
        assert ms == pytest.approx(percentile * 1000, rel=2e-3)
    assert spectrum[-1][1] == hist.max_ms


def test_percentile_spectrum_with_more_ticks():
    hist = _filled(_lognormal_seconds(1_000, seed=7))
    percentiles = [p for p, _ in hist.percentile_spectrum(2)]
    assert percentiles[:4] == [50, 62.5, 75, 81.25]
    values = [ms for _, ms in hist.percentile_spectrum(2)]
    assert values == sorted(values)
    assert LatencyHistogram().percentile_spectrum() == []


def test_decode_takes_histograms_encoded_with_another_layout():
    """Another tool's HdrHistogram (2 significant digits, 1 µs .. 1 min) joins our layout."""
    foreign = HdrHistogram(1, 60_000_000, 2)
    foreign.record_value(1_500, 30)  # 1.5 ms
    foreign.record_value(40_000, 10)  # 40 ms
    hist = LatencyHistogram.decode(_text(foreign.encode()))
    assert hist.count == 40
    assert hist.percentile_ms(50) == pytest.approx(1.5, rel=0.01)
    assert hist.max_ms == pytest.approx(40, rel=0.01)
    hist.merge(_filled(np.array([0.002])))
    assert hist.count == 41


def test_decode_refuses_values_beyond_our_range():
    wider = HdrHistogram(1, 10 * 3_600_000_000, 3)
    wider.record_value(2 * 3_600_000_000)  # two hours
    with pytest.raises(InputError, match="holds values beyond 1 hour"):
        LatencyHistogram.decode(_text(wider.encode()))


def _text(encoded: bytes | str) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


def test_bulk_folding_counts_exactly_as_hdrh_record_value_does():
    """The fold computes hdrh's slots in numpy: held here to hdrh's own record_value, one
    value at a time, at the edges of its buckets and across the whole range."""
    rng = np.random.default_rng(7)
    edges = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 4097, 10**6, 2**31 - 1]
    huge = [3_600_000_000, 3_600_000_001, 10**12]  # beyond an hour: clamped, as before
    spread = rng.lognormal(np.log(2_000), 3.0, size=50_000).astype(np.int64).tolist()
    values = edges + huge + spread
    ours = LatencyHistogram()
    for micros in values:
        ours.record_us(micros)
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for micros in values:
        reference.record_value(min(max(micros, 1), 3_600_000_000))
    folded = ours.hdr
    assert folded.get_total_count() == reference.get_total_count() == len(values)
    assert (folded.get_min_value(), folded.get_max_value()) == (
        reference.get_min_value(),
        reference.get_max_value(),
    )
    assert list(folded.counts) == list(reference.counts)
    assert ours.encode() == LatencyHistogram.decode(reference.encode()).encode()


# ---------------------------------------------------------------- percentile definition


def _slot_us(value: int) -> tuple[int, int]:
    """The lowest and highest value of ``value``'s slot, by hand: with 3 significant
    digits a slot is 1 µs wide below 2048 µs, 2 µs below 4096, 4 µs below 8192, ..."""
    width = 1
    while value >= 2048 * width:
        width *= 2
    low = value // width * width
    return low, low + width - 1


def _reference_ms(samples: list[int], percentile: float) -> float:
    """What HdrHistogram's Java reference reports: the sample at rank
    max(ceil(p/100 * N), 1) of the sorted samples (rank computed exactly here), as the
    top of its slot; at p = 0, the bottom of the minimum's slot."""
    ordered = sorted(samples)
    if percentile == 0:
        return _slot_us(ordered[0])[0] / 1000
    rank = max(math.ceil(Fraction(str(percentile)) * len(ordered) / 100), 1)
    return _slot_us(ordered[rank - 1])[1] / 1000


#: 1,680 writes: 1,640 between 1.0 and 2.6 ms, a tail of 40 from 3 ms to 12.75 ms
BODY_US = [1_000 + i for i in range(1_640)]
TAIL_US = [3_001 + 250 * i for i in range(40)]


def _known() -> tuple[list[int], LatencyHistogram]:
    samples = BODY_US + TAIL_US
    shuffled = list(samples)
    np.random.default_rng(8).shuffle(shuffled)
    hist = LatencyHistogram()
    for micros in shuffled:
        hist.record_us(micros)
    return samples, hist


def test_tail_percentiles_are_the_reference_ranks_worked_by_hand():
    """1,680 samples: p99 is rank ceil(1663.2) = 1664, the 24th of the tail, 8,751 µs
    (its slot, 8 µs wide from 8,744, tops at 8,751); p99.9 is rank ceil(1678.32) = 1679,
    12,501 µs, slot top 12,503. Rounding the rank (1663, 1678) read 8.503 and 12.255 ms."""
    _, hist = _known()
    assert hist.percentile_ms(99) == 8.751
    assert hist.percentile_ms(99.9) == 12.503
    assert hist.percentile_ms(50) == 1.839  # rank 840
    assert hist.percentile_ms(90) == 2.511  # rank 1512: 2,510 µs, in a 2 µs slot
    assert hist.max_ms == 12.751
    summary = hist.summary_ms()
    assert (summary["p50"], summary["p90"], summary["p99"], summary["p999"]) == (
        1.839,
        2.511,
        8.751,
        12.503,
    )


@pytest.mark.parametrize("count", [1, 2, 7, 750, 900, 1_080, 1_680])
def test_every_percentile_is_read_as_the_java_reference_reads_it(count):
    rng = np.random.default_rng(count)
    samples = rng.lognormal(np.log(3_000), 1.0, size=count).astype(np.int64).clip(1).tolist()
    hist = LatencyHistogram()
    for micros in samples:
        hist.record_us(micros)
    # 66.4 at 750: 66.4 * 750 / 100 is 498.00000000000006 in floating point; the
    # reference takes one ulp off the percentile first, so the rank is 498, not 499.
    percentiles = [0, 1, 25, 50, 66.4, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100]
    spectrum = [p for p, _ in hist.percentile_spectrum(ticks_per_half=2)]
    for percentile in percentiles + spectrum[:-1]:
        assert hist.percentile_ms(percentile) == _reference_ms(samples, percentile), percentile


def test_the_saved_json_carries_the_reference_percentiles():
    _, hist = _known()
    level = LevelResult(concurrency=4, batch_size=100, elapsed_s=1.0, batches=1_680)
    level.latency = hist
    saved = level.to_dict()
    assert saved["latency_ms"]["p99"] == 8.751
    assert saved["latency_ms"]["p999"] == 12.503
    assert level.metrics()["p999"] == 12.503  # what gates and SLOs judge
    again = LevelResult.from_dict(saved)
    assert again.latency.summary_ms() == hist.summary_ms()
