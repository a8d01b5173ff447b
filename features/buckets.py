"""Customer buckets: a stable hash splits customers (with all their events) into groups, processed in turn.

Global statistics are computed once on everything; each bucket then runs the very same
:func:`build_feature_table`, so the bucketed table equals the unbucketed one exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from features.aggregate import CUSTOMER_ID, EVENT_TABLES, prepare_tables
from features.assembly import build_feature_table, compute_global_stats
from features.cutoff import active_customers
from features.kernels import rows_in_code_range
from features.settings import ChurnDefinition, FeatureSettings
from features.tables import Tables, as_timestamp


def customer_bucket(customer_ids, n_buckets: int) -> np.ndarray:
    """Bucket number (0..n_buckets-1) of each id: pandas' SipHash of the UTF-8 id with its fixed default key.

    The same on every run and machine, so buckets can be stored (e.g. as Parquet partitions) and reused.
    """
    ids = pd.Series(np.asarray(customer_ids, dtype=object))
    return (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(n_buckets)).astype("int64")


def split_by_bucket(tables: Tables, n_buckets: int) -> Iterator[Tables]:
    """The tables in ``n_buckets`` groups of customers (with all of their rows; account_managers whole): in
    memory, bucket b holds the b-th of ``n_buckets`` equal runs of the customers' sorted ids.

    (Stored buckets, :func:`pipeline.partition`, use :func:`customer_bucket` instead, which does not depend on
    which other ids exist; in memory contiguous runs need no hashing, and buckets come out in id order.)
    The tables come back prepared (:func:`features.aggregate.prepare_tables`), with customer_id a categorical
    whose categories are just the bucket's ids, so per-bucket work is sized by the bucket.
    """
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be >= 1, got {n_buckets}")
    tables = prepare_tables(tables)
    if n_buckets == 1:
        yield tables
        return
    ids = tables.customers[CUSTOMER_ID].cat.categories
    first_code = np.linspace(0, len(ids), n_buckets + 1).astype(np.int64)
    codes = {name: getattr(tables, name)[CUSTOMER_ID].cat.codes.to_numpy() for name in EVENT_TABLES}
    for bucket in range(n_buckets):
        start, stop = first_code[bucket], first_code[bucket + 1]
        dtype = pd.CategoricalDtype(ids[start:stop])
        parts = {}
        for name in EVENT_TABLES:
            # A pass over the codes per bucket holds less than sorting every row by bucket once, and the rows
            # keep their order (the event tables their time order).
            rows, bucket_codes = rows_in_code_range(codes[name], start, stop)
            parts[name] = getattr(tables, name).take(rows).assign(
                **{CUSTOMER_ID: pd.Categorical.from_codes(bucket_codes, dtype=dtype, validate=False)}
            )
        yield tables.replace(**parts)


def build_feature_table_bucketed(
    tables: Tables, as_of, settings: FeatureSettings, churn: ChurnDefinition, n_buckets: int
) -> pd.DataFrame:
    """:func:`build_feature_table` bucket by bucket, with global statistics computed once: the same table.

    Buckets are runs of sorted ids, so each bucket's rows are the next block of the final table: its float
    columns are written straight into it (no concatenation, which would hold a second copy of the whole
    table); the few text columns are joined at the end.
    """
    as_of = as_timestamp(as_of)
    tables = prepare_tables(tables)
    stats = compute_global_stats(tables, as_of, settings)
    n_rows = len(active_customers(tables.transactions, as_of, churn.active_window_days))
    columns: list[str] = []
    at = 0
    for bucket in split_by_bucket(tables, n_buckets):
        part = build_feature_table(bucket, as_of, settings, churn, global_stats=stats)
        if not columns:
            columns = list(part.columns)
            numeric_names = [name for name in columns if part[name].dtype == np.float64]
            numeric = np.empty((len(numeric_names), n_rows))
            others = {name: [] for name in columns if name not in numeric_names}
        rows = slice(at, at + len(part))
        at += len(part)
        for i, name in enumerate(numeric_names):
            numeric[i, rows] = part[name].to_numpy()
        for name, pieces in others.items():
            pieces.append(part[name])
    # The float columns become one block without a copy (the table is the largest thing built here).
    table = pd.DataFrame(numeric.T, columns=numeric_names, copy=False)
    for position, name in enumerate(columns):
        if name in others:
            table.insert(position, name, pd.concat(others.pop(name), ignore_index=True).array)
    return table
