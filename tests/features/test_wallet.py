"""Share of wallet: peer-group wallets (a global statistic), own share, spend against the own peak."""

from __future__ import annotations

import pandas as pd
import pytest

from features import wallet
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


SPEND = tx(
    [
        ("a", 1, 100.0),
        ("b", 1, 300.0),
        ("c", 1, 50.0),
        ("d", 1, 10.0),
        ("d", 2, -30.0),
        ("e", 40, 999.0),
        ("f", 1, 20.0),
    ]
)
CUSTOMERS = table(
    "customers",
    customer_id=["a", "b", "c", "d", "e", "f"],
    segment=["x", "x", "y", "x", "y", None],
    wallet_estimate=[None, 0.0, 200.0, None, None, None],
)


def test_peer_wallets_use_positive_spenders_and_drop_small_groups():
    wallets, overall = wallet.peer_group_wallets(
        SPEND, CUSTOMERS, as_of=T, window_days=30, peer_group_column="segment", quantile=0.5, min_group_size=2
    )
    # 30-day net spend: a 100, b 300, c 50, d -20 (not a spender), e none (40 days back), f 20 ("unknown").
    # x = {100, 300} -> median 200; y = {50} and unknown = {20} are too small; overall {20, 50, 100, 300} ->
    # 75.
    assert wallets.to_dict() == {"x": 200.0}
    assert overall == 75.0


def test_share_of_wallet_prefers_a_known_wallet_then_the_peer_group_then_overall():
    peer = pd.Series({"x": 200.0, "unknown": 40.0})
    share = wallet.share_of_wallet(
        SPEND, CUSTOMERS, peer, 75.0, as_of=T, window_days=30, peer_group_column="segment"
    )
    # a: 100/200 (x); b: estimate 0 is no estimate -> 300/200 capped at 1; c: 50/200 (estimate);
    # d: net -20 floored at 0; f: NA segment -> "unknown" 20/40. e has no rows in the window.
    assert share.to_dict() == {"a": 0.5, "b": 1.0, "c": 0.25, "d": 0.0, "f": 0.5}
    share = wallet.share_of_wallet(
        SPEND, CUSTOMERS, peer.drop("unknown"), 75.0, as_of=T, window_days=30, peer_group_column="segment"
    )
    assert share["f"] == 20 / 75  # no "unknown" wallet: the overall one


def test_an_unknown_peer_group_column_is_a_clear_error():
    with pytest.raises(ValueError, match="peer_group_column 'region' is not a column of the customers table"):
        wallet.peer_group_wallets(
            SPEND,
            CUSTOMERS,
            as_of=T,
            window_days=30,
            peer_group_column="region",
            quantile=0.5,
            min_group_size=1,
        )


def test_spend_vs_peak_compares_the_last_window_with_the_best_one():
    t = tx(
        [("a", 3, 20.0), ("a", 15, 80.0), ("a", 25, 40.0), ("b", 15, -5.0), ("c", 3, 10.0), ("d", 31, 10.0)]
    )
    # 10-day windows over 30 days: a 20, 80, 40 -> 0.25; b only a return -> no peak -> 1; c at its peak.
    ratio = wallet.spend_vs_peak_ratio(t, as_of=T, window_days=10, lookback_days=30)
    assert ratio.to_dict() == {"a": 0.25, "b": 1.0, "c": 1.0}
