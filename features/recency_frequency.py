"""Recency, frequency and monetary value: when the customer last bought, how often, how much, and the trend.

A purchase is a transaction with amount > 0; returns (amount < 0) count in net spend but are not purchases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.aggregate import (
    as_of_day,
    customer_key,
    customer_series,
    epoch_days,
    per_customer,
    reduce_by_customer,
    shared_customer_key,
    with_customer_codes,
)
from features.cutoff import window_rows
from features.kernels import distinct_day_gap_std, distinct_day_spans, selected_day_numbers, trend_ratio
from features.memo import per_frame
from features.tables import as_timestamp


def _purchases(transactions: pd.DataFrame) -> np.ndarray:
    return transactions["amount"].to_numpy() > 0


def days_since_last_purchase(transactions: pd.DataFrame, *, as_of) -> pd.Series:
    """Whole calendar days from the last purchase day to the as-of day."""
    key, _, last, n_days = _purchase_day_spans(transactions, as_of)
    return customer_series(key, as_of_day(as_of) - last, n_days > 0, name="days_since_last_purchase")


def purchase_count(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Number of purchases (transactions with amount > 0) in the last ``window_days``."""
    recent = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    return per_customer(
        recent["customer_id"], how="count", where=_purchases(recent), name=f"purchase_count_{window_days}d"
    )


