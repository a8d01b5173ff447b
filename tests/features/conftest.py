"""A tiny world of seven customers at T = 2024-04-01, with small windows so every feature is hand-computable.

Times are written as ``ago(d)`` = d days before T (midnight unless hours are given): with midnight events, an
event d days before T is inside a w-day window exactly when 1 <= d <= w (d = w is the window's first instant).

A  steady food buyer on promotion, one return, exposed to the food price rise; buys again exactly at T.
B  declining tools buyer: three complaints (one resolved, one open, one resolved only after T), browses
   without buying, account manager M2 left 21 days ago; no signup date; churns.
C  new customer (signup 10 days ago) with a wallet estimate, no list prices/promo/category; buys at T + 13.
D  lapsed: last purchase exactly 28 days ago (first instant of the active window); complaints outside and on
   the window boundary; no segment; next purchase exactly at T + 14 (outside the label window).
E  not active: last purchase 29 days ago, plus a return 5 days ago (returns do not make a customer active).
F  not active: a purchase 40 days ago and one exactly at T (future).
G  bought once, one hour before T, in the garden category (at a higher unit list price than D paid: not a
   price rise, since only a customer's own purchases are compared); manager M3 leaves exactly at T (not known
   yet); a complaint exactly at T (future).
"""

from __future__ import annotations

import pandas as pd
import pytest

from features import (
    ChurnDefinition,
    FeatureSettings,
    LifecycleThresholds,
    build_feature_table,
    compute_global_stats,
    make_tables,
    prepare_tables,
    split_by_bucket,
)

T = pd.Timestamp("2024-04-01")

SETTINGS = FeatureSettings(
    windows_days=(7, 28),
    trend_window_days=14,
    trend_cap=10.0,
    interval_window_days=60,
    returns_window_days=28,
    price_windows_days=(28,),
    price_period_days=7,
    price_history_days=28,
    price_rise_lookback_days=14,
    price_rise_min_share=0.05,
    price_min_observations=1,
    peer_group_column="segment",
    wallet_quantile=0.5,
    wallet_window_days=28,
    wallet_min_peer_group_size=2,
    peak_window_days=7,
    peak_lookback_days=28,
    complaint_history_days=28,
    visit_channel_window_days=28,
    browse_lookback_days=28,
    browse_window_days=3,
    selection_max_days=10,
    manager_departure_cap_days=60,
    lifecycle=LifecycleThresholds(
        acquisition_days=30,
        growth_trend=1.25,
        decline_trend=0.75,
        decline_overdue_ratio=1.5,
        churned_overdue_ratio=3.0,
        churned_min_days=20,
    ),
)
CHURN = ChurnDefinition(active_window_days=28, horizon_days=14)
NA = None


def ago(days: float, hours: float = 0) -> pd.Timestamp:
    return T - pd.Timedelta(days=days) + pd.Timedelta(hours=hours)


