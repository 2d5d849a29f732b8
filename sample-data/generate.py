"""Generate mixed-type order data as CSV (and Parquet): the samples, the benchmark input.

    python sample-data/generate.py --rows 1000 --out sample-data/orders
    python sample-data/generate.py --rows 5000000 --out /tmp/big --csv-only

Deterministic for a given --seed. Columns cover every inferred type: integers, floats,
booleans, dates, timestamps and text with commas, quotes, unicode and nulls.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

NOTES = ["", "gift wrap", "leave at door, ring twice", 'said "thanks"', "Zürich ✓", "日本語"]
PRODUCTS = ["widget", "gadget", "doohickey", "sprocket, large", "thingamajig"]


def orders(rows: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    created = pl.Series(rng.integers(0, 3 * 365 * 86_400, rows)).cast(pl.Int64) * 1_000_000
    return pl.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "customer": [f"customer_{n}" for n in rng.integers(1, 50_000, rows)],
            "product": pl.Series(PRODUCTS)[rng.integers(0, len(PRODUCTS), rows)],
            "quantity": rng.integers(1, 20, rows),
            "unit_price": np.round(rng.uniform(0.5, 500, rows), 2),
            "paid": rng.random(rows) < 0.8,
            "order_date": pl.Series(rng.integers(0, 3 * 365, rows)).cast(pl.Int32)
            + (date(2024, 1, 1) - date(1970, 1, 1)).days,
            "created_at": created + int(start.timestamp() * 1_000_000),
            "note": pl.Series(NOTES)[rng.integers(0, len(NOTES), rows)],
        }
    ).with_columns(
        pl.col("order_date").cast(pl.Date),
        pl.col("created_at").cast(pl.Datetime("us")),
        pl.when(pl.col("note") == "").then(None).otherwise(pl.col("note")).alias("note"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--out", default="sample-data/orders", help="path without extension")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--csv-only", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = orders(args.rows, args.seed)
    frame.write_csv(out.with_suffix(".csv"), datetime_format="%Y-%m-%d %H:%M:%S")
    if not args.csv_only:
        frame.write_parquet(out.with_suffix(".parquet"))
    print(f"wrote {args.rows:,} rows to {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
