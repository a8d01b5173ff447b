"""Engagement: visits (store, web, app, calls) by window and channel, browsing without buying, selection time.

Only purchases before as_of are seen: a visit in the last few days may still be followed by a purchase
tomorrow, but tomorrow is not known at as_of.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.aggregate import (
    customer_key,
    customer_series,
    label_counts,
    per_customer,
    reduce_by_customer,
    seconds_since,
    shared_customer_key,
    with_customer_codes,
)
from features.cutoff import window_rows
from features.kernels import trend_ratio
from features.memo import per_frame
from features.settings import OTHER_LABEL
from features.tables import as_timestamp

SECONDS_PER_DAY = 86_400
_TIME_BITS = 34  # seconds within a window (< 544 years) sit below the customer code in one int64 sort key


def visit_count(visits: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Visits in the last ``window_days``."""
    recent = window_rows(visits, "timestamp", end=as_of, days=window_days)
    return per_customer(recent["customer_id"], how="count", name=f"visit_count_{window_days}d")


def visit_count_by_channel(
    visits: pd.DataFrame, *, as_of, window_days: int, channel: str, channels: tuple[str, ...]
) -> pd.Series:
    """Visits through one channel in the last ``window_days``: one of ``channels`` (those counted apart) or
    "other" (every other value, and NA)."""
    labels = (*channels, OTHER_LABEL)
    key, counts = label_counts(visits, "timestamp", as_of, window_days, "channel", labels)
    of_channel = counts[:, labels.index(channel)]
    return customer_series(key, of_channel, of_channel > 0, name=f"visits_{channel}_{window_days}d")


def visit_trend(visits: pd.DataFrame, *, as_of, window_days: int, cap: float) -> pd.Series:
    """Visits in the last ``window_days`` divided by those in the window before it (1.0 = flat, capped)."""
    visits = with_customer_codes(visits)  # so both windows' keys share one code space
    previous_end = as_timestamp(as_of) - pd.Timedelta(days=window_days)
    recent, previous = (
        reduce_by_customer(customer_key(window["customer_id"]), how="count")[0]
        for window in (
            window_rows(visits, "timestamp", end=as_of, days=window_days),
            window_rows(visits, "timestamp", end=previous_end, days=window_days),
        )
    )
    key = customer_key(visits["customer_id"])
    return customer_series(
        key, trend_ratio(recent, previous, cap), recent + previous > 0, name=f"visit_trend_{window_days}d"
    )


def visit_count_previous(visits: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Visits in the ``window_days`` before the last ``window_days`` (the base of the visit trend)."""
    previous_end = as_timestamp(as_of) - pd.Timedelta(days=window_days)
    previous = window_rows(visits, "timestamp", end=previous_end, days=window_days)
    return per_customer(previous["customer_id"], how="count", name=f"visit_count_previous_{window_days}d")


@per_frame
def _days_to_next_purchase(visits: pd.DataFrame, transactions: pd.DataFrame, as_of, window_days: int):
    """For each visit of the last ``window_days``: days to the next purchase at or after it (or inf).

    Returns the key of the visits (codes in visit order after sorting) and the delays. Visits and purchases
    are sorted on one int64 key (customer code, seconds since the window start), so the next purchase of every
    visit is one ``searchsorted`` away.
    """
    start = as_timestamp(as_of) - pd.Timedelta(days=window_days)
    visits = window_rows(visits, "timestamp", end=as_of, days=window_days)
    transactions = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    bought = transactions["amount"].to_numpy() > 0
    by_visit, by_transaction = shared_customer_key(visits["customer_id"], transactions["customer_id"])
    visit_keys = np.sort(
        (by_visit.codes.astype("int64") << _TIME_BITS) | seconds_since(visits["timestamp"], start)
    )
    purchase_keys = np.sort(
        (by_transaction.codes[bought].astype("int64") << _TIME_BITS)
        | seconds_since(transactions["timestamp"], start)[bought]
    )
    visit_codes = visit_keys >> _TIME_BITS
    delays = np.full(len(visit_keys), np.inf)
    if len(purchase_keys):
        nxt = np.searchsorted(purchase_keys, visit_keys, side="left")
        candidate = purchase_keys[np.minimum(nxt, len(purchase_keys) - 1)]
        found = (nxt < len(purchase_keys)) & (candidate >> _TIME_BITS == visit_codes)
        seconds = (candidate & ((1 << _TIME_BITS) - 1)) - (visit_keys & ((1 << _TIME_BITS) - 1))
        delays[found] = seconds[found] / SECONDS_PER_DAY
    return by_visit._replace(codes=visit_codes), delays


def browse_without_purchase_share(
    visits: pd.DataFrame, transactions: pd.DataFrame, *, as_of, window_days: int, browse_window_days: int
) -> pd.Series:
    """Share of visits in the last ``window_days`` not followed by a purchase within ``browse_window_days``.

    The browse window is half-open: a purchase exactly ``browse_window_days`` after the visit does not count.
    """
    key, delays = _days_to_next_purchase(visits, transactions, as_of, window_days)
    n_visits, _ = reduce_by_customer(key, how="count")
    unanswered, _ = reduce_by_customer(key, how="count", where=delays >= browse_window_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = unanswered / n_visits
    return customer_series(key, share, n_visits > 0, name=f"browse_without_purchase_share_{window_days}d")


def selection_days_mean(
    visits: pd.DataFrame, transactions: pd.DataFrame, *, as_of, window_days: int, max_days: int
) -> pd.Series:
    """Mean days from a visit to the next purchase, over visits of the last ``window_days`` followed by one
    within ``max_days``."""
    key, delays = _days_to_next_purchase(visits, transactions, as_of, window_days)
    return per_customer(key, delays, how="mean", where=delays < max_days, name="selection_days_mean")
