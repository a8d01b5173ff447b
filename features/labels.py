"""The churn label: no purchase in the horizon after as_of (the only code reading events from as_of on)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.cutoff import window_rows
from features.tables import as_timestamp


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
