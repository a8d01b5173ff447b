"""The one place where time is cut: what is known strictly before ``as_of``, half-open windows, who is active.

Every window in this package is half-open, ``[end - days, end)``: an event exactly at ``end`` belongs to the
future, one exactly at ``end - days`` is inside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.tables import Tables, as_timestamp

NS_PER_DAY = 86_400 * 10**9


def window_mask(times: pd.Series, *, end: pd.Timestamp, days: float) -> np.ndarray:
    """Boolean array: ``times`` in ``[end - days, end)``; NaT is outside every window."""
    stamps = times.to_numpy(dtype="datetime64[ns]")
    end64 = as_timestamp(end).to_datetime64()
    return (stamps >= end64 - np.timedelta64(int(days * NS_PER_DAY), "ns")) & (stamps < end64)


def events_before(tables: Tables, as_of) -> Tables:
    """The tables as they were known just before ``as_of``: no event, resolution or departure at or after it.

    Transactions and visits keep rows with timestamp < as_of; complaints keep rows opened before as_of, and a
    resolution at or after as_of is not known yet, so resolved_at becomes NA; satisfaction (the rating of the
    resolution) is kept only for complaints resolved before as_of, since the rating of an open complaint has
    no known date; a manager departure at or after as_of becomes NA; customers who sign up at or after as_of
    are dropped.
    """
    as_of = as_timestamp(as_of)
    complaints = tables.complaints[tables.complaints["opened_at"] < as_of]
    unresolved_yet = (complaints["resolved_at"] >= as_of).to_numpy(dtype=bool, na_value=False)
    unrated_yet = ~(complaints["resolved_at"] < as_of).to_numpy(dtype=bool, na_value=False)
    managers = tables.account_managers
    return Tables(
        transactions=tables.transactions[tables.transactions["timestamp"] < as_of],
        customers=customers_before(tables.customers, as_of),
        complaints=complaints.assign(
            resolved_at=complaints["resolved_at"].mask(unresolved_yet),
            satisfaction=complaints["satisfaction"].mask(unrated_yet),
        ),
        visits=tables.visits[tables.visits["timestamp"] < as_of],
        account_managers=managers.assign(
            departed_at=managers["departed_at"].mask(managers["departed_at"] >= as_of)
        ),
    )


def customers_before(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """Customers who had signed up before ``as_of`` (no signup date: kept)."""
    return customers[~(customers["signup_date"] >= as_timestamp(as_of)).to_numpy(dtype=bool, na_value=False)]


def active_customers(transactions: pd.DataFrame, as_of, active_window_days: int) -> pd.Index:
    """Sorted ids of customers with a purchase (amount > 0) in ``[as_of - active_window_days, as_of)``.

    The index has the dtype of ``transactions.customer_id`` (str, or categorical sorted by code).
    """
    recent = window_mask(transactions["timestamp"], end=as_timestamp(as_of), days=active_window_days)
    buyers = transactions["customer_id"][recent & (transactions["amount"] > 0).to_numpy()]
    return pd.Index(buyers.unique(), name="customer_id").sort_values()
