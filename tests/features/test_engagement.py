"""Engagement builders: channels, browsing without buying (half-open browse window), selection time."""

from __future__ import annotations

import pandas as pd

from features import FeatureSettings
from features import engagement as en
from tests.features.conftest import table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)


def test_browse_window_is_half_open_and_counts_only_the_customers_own_later_purchases():
    visits = table(
        "visits",
        customer_id=["a", "a", "a", "b", "c"],
        timestamp=[T - 10 * DAY, T - 20 * DAY, T - 6 * DAY, T - 10 * DAY, T - 40 * DAY],
    )
    transactions = table(
        "transactions",
        customer_id=["a", "a", "a", "c", "c"],
        timestamp=[T - 7 * DAY, T - 17 * DAY - HOUR, T - 6 * DAY - HOUR, T - 8 * DAY, T - 39 * DAY],
        amount=[5.0, 5.0, 5.0, 5.0, 5.0],
    )
    # a: the T-10 visit is followed exactly 3 days later (T-7): outside [visit, visit + 3 days) -> not
    # followed; the T-20 visit by a purchase 2 days 23 hours later -> followed; the T-6 visit had a purchase
    # an hour *before* it and none after -> not followed. b never buys (c's purchase is not b's). c's visit is
    # 40 days back, outside the 30-day window.
    share = en.browse_without_purchase_share(
        visits, transactions, as_of=T, window_days=30, browse_window_days=3
    )
    assert share.to_dict() == {"a": 2 / 3, "b": 1.0}
    assert share.name == "browse_without_purchase_share_30d"
    # selection time over visits followed by a purchase within 10 days: a's T-10 (3 days) and T-20 (71 hours).
    selection = en.selection_days_mean(visits, transactions, as_of=T, window_days=30, max_days=10)
    assert selection.to_dict() == {"a": (3 + 71 / 24) / 2}


def test_returns_are_not_purchases_for_browsing():
    visits = table("visits", customer_id=["a"], timestamp=[T - 5 * DAY])
    transactions = table("transactions", customer_id=["a"], timestamp=[T - 4 * DAY], amount=[-5.0])
    share = en.browse_without_purchase_share(
        visits, transactions, as_of=T, window_days=30, browse_window_days=3
    )
    assert share.to_dict() == {"a": 1.0}


def test_channels_outside_the_fixed_list_count_as_other():
    visits = table(
        "visits",
        customer_id=["a"] * 5,
        timestamp=[T - DAY] * 5,
        channel=["web", "sales_visit", None, "store", "WEB"],
    )
    default = FeatureSettings().visit_channels
    counts = {
        ch: en.visit_count_by_channel(visits, as_of=T, window_days=7, channel=ch, channels=default).to_dict()
        for ch in (*default, "other")
    }
    assert counts == {"store": {"a": 1.0}, "web": {"a": 1.0}, "app": {}, "call": {}, "other": {"a": 3.0}}
    # listed, a business's own channel is counted apart (matching is exact: "WEB" is not "web")
    own = ("web", "sales_visit")
    assert en.visit_count_by_channel(visits, as_of=T, window_days=7, channel="sales_visit", channels=own).to_dict() \
        == {"a": 1.0}
    assert en.visit_count_by_channel(visits, as_of=T, window_days=7, channel="other", channels=own).to_dict() \
        == {"a": 3.0}  # store, NA and WEB
