"""How fast --synthetic generates rows, against what bench needs to pre-generate its pool.

    python benchmarks/synthetic_rows.py [--rows 500000] [--repeat 5]

Generates the default spec (6 columns) in 10,000-row batches, ``--repeat`` times, and
prints rows/s (median, min-max) and its ratio to the 2M rows/s bench needs to fill its
batch pool quickly. Target: >= 1.0 (unloaded it does 5-8M rows/s).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bulkload.sources.synthetic import parse_synthetic, synthetic_batches

NEEDED = 2_000_000  # rows/s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    spec = parse_synthetic(f"rows={args.rows}")
    rates = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        rows = sum(batch.num_rows for batch in synthetic_batches(spec, 10_000))
        rates.append(rows / (time.perf_counter() - started))
    median = statistics.median(rates)
    spread = f"min-max {min(rates):,.0f}-{max(rates):,.0f}"
    print(f"--synthetic rows={args.rows:,}: {median:,.0f} rows/s ({spread})")
    ratio = median / NEEDED
    verdict = "met" if ratio >= 1 else "NOT met"
    print(f"ratio to the {NEEDED:,} rows/s bench needs = {ratio:.2f}; target >= 1.0: {verdict}")


if __name__ == "__main__":
    main()