def world_frames() -> dict[str, pd.DataFrame]:
    tx = [  # customer, time, amount, list_amount, quantity, promo, category
        ("A", ago(35), 100.0, 100.0, 10.0, False, "food"),
        ("A", ago(28), 100.0, 100.0, 10.0, False, "food"),
        ("A", ago(21), 80.0, 100.0, 10.0, True, "food"),
        ("A", ago(14), 110.0, 110.0, 10.0, False, "food"),  # unit list price 10 -> 11
        ("A", ago(7), 88.0, 110.0, 10.0, True, "food"),
        ("A", ago(5), -20.0, NA, NA, NA, "food"),  # a return
        ("A", T, 500.0, 500.0, 10.0, False, "food"),  # exactly at T: future
        ("B", ago(50), 200.0, 200.0, 10.0, False, "tools"),
        ("B", ago(26), 200.0, 200.0, 10.0, False, "tools"),
        ("B", ago(20), 100.0, 100.0, 5.0, False, "tools"),
        ("B", ago(15), 50.0, 50.0, 2.5, False, "tools"),
        ("C", ago(9), 300.0, NA, NA, NA, NA),
        ("C", ago(2), 200.0, NA, NA, NA, NA),
        ("C", ago(-13), 10.0, NA, NA, NA, NA),  # T + 13: inside the label window
        ("D", ago(36), 40.0, 50.0, 2.0, True, "garden"),
        ("D", ago(28), 40.0, 50.0, 2.0, True, "garden"),
        ("D", ago(-14), 40.0, 50.0, 2.0, True, "garden"),  # exactly T + 14: outside the label window
        ("E", ago(29), 70.0, NA, NA, NA, NA),
        ("E", ago(5), -10.0, NA, NA, NA, NA),
        ("F", ago(40), 50.0, NA, NA, NA, NA),
        ("F", T, 60.0, NA, NA, NA, NA),
        ("G", ago(0, hours=-1), 30.0, 40.0, 1.0, True, "garden"),  # T - 1 hour, on the calendar day before T
    ]
    transactions = pd.DataFrame(
        tx, columns=["customer_id", "timestamp", "amount", "list_amount", "quantity", "promo", "category"]
    ).astype({"promo": "boolean"})
    customers = pd.DataFrame(
        [  # customer, signup, segment, manager, wallet_estimate
            ("A", ago(100), "retail", "M1", NA),
            ("B", NA, "retail", "M2", NA),
            ("C", ago(10), "wholesale", NA, 1000.0),
            ("D", ago(400), NA, NA, NA),
            ("E", ago(300), "retail", NA, NA),
            ("F", ago(300), "retail", NA, NA),
            ("G", NA, "wholesale", "M3", NA),
        ],
        columns=["customer_id", "signup_date", "segment", "account_manager_id", "wallet_estimate"],
    )
    complaints = pd.DataFrame(
        [  # customer, opened, resolved, category, severity, satisfaction
            ("B", ago(25, hours=12), ago(20, hours=12), "service", 3, 2),
            ("B", ago(10), NA, "delivery", 2, NA),
            ("B", ago(3), T + pd.Timedelta(days=2), "price", 4, 1),  # resolved and rated after T
            ("D", ago(40), ago(39), "weird", 1, 4),  # outside the 28-day history
            ("D", ago(28), ago(27), NA, 1, 3),  # first instant of the history window
            ("G", T, NA, "billing", 5, NA),  # opened exactly at T: future
        ],
        columns=["customer_id", "opened_at", "resolved_at", "category", "severity", "satisfaction"],
    ).astype({"severity": "Int64", "satisfaction": "Int64"})
    visits = pd.DataFrame(
        [
            ("B", ago(16, hours=12), "store"),
            ("B", ago(6), "web"),
            ("B", ago(2), "web"),
            ("B", T, "app"),  # exactly at T: future
            ("C", ago(4), "app"),
            ("C", ago(9), "call"),  # same instant as C's purchase
            ("G", ago(1), "web"),
        ],
        columns=["customer_id", "timestamp", "channel"],
    )
    account_managers = pd.DataFrame(
        [("M1", NA), ("M2", ago(21)), ("M3", T)], columns=["account_manager_id", "departed_at"]
    )
    return {
        "transactions": transactions,
        "customers": customers,
        "complaints": complaints,
        "visits": visits,
        "account_managers": account_managers,
    }


@pytest.fixture
def world():
    return prepare_tables(make_tables(world_frames()))


def bucketed_feature_table(tables, as_of, n_buckets: int) -> pd.DataFrame:
    """The feature table as the engines build it: statistics once over everyone, then bucket by bucket."""
    stats = compute_global_stats(tables, as_of, SETTINGS)
    parts = [build_feature_table(bucket, as_of, SETTINGS, CHURN, global_stats=stats)
             for bucket in split_by_bucket(tables, n_buckets)]
    return pd.concat(parts, ignore_index=True).sort_values("customer_id", kind="stable", ignore_index=True)


def table(name: str, **columns) -> pd.DataFrame:
    """One conformed contract table from a few columns (the rest NA), for builder-level tests."""
    frames = {"transactions": pd.DataFrame({"customer_id": [], "timestamp": [], "amount": []})}
    frames[name] = pd.DataFrame(columns)
    return getattr(make_tables(frames), name)