def spend(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Net amount in the last ``window_days``, returns subtracted (currency units)."""
    recent = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    return per_customer(recent["customer_id"], recent["amount"].to_numpy(), how="sum", name=f"spend_{window_days}d")


@per_frame
def _purchase_days(transactions: pd.DataFrame, as_of, window_days: int) -> tuple:
    """The window's customer key, and the customer code and calendar day of each purchase in it (time order)."""
    recent = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    key = customer_key(recent["customer_id"])
    stamps = recent["timestamp"].to_numpy(dtype="datetime64[ns]").view("i8")
    return key, *selected_day_numbers(key.codes, stamps, _purchases(recent))


@per_frame
def _purchase_day_spans(transactions: pd.DataFrame, as_of) -> tuple:
    """The customer key of the transactions before as_of, and per customer slot the first and last purchase day
    and the number of purchase days (first and last 0 where none)."""
    key, codes, days = _purchase_days(transactions, as_of, None)
    return (key, *distinct_day_spans(codes, days, key.n))


def purchase_gap_mean_days(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Mean days between consecutive purchase days in the last ``window_days`` (needs two purchase days)."""
    key, codes, days = _purchase_days(transactions, as_of, window_days)
    first, last, n_days = distinct_day_spans(codes, days, key.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = (last - first) / (n_days - 1)
    return customer_series(key, mean_gap, n_days >= 2, name="purchase_gap_mean_days")


def purchase_gap_std_days(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Standard deviation (population) of the days between consecutive purchase days in ``window_days``.

    Needs two purchase days; one gap gives 0.
    """
    key, codes, days = _purchase_days(transactions, as_of, window_days)
    std, n_gaps = distinct_day_gap_std(codes, days, key.n)
    return customer_series(key, std, n_gaps >= 1, name="purchase_gap_std_days")


def purchase_overdue_ratio(
    days_since_last_purchase: pd.Series, purchase_gap_mean_days: pd.Series
) -> pd.Series:
    """Days since the last purchase over the usual gap between purchases (1.0 = due now, 2.0 = twice late)."""
    return (days_since_last_purchase / purchase_gap_mean_days).rename("purchase_overdue_ratio")


def tenure_days(customers: pd.DataFrame, transactions: pd.DataFrame, *, as_of) -> pd.Series:
    """Whole days from the start of the relationship to as_of: the signup date, else the first purchase."""
    by_customer, by_transaction = shared_customer_key(customers["customer_id"], transactions["customer_id"])
    _, first, _, n_days = _purchase_day_spans(transactions, as_of)
    if by_transaction.prepared_codes:  # the spans are in the tables' shared id space, as the customers' codes are
        first_purchase = first.astype("float64")
        first_purchase[n_days == 0] = np.nan
    else:
        first_purchase, _ = reduce_by_customer(
            by_transaction, epoch_days(transactions["timestamp"]), how="min", where=_purchases(transactions)
        )
    signup = np.full(by_customer.n, np.nan)
    signup[by_customer.codes] = epoch_days(customers["signup_date"])
    start = np.where(np.isnan(signup), first_purchase, signup)
    return customer_series(by_customer, as_of_day(as_of) - start, ~np.isnan(start), name="tenure_days")


def returns_share(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Amount returned as a share of gross purchase amount in the last ``window_days``, capped at 1.0.

    Returns without purchases in the window give 1.0.
    """
    recent = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    key = customer_key(recent["customer_id"])
    amount = recent["amount"].to_numpy()
    gross, n_purchases = reduce_by_customer(key, amount, how="sum", where=amount > 0)
    returned, n_returns = reduce_by_customer(key, -amount, how="sum", where=amount < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.minimum(returned / gross, 1.0)
    share[~(gross > 0)] = 1.0  # (a mask, not np.where: its scalar branch takes numpy's slow general path)
    return customer_series(key, share, n_purchases + n_returns > 0, name=f"returns_share_{window_days}d")


@per_frame
def _trend_windows(transactions: pd.DataFrame, as_of, window_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of the last ``window_days`` and of the window before it, with one customer code space."""
    transactions = with_customer_codes(transactions)
    previous_end = as_timestamp(as_of) - pd.Timedelta(days=window_days)
    return (
        window_rows(transactions, "timestamp", end=as_of, days=window_days),
        window_rows(transactions, "timestamp", end=previous_end, days=window_days),
    )


def orders_trend(transactions: pd.DataFrame, *, as_of, window_days: int, cap: float) -> pd.Series:
    """Purchases in the last ``window_days`` divided by those in the window before it (1.0 = flat, capped)."""
    (recent, _), (previous, _) = (
        reduce_by_customer(customer_key(rows["customer_id"]), how="count", where=_purchases(rows))
        for rows in _trend_windows(transactions, as_of, window_days)
    )
    key = customer_key(with_customer_codes(transactions)["customer_id"])
    return customer_series(
        key, trend_ratio(recent, previous, cap), recent + previous > 0, name=f"orders_trend_{window_days}d"
    )


def purchase_count_previous(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Purchases in the ``window_days`` before the last ``window_days`` (the base of the orders trend)."""
    _, previous = _trend_windows(transactions, as_of, window_days)
    return per_customer(
        previous["customer_id"], how="count", where=_purchases(previous),
        name=f"purchase_count_previous_{window_days}d",
    )


def spend_previous(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Net spend (floored at 0, as in the spend trend) in the ``window_days`` before the last ``window_days``."""
    _, previous = _trend_windows(transactions, as_of, window_days)
    key = customer_key(previous["customer_id"])
    total, n_rows = reduce_by_customer(key, previous["amount"].to_numpy(), how="sum")
    return customer_series(key, np.maximum(total, 0.0), n_rows > 0, name=f"spend_previous_{window_days}d")


def spend_trend(transactions: pd.DataFrame, *, as_of, window_days: int, cap: float) -> pd.Series:
    """Net spend (floored at 0) of the last ``window_days`` over the window before (1.0 = flat, capped)."""
    (recent, n_recent), (previous, n_previous) = (
        reduce_by_customer(customer_key(rows["customer_id"]), rows["amount"].to_numpy(), how="sum")
        for rows in _trend_windows(transactions, as_of, window_days)
    )
    key = customer_key(with_customer_codes(transactions)["customer_id"])
    trend = trend_ratio(np.maximum(recent, 0.0), np.maximum(previous, 0.0), cap)
    return customer_series(key, trend, n_recent + n_previous > 0, name=f"spend_trend_{window_days}d")
