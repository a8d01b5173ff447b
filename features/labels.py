"""The churn label: no purchase in the horizon after as_of (the only code reading events from as_of on), and the
spans over which outcomes are observed."""

from __future__ import annotations

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
