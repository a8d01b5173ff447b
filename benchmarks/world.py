"""A big contract-shaped data directory on disk, for benchmarks of whole commands (Parquet or CSV files).

At scale 1: 1,000,000 customers, 10,000,000 transactions, 300,000 complaints and 20,000,000 visits over two years
before 2025-07-01 and 60 days after it; activity per customer is skewed (gamma weights), 25% of purchases on
promotion, 3% returns, list prices rising 4-8% in half the categories 60 days before 2025-07-01. Written chunk by
chunk with Arrow, so generating it needs far less memory than the data it writes.

    .venv/bin/python -m benchmarks.world --out data/scratch/bench-1 [--scale 1] [--format parquet|csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

AS_OF = np.datetime64("2025-07-01")
HISTORY_DAYS = 730
FUTURE_DAYS = 60
NS_PER_DAY = 86_400 * 10**9
CHUNK_ROWS = 2_000_000
SIZES = {"customers": 1_000_000, "transactions": 10_000_000, "complaints": 300_000, "visits": 20_000_000}
CATEGORIES = ["food", "drinks", "tools", "garden", "toys", "books", "health", "office"]
SEGMENTS = ["retail", "wholesale", "online", "enterprise", "smb", "public"]
COMPLAINT_CATEGORIES = ["product_quality", "service", "price", "delivery", "billing", "other"]
N_MANAGERS = 2_000


def fixed_ids(prefix: str, numbers: np.ndarray, digits: int = 7) -> pa.Array:
    """Ids like C0000042 built as bytes (no Python string per row)."""
    width = len(prefix) + digits
    data = np.empty((len(numbers), width), dtype=np.uint8)
    data[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.astype(np.int64).copy()
    for position in range(width - 1, len(prefix) - 1, -1):
        data[:, position] = ord("0") + rest % 10
        rest //= 10
    offsets = np.arange(0, (len(numbers) + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _labels(values: list[str], codes: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values)).cast(pa.string())


def _sorted_times(rng, n: int) -> np.ndarray:
    start = (AS_OF - np.timedelta64(HISTORY_DAYS, "D")).astype("datetime64[ns]").astype(np.int64)
    return np.sort(rng.integers(start, start + (HISTORY_DAYS + FUTURE_DAYS) * NS_PER_DAY, n))


def _chunks(n: int):
    for start in range(0, n, CHUNK_ROWS):
        yield min(CHUNK_ROWS, n - start)


class _Writer:
    """Appends Arrow tables to one file, Parquet or CSV."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt, self.writer = path, fmt, None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = (pq.ParquetWriter(self.path, table.schema) if self.fmt == "parquet"
                           else pa_csv.CSVWriter(self.path, table.schema))
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


