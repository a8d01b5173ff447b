"""Step `churn partition`: a data directory rewritten as Parquet partitioned by customer bucket.

Every table of a customer lands in bucket ``customer_bucket(customer_id, n_buckets)`` (a stable SipHash), with
rows in their original order; the result is written to a temporary sibling and moved into place.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from features import customer_bucket
from pipeline.bucket_store import MANIFEST, WHOLE_TABLES, BucketedDir, check_replaceable, write_bucketed
from pipeline.contract import InputLimits
from pipeline.errors import ChurnError
from pipeline.io import load_data_dir

MAX_BUCKETS = 100_000


def bucket_parts(frame: pd.DataFrame, n_buckets: int) -> dict[int, pd.DataFrame]:
    """The rows of ``frame`` per bucket of their customer_id (every bucket present, rows in original order)."""
    bucket = customer_bucket(frame["customer_id"], n_buckets)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
    ordered = frame.take(order)
    return {k: ordered.iloc[bounds[k]: bounds[k + 1]].reset_index(drop=True) for k in range(n_buckets)}


def partition_data_dir(
    data_dir: str | os.PathLike, out: str | os.PathLike, n_buckets: int, limits: InputLimits | None = None
) -> BucketedDir:
    """Rewrite ``data_dir`` (checked as every command checks it) as a bucketed directory at ``out``."""
    if not 1 <= n_buckets <= MAX_BUCKETS:
        raise ChurnError(f"--buckets {n_buckets}: must be between 1 and {MAX_BUCKETS:,}.", "e.g. --buckets 64")
    check_replaceable(out, MANIFEST)  # before reading: refusing after minutes of work would waste them
    tables, _warnings = load_data_dir(data_dir, limits)
    parts = {}
    for name, frame in tables.items():
        if name in ("customers", "transactions") or len(frame):  # absent optional tables stay absent
            parts[name] = {0: frame} if name in WHOLE_TABLES else bucket_parts(frame, n_buckets)
    return write_bucketed(parts, out, n_buckets)
