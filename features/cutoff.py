"""The one place where time is cut: what is known strictly before ``as_of``, half-open windows, who is active.

Every window in this package is half-open, ``[end - days, end)``: an event exactly at ``end`` belongs to the
future, one exactly at ``end - days`` is inside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.memo import per_frame
from features.tables import CONTACT_TIME_COLUMN, PreparedTables, as_timestamp

NS_PER_DAY = 86_400 * 10**9
# A prepared event table (features.aggregate.prepare_tables) is sorted by its event time and indexed by it under
# this name, so a time window is one binary search and a slice instead of a pass over every row.
SORTED_INDEX_PREFIX = "sorted by "


def sort_by_time(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` in (stable) order of ``column``, indexed by it, so :func:`window_rows` can slice it."""
    times = frame[column]
    if not times.is_monotonic_increasing:
        frame = frame.take(np.argsort(times.to_numpy(dtype="datetime64[ns]"), kind="stable"))
    return frame.set_index(pd.DatetimeIndex(frame[column], name=SORTED_INDEX_PREFIX + column), drop=False)


def _is_sorted_by(frame: pd.DataFrame, column: str) -> bool:
    # pandas caches (and carries into slices) the monotonic flag of an index, so this check costs nothing; an
    # index holding NaT is never monotonic.
    index = frame.index
    return index.name == SORTED_INDEX_PREFIX + column and index.is_monotonic_increasing


def window_positions(frame: pd.DataFrame, column: str, *, end, days: float | None = None) -> slice | np.ndarray:
    """Where the rows of ``frame`` with ``column`` in ``[end - days, end)`` are (``days`` None: all before ``end``):
    a slice when the frame is sorted by time (:func:`sort_by_time`), else a boolean mask."""
    end = as_timestamp(end)
    if _is_sorted_by(frame, column):
        index = frame.index
        hi = index.searchsorted(end, side="left")
        lo = 0 if days is None else index.searchsorted(end - pd.Timedelta(int(days * NS_PER_DAY)), side="left")
        return slice(int(lo), int(hi))
    if days is None:
        return (frame[column] < end).to_numpy(dtype=bool, na_value=False)
    return window_mask(frame[column], end=end, days=days)


def window_rows(frame: pd.DataFrame, column: str, *, end, days: float | None = None) -> pd.DataFrame:
    """The rows of ``frame`` with ``column`` in ``[end - days, end)`` (see :func:`window_positions`)."""
    if _is_sorted_by(frame, column):
        return _time_slice(frame, column, as_timestamp(end), days)
    return frame[window_positions(frame, column, end=end, days=days)]


@per_frame
def _time_slice(frame: pd.DataFrame, column: str, end: pd.Timestamp, days: float | None) -> pd.DataFrame:
    """A window of a time-sorted frame: a slice, made once for all the builders that ask for it."""
    return frame.iloc[window_positions(frame, column, end=end, days=days)]


def window_mask(times: pd.Series, *, end: pd.Timestamp, days: float) -> np.ndarray:
    """Boolean array: ``times`` in ``[end - days, end)``; NaT is outside every window."""
    stamps = times.to_numpy(dtype="datetime64[ns]")
    end64 = as_timestamp(end).to_datetime64()
    return (stamps >= end64 - np.timedelta64(int(days * NS_PER_DAY), "ns")) & (stamps < end64)


def events_before(tables: PreparedTables, as_of) -> PreparedTables:
    """The tables as they were known just before ``as_of``: no event, resolution or departure at or after it.

    Transactions and visits keep rows with timestamp < as_of; complaints keep rows opened before as_of, and a
    resolution at or after as_of is not known yet, so resolved_at becomes NA; satisfaction (the rating of the
    resolution) is kept only for complaints resolved before as_of, since the rating of an open complaint has
    no known date; a manager departure at or after as_of becomes NA; customers who sign up at or after as_of
    are dropped; contacts keep rows contacted before as_of.
    """
    as_of = as_timestamp(as_of)
    complaints = window_rows(tables.complaints, "opened_at", end=as_of)
    unresolved_yet = (complaints["resolved_at"] >= as_of).to_numpy(dtype=bool, na_value=False)
    unrated_yet = ~(complaints["resolved_at"] < as_of).to_numpy(dtype=bool, na_value=False)
    if unresolved_yet.any() or (unrated_yet & complaints["satisfaction"].notna().to_numpy()).any():
        complaints = complaints.assign(
            resolved_at=complaints["resolved_at"].mask(unresolved_yet),
            satisfaction=complaints["satisfaction"].mask(unrated_yet),
        )
    managers = tables.account_managers
    departed_yet = (managers["departed_at"] >= as_of).to_numpy(dtype=bool, na_value=False)
    if departed_yet.any():
        managers = managers.assign(departed_at=managers["departed_at"].mask(departed_yet))
    # Tables cut before (as customer buckets are) come back as they are: nothing above needed changing.
    return tables.replace(
        transactions=window_rows(tables.transactions, "timestamp", end=as_of),
        customers=customers_before(tables.customers, as_of),
        complaints=complaints,
        visits=window_rows(tables.visits, "timestamp", end=as_of),
        account_managers=managers,
        contacts=window_rows(tables.contacts, CONTACT_TIME_COLUMN, end=as_of),
    )


def last_contacts(contacts: pd.DataFrame, as_of, days: int) -> pd.Series:
    """Each customer's last contact in ``[as_of - days, as_of)`` (customer_id -> contacted_at)."""
    recent = window_rows(contacts, CONTACT_TIME_COLUMN, end=as_of, days=days)
    return recent.groupby(recent["customer_id"].astype("str"), sort=True)[CONTACT_TIME_COLUMN].max()


def customers_before(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """Customers who had signed up before ``as_of`` (no signup date: kept; all of them: the frame itself)."""
    signed_up = ~(customers["signup_date"] >= as_timestamp(as_of)).to_numpy(dtype=bool, na_value=False)
    return customers if signed_up.all() else customers[signed_up]


def active_customers(transactions: pd.DataFrame, as_of, active_window_days: int) -> pd.Index:
    """Sorted ids of customers with a purchase (amount > 0) in ``[as_of - active_window_days, as_of)``.

    The index has the dtype of ``transactions.customer_id`` (str, or categorical sorted by code).
    """
    recent = window_rows(transactions, "timestamp", end=as_of, days=active_window_days)
    buyers = recent["customer_id"][(recent["amount"] > 0).to_numpy()]
    if isinstance(buyers.dtype, pd.CategoricalDtype):  # distinct codes in code order: a flag per id, no sort
        bought = np.zeros(len(buyers.dtype.categories), dtype=bool)
        codes = buyers.array.codes
        bought[codes[codes >= 0]] = True
        codes = np.flatnonzero(bought)
        return pd.CategoricalIndex(pd.Categorical.from_codes(codes, dtype=buyers.dtype), name="customer_id")
    return pd.Index(buyers.unique(), name="customer_id").sort_values()
