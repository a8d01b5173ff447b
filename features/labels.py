"""The churn label: no purchase in the horizon after as_of (the only code reading events from as_of on), and the
spans over which outcomes are observed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.cutoff import window_rows
from features.tables import EVENT_TIME_COLUMN, PreparedTables, as_timestamp


def churn_labels(transactions: pd.DataFrame, population, as_of, horizon_days: int) -> pd.Series:
    """True for each customer of ``population`` with no purchase (amount > 0) in ``[as_of, as_of + horizon)``.

    A purchase exactly at as_of counts (it is in the label window); one exactly at as_of + horizon does not.
    """
    end = as_timestamp(as_of) + pd.Timedelta(days=horizon_days)
    future = window_rows(transactions, "timestamp", end=end, days=horizon_days)
    buyers = future["customer_id"][(future["amount"] > 0).to_numpy(dtype=bool)]
    customers = pd.Index(pd.Index(population).astype("str"), name="customer_id")
    # Arrow's is_in: pandas' isin on Arrow strings turns every value into a Python object first (~0.2 s here).
    bought = pc.is_in(_arrow(customers), value_set=_arrow(buyers.astype("str").unique()).combine_chunks())
    return pd.Series(~bought.to_numpy(zero_copy_only=False), index=customers, name="churned")


def _arrow(values) -> pa.ChunkedArray:
    return pa.chunked_array(pa.array(pd.array(values, dtype="str")))


def data_end(tables: PreparedTables) -> pd.Timestamp:
    """The day after the last event in any event table: outcomes are observed up to (not including) it."""
    last = max(
        getattr(tables, name)[column].max()
        for name, column in EVENT_TIME_COLUMN.items()
        if len(getattr(tables, name))
    )
    return last.normalize() + pd.Timedelta(days=1)


def purchase_history(tables: PreparedTables) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Midnight of the first transaction's day and the day after the last one's: the span over which purchases,
    and so churn labels, are observed (None without transactions)."""
    timestamps = tables.transactions["timestamp"]
    if not len(timestamps):
        return None
    return timestamps.min().normalize(), timestamps.max().normalize() + pd.Timedelta(days=1)


# A whole year without a single purchase in the data is a break in the record (a stray or placeholder date such as
# 1970-01-01 before it), not a quiet season: the purchase history starts after the last such gap.
HISTORY_BREAK_DAYS = 365


def purchase_days(tables: PreparedTables) -> np.ndarray:
    """The distinct days (whole days since 1970-01-01, sorted) with a transaction."""
    stamps = tables.transactions["timestamp"].to_numpy(dtype="datetime64[ns]")
    return np.unique(stamps.astype("datetime64[D]").astype(np.int64))


def history_start(days: np.ndarray, break_days: int = HISTORY_BREAK_DAYS) -> pd.Timestamp:
    """Midnight of the first purchase day after the last gap of ``break_days`` or more without any purchase
    (``days``: :func:`purchase_days`, not empty)."""
    after_gap = np.flatnonzero(np.diff(days) > break_days)
    first = days[after_gap[-1] + 1] if len(after_gap) else days[0]
    return pd.Timestamp(int(first), unit="D")
