"""Training snapshots: the feature table at several past cutoffs, each row with its churn label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import (
    ChurnDefinition,
    FeatureSettings,
    PreparedTables,
    active_customers,
    as_timestamp,
    build_feature_table,
    churn_labels,
)
from features.aggregate import CUSTOMER_ID, EVENT_TABLES

SAMPLE_SALT = "|training-sample"  # keeps the sample independent of the customer buckets (same hash, other input)


def snapshot_cutoffs(
    last_event_date,
    horizon_days: int,
    step_days: int,
    n_cutoffs: int,
    *,
    history_start=None,
    min_history_days: int = 0,
) -> list[pd.Timestamp]:
    """At most ``n_cutoffs`` midnight cutoffs, oldest first, ``step_days`` apart, whose labels are fully observed.

    The latest cutoff T is the last one whose label window [T, T + horizon_days) ends on or before the day
    after the last event. With ``history_start`` (midnight of the first day of history) only cutoffs with at
    least ``min_history_days`` of history before them are kept: none when the history is too short.
    """
    latest = as_timestamp(last_event_date).normalize() + pd.Timedelta(days=1 - horizon_days)
    grid = [latest - pd.Timedelta(days=step_days * k) for k in reversed(range(n_cutoffs))]
    if history_start is None:
        return grid
    earliest = as_timestamp(history_start).normalize() + pd.Timedelta(days=min_history_days)
    return [cutoff for cutoff in grid if cutoff >= earliest]


def training_snapshots(
    tables: PreparedTables, cutoffs, settings: FeatureSettings, churn: ChurnDefinition
) -> pd.DataFrame:
    """Rows (customer_id, as_of, features..., churned) for every customer active at each cutoff, stacked."""
    if len(cutoffs) == 0:
        raise ValueError("no cutoffs given: training snapshots need at least one as-of date")
    snapshots = []
    for cutoff in map(as_timestamp, cutoffs):
        snapshot = build_feature_table(tables, cutoff, settings, churn)
        labels = churn_labels(tables.transactions, snapshot["customer_id"], cutoff, churn.horizon_days)
        snapshot.insert(1, "as_of", pd.Series(cutoff, index=snapshot.index, dtype="datetime64[ns]"))
        snapshot["churned"] = labels.to_numpy()
        snapshots.append(snapshot)
    return pd.concat(snapshots, ignore_index=True)


def active_counts(tables: PreparedTables, cutoffs, active_window_days: int) -> np.ndarray:
    """How many customers are active at each cutoff: the rows their snapshots would have."""
    return np.array(
        [len(active_customers(tables.transactions, as_timestamp(c), active_window_days)) for c in cutoffs],
        dtype=np.int64,
    )


def customer_share_within(rows: int, share: float, max_rows: int | None) -> float:
    """The share of customers whose snapshots are kept: ``share``, lowered where ``rows`` (the snapshot rows of
    every customer) x ``share`` would exceed ``max_rows`` (None: no cap)."""
    if max_rows is None or rows * share <= max_rows:
        return share
    return max_rows / rows


def in_training_sample(customer_ids, share: float) -> np.ndarray:
    """Whether each customer is in the training sample: a stable hash of the id below ``share`` of its range.

    The same customers on every run, machine and bucketing, so the sample of a bucket is the bucket's part of
    the sample of the whole.
    """
    ids = pd.Series(np.asarray(customer_ids, dtype=object)).astype("str") + SAMPLE_SALT
    draw = pd.util.hash_pandas_object(ids, index=False).to_numpy() / np.float64(2**64)
    return draw < share


def sample_customers(tables: PreparedTables, share: float) -> PreparedTables:
    """Every table's rows of the customers in the training sample (account_managers whole); all when share is 1."""
    if share >= 1:
        return tables
    parts = {}
    for name in EVENT_TABLES:
        frame = getattr(tables, name)
        ids = frame[CUSTOMER_ID]
        if isinstance(ids.dtype, pd.CategoricalDtype):  # hash each id once, not once per event
            codes = ids.cat.codes.to_numpy()
            keep = np.append(in_training_sample(ids.cat.categories, share), False)[codes]
        else:
            keep = in_training_sample(ids, share)
        parts[name] = frame[keep]
    return tables.replace(**parts)
