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
from features.settings import ChurnDefinition, FeatureSettings
from features.tables import Tables, as_timestamp


def customer_bucket(customer_ids, n_buckets: int) -> np.ndarray:
    """Bucket number (0..n_buckets-1) of each id: pandas' SipHash of the UTF-8 id with its fixed default key.

    The same on every run and machine, so buckets can be stored (e.g. as Parquet partitions) and reused.
    """
    ids = pd.Series(np.asarray(customer_ids, dtype=object))
    return (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(n_buckets)).astype("int64")


def split_by_bucket(tables: Tables, n_buckets: int) -> Iterator[Tables]:
    """Per bucket, the rows of every table that belong to its customers (account_managers whole).

    The tables come back prepared (:func:`features.aggregate.prepare_tables`), with customer_id a categorical
    whose categories are just the bucket's ids (sorted), so per-bucket work is sized by the bucket.
    """
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be >= 1, got {n_buckets}")
    tables = prepare_tables(tables)
    ids = tables.customers[CUSTOMER_ID].cat.categories
    bucket_of_id = customer_bucket(ids, n_buckets)
    codes = {name: getattr(tables, name)[CUSTOMER_ID].cat.codes.to_numpy() for name in EVENT_TABLES}
    # One stable sort of each table's rows by bucket (a radix sort on 16-bit keys) instead of a pass per bucket;
    # stable, so each bucket keeps the rows' order (and the event tables their time order).
    key_type = np.uint16 if n_buckets <= np.iinfo(np.uint16).max else np.int64
    rows_by_bucket, bounds = {}, {}
    for name in EVENT_TABLES:
        row_bucket = bucket_of_id[codes[name]].astype(key_type)
        order = np.argsort(row_bucket, kind="stable")
        rows_by_bucket[name] = order.astype(np.int32) if len(order) < np.iinfo(np.int32).max else order
        bounds[name] = np.searchsorted(row_bucket[order], np.arange(n_buckets + 1), side="left")
    for bucket in range(n_buckets):
        members = np.flatnonzero(bucket_of_id == bucket)
        new_code = np.full(len(ids), -1)
        new_code[members] = np.arange(len(members))
        dtype = pd.CategoricalDtype(ids.take(members))
        parts = {}
        for name in EVENT_TABLES:
            rows = rows_by_bucket[name][bounds[name][bucket]: bounds[name][bucket + 1]]
            parts[name] = getattr(tables, name).take(rows).assign(
                **{CUSTOMER_ID: pd.Categorical.from_codes(new_code[codes[name][rows]], dtype=dtype)}
            )
        yield tables.replace(**parts)


def build_feature_table_bucketed(
    tables: Tables, as_of, settings: FeatureSettings, churn: ChurnDefinition, n_buckets: int
) -> pd.DataFrame:
    """:func:`build_feature_table` bucket by bucket, with global statistics computed once: the same table.

    Each bucket's rows are written straight into their place in the final table (no concatenation and sort,
    which would hold two more copies of the whole table).
    """
    as_of = as_timestamp(as_of)
    tables = prepare_tables(tables)
    stats = compute_global_stats(tables, as_of, settings)
    customer_ids = pd.Index(
        active_customers(tables.transactions, as_of, churn.active_window_days).astype("str")
    )
    columns: list[str] = []
    for bucket in split_by_bucket(tables, n_buckets):
        part = build_feature_table(bucket, as_of, settings, churn, global_stats=stats)
        if not columns:
            columns = list(part.columns)
            numeric_names = [name for name in columns if part[name].dtype == np.float64]
            numeric = np.empty((len(numeric_names), len(customer_ids)))
            others = {
                name: np.empty(len(customer_ids), dtype=part[name].to_numpy().dtype)
                for name in columns
                if name not in numeric_names
            }
        rows = customer_ids.get_indexer(part[CUSTOMER_ID])
        for i, name in enumerate(numeric_names):
            numeric[i, rows] = part[name].to_numpy()
        for name, column in others.items():
            column[rows] = part[name].to_numpy()
    # The float columns become one block without a copy (the table is the largest thing built here).
    table = pd.DataFrame(numeric.T, columns=numeric_names, copy=False)
    for position, name in enumerate(columns):
        if name in others:
            column = others[name]
            table.insert(position, name, pd.array(column, dtype="str") if column.dtype == object else column)
    return table