def write_world(out: Path, scale: float = 1.0, fmt: str = "parquet", seed: int = 0) -> dict[str, int]:
    """Write the benchmark world into ``out``; returns the rows per table."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {name: int(n * scale) for name, n in SIZES.items()}
    n_customers = sizes["customers"]
    weights = rng.gamma(0.7, 1.0, n_customers)
    cumulative = np.cumsum(weights / weights.sum())
    suffix = ".parquet" if fmt == "parquet" else ".csv"

    def pick(n: int) -> pa.Array:
        return fixed_ids("C", np.minimum(np.searchsorted(cumulative, rng.random(n)), n_customers - 1))

    departed = np.where(
        rng.random(N_MANAGERS) < 0.1,
        (AS_OF - rng.integers(-30, 400, N_MANAGERS).astype("timedelta64[D]")).astype("datetime64[ns]"),
        np.datetime64("NaT", "ns"),
    )
    managers = pa.table({"account_manager_id": fixed_ids("M", np.arange(N_MANAGERS), 5),
                         "departed_at": pa.array(departed, pa.timestamp("ns"))})
    writer = _Writer(out / f"account_managers{suffix}", fmt)
    writer.write(managers)
    writer.close()

    managed = rng.random(n_customers) < 0.7
    customers = pa.table({
        "customer_id": fixed_ids("C", np.arange(n_customers)),
        "signup_date": pa.array((AS_OF - rng.integers(30, 1500, n_customers).astype("timedelta64[D]"))
                                .astype("datetime64[ns]"), pa.timestamp("ns")),
        "segment": _labels(SEGMENTS, rng.integers(0, len(SEGMENTS), n_customers)),
        "account_manager_id": pa.array(
            np.where(managed, np.char.add("M", np.char.zfill(rng.integers(0, N_MANAGERS, n_customers).astype(str), 5)),
                     None), pa.string()),
        "wallet_estimate": pa.array(np.where(rng.random(n_customers) < 0.2, rng.gamma(2.0, 2_000.0, n_customers),
                                             np.nan), from_pandas=True),
    })
    writer = _Writer(out / f"customers{suffix}", fmt)
    writer.write(customers)
    writer.close()

    writer = _Writer(out / f"transactions{suffix}", fmt)
    stamps = _sorted_times(rng, sizes["transactions"])
    rise_from = (AS_OF - np.timedelta64(60, "D")).astype("datetime64[ns]").astype(np.int64)
    done = 0
    for n in _chunks(sizes["transactions"]):
        times = stamps[done: done + n]
        category = rng.integers(0, len(CATEGORIES), n)
        rise = np.where((category % 2 == 0) & (times >= rise_from), 1.04 + 0.01 * category, 1.0)
        quantity = rng.integers(1, 10, n).astype("float64")
        list_amount = np.round(quantity * (5.0 + 3.0 * category) * rise, 2)
        promo = rng.random(n) < 0.25
        paid = np.round(list_amount * np.where(promo, 1.0 - rng.uniform(0.1, 0.3, n), 1.0), 2)
        amount = np.where(rng.random(n) < 0.03, -paid, paid)
        writer.write(pa.table({
            "customer_id": pick(n),
            "timestamp": pa.array(times.astype("datetime64[ns]"), pa.timestamp("ns")),
            "amount": amount,
            "transaction_id": fixed_ids("T", np.arange(done, done + n), 9),
            "quantity": quantity,
            "list_amount": list_amount,
            "promo": promo,
            "category": _labels(CATEGORIES, category),
            "channel": _labels(["store", "web", "app", "phone"], rng.integers(0, 4, n)),
        }))
        done += n
    writer.close()

    opened = _sorted_times(rng, sizes["complaints"])
    resolved = rng.random(sizes["complaints"]) < 0.85
    resolved_at = np.where(resolved, opened + (rng.exponential(5.0, len(opened)) * NS_PER_DAY).astype(np.int64), 0)
    satisfaction = rng.integers(1, 6, len(opened))
    writer = _Writer(out / f"complaints{suffix}", fmt)
    writer.write(pa.table({
        "customer_id": pick(len(opened)),
        "opened_at": pa.array(opened.astype("datetime64[ns]"), pa.timestamp("ns")),
        "resolved_at": pa.array(resolved_at.astype("datetime64[ns]"), pa.timestamp("ns"), mask=~resolved),
        "category": _labels(COMPLAINT_CATEGORIES, rng.integers(0, 6, len(opened))),
        "severity": pa.array(rng.integers(1, 6, len(opened))),
        "satisfaction": pa.array(satisfaction, mask=~resolved),
    }))
    writer.close()

    writer = _Writer(out / f"visits{suffix}", fmt)
    stamps = _sorted_times(rng, sizes["visits"])
    done = 0
    for n in _chunks(sizes["visits"]):
        writer.write(pa.table({
            "customer_id": pick(n),
            "timestamp": pa.array(stamps[done: done + n].astype("datetime64[ns]"), pa.timestamp("ns")),
            "channel": _labels(["store", "web", "app", "call", "sales_visit"], rng.integers(0, 5, n)),
            "duration_s": np.round(rng.exponential(300.0, n), 1),
        }))
        done += n
    writer.close()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    start = time.perf_counter()
    sizes = write_world(args.out, args.scale, args.format)
    print(f"wrote {sizes} to {args.out} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
