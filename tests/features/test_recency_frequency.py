"""Recency, frequency and monetary builders on small str-keyed frames (the assembler passes categoricals)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import recency_frequency as rf
from tests.features.conftest import table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)


def tx(rows):
    customer, days_back, amount = zip(*rows)
    return table(
        "transactions",
        customer_id=list(customer),
        timestamp=[T - d * DAY for d in days_back],
        amount=list(amount),
    )


def test_counts_purchases_and_nets_returns_in_the_window():
    t = tx([("a", 10, 50.0), ("a", 10, 30.0), ("a", 3, -20.0), ("a", 11, 99.0), ("b", 11, 5.0)])
    # window [T-10, T): a's two purchases at T-10 and the return; the T-11 rows are outside; b absent.
    assert rf.purchase_count(t, as_of=T, window_days=10).to_dict() == {"a": 2.0}
    assert rf.spend(t, as_of=T, window_days=10).to_dict() == {"a": 60.0}
    assert rf.spend(t, as_of=T, window_days=10).name == "spend_10d"


def test_days_since_last_purchase_ignores_returns_and_counts_calendar_days():
    t = tx([("a", 9.5, 10.0), ("a", 2, -10.0), ("b", 0.25, 1.0)])
    # a's last purchase: 9.5 days back = midday of the 10th calendar day back; b: 6 hours before T = 1 day.
    assert rf.days_since_last_purchase(t, as_of=T).to_dict() == {"a": 10.0, "b": 1.0}


def test_gaps_are_between_distinct_purchase_days():
    # a buys twice on day 20 (midnight and 02:24) and once on days 14 and 2 -> gaps 6 and 12; b buys once ->
    # absent.
    t = tx([("a", 20, 1.0), ("a", 19.9, 1.0), ("a", 14, 1.0), ("a", 2, 1.0), ("a", 1, -5.0), ("b", 3, 1.0)])
    assert rf.purchase_gap_mean_days(t, as_of=T, window_days=30).to_dict() == {"a": 9.0}
    assert rf.purchase_gap_std_days(t, as_of=T, window_days=30).to_dict() == {"a": 3.0}
    # the window starts at T-14: day 20 drops out -> one gap of 12 -> std 0
    assert rf.purchase_gap_mean_days(t, as_of=T, window_days=14).to_dict() == {"a": 12.0}
    assert rf.purchase_gap_std_days(t, as_of=T, window_days=14).to_dict() == {"a": 0.0}


def test_overdue_ratio_divides_recency_by_the_usual_gap():
    ratio = rf.purchase_overdue_ratio(pd.Series([30.0, 5.0]), pd.Series([10.0, 20.0]))
    assert ratio.tolist() == [3.0, 0.25]
    assert ratio.name == "purchase_overdue_ratio"


def test_trends_are_capped_and_defined_when_the_previous_window_is_empty():
    t = tx(
        [
            ("flat", 5, 10.0),
            ("flat", 15, 10.0),  # 1 vs 1
            ("new", 5, 10.0),  # 1 vs 0 -> cap
            ("gone", 15, 10.0),  # 0 vs 1
            ("boom", 1, 10.0),
            ("boom", 2, 10.0),
            ("boom", 3, 10.0),
            ("boom", 4, 10.0),
            ("boom", 5, 10.0),
            ("boom", 6, 10.0),
            ("boom", 7, 10.0),
            ("boom", 8, 10.0),
            ("boom", 9, 10.0),
            ("boom", 9.5, 10.0),
            ("boom", 9.7, 10.0),
            ("boom", 12, 1.0),  # 11 vs 1 -> capped at 10
            ("returned", 5, -10.0),
            ("returned", 15, -3.0),  # net spend floored at 0: 0 vs 0 -> 1
            ("old", 25, 10.0),  # outside both windows -> absent
        ]
    )
    orders = rf.orders_trend(t, as_of=T, window_days=10, cap=10.0)
    assert orders.to_dict() == {"boom": 10.0, "flat": 1.0, "gone": 0.0, "new": 10.0}
    spend = rf.spend_trend(t, as_of=T, window_days=10, cap=10.0)
    # boom: 110 / 1 -> capped at 10
    assert spend.to_dict() == {"boom": 10.0, "flat": 1.0, "gone": 0.0, "new": 10.0, "returned": 1.0}
    assert orders.name == "orders_trend_10d" and spend.name == "spend_trend_10d"


def test_returns_share_is_capped_at_one():
    t = tx([("a", 5, 100.0), ("a", 4, -25.0), ("b", 5, 10.0), ("b", 4, -30.0), ("c", 4, -5.0)])
    assert rf.returns_share(t, as_of=T, window_days=10).to_dict() == {"a": 0.25, "b": 1.0, "c": 1.0}


def test_tenure_from_signup_else_first_purchase():
    t = tx([("a", 50, 1.0), ("b", 40, 1.0), ("b", 60, -1.0), ("c", 5, -1.0)])
    customers = table(
        "customers", customer_id=["a", "b", "c", "d"], signup_date=[T - 100 * DAY, pd.NaT, pd.NaT, pd.NaT]
    )
    # a: signup 100 days back; b: first purchase 40 days back (a return is not a purchase); c, d: nothing.
    tenure = rf.tenure_days(customers, t, as_of=T)
    assert tenure.to_dict() == {"a": 100.0, "b": 40.0}
    assert tenure.dtype == np.float64
