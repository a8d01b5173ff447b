"""Lapsed customers on a hand-made world: who lapsed within the lookback (the boundaries of being active), their
past value, and why they left in words; nothing at or after the as-of date is read."""

from __future__ import annotations

import pandas as pd
import pytest

from features import make_tables, prepare_tables
from models.bgnbd import BgNbdParams
from models.lapsed import FACT_COLUMNS, LapsedSettings, lapsed_customers

AS_OF = pd.Timestamp("2024-06-03")
SETTINGS = LapsedSettings(active_window_days=30, lookback_days=60, value_window_days=100, horizon_days=30,
                          margin_rate=0.5, decline_window_days=20, price_rise_min_share=0.05,
                          stale_complaint_days=40, top_reasons=3, price_period_days=28,
                          price_min_observations=30)
PARAMS = BgNbdParams(r=1.0, alpha=5.0, a=1.0, b=3.0)


def world() -> dict[str, pd.DataFrame]:
    rows = [
        ("a", "2024-05-04 08:00", 70.0, None, None, None),  # 30 days before: still active
        ("b", "2024-05-03 10:00", 100.0, None, None, None),  # 31 days before: lapsed today
        ("b", "2024-04-01", -20.0, None, None, None),  # a return counts in net spend
        ("b", "2024-02-01", 60.0, None, None, None),  # 92 days before b's last purchase: inside the year
        ("c", "2024-03-04", 90.0, None, None, None),  # no longer active since 2024-04-04: beyond the lookback
        ("d", "2024-03-05", 200.0, None, None, None),  # no longer active since 2024-04-05: inside
        ("d", "2023-11-01", 1000.0, None, None, None),  # 125 days before d's last purchase: outside the window
        ("e", "2024-05-20", -30.0, None, None, None),  # only a return: never a purchase
        ("f", "2024-04-10", 80.0, None, None, None),
        ("f", "2024-06-03", 500.0, None, None, None),  # at as_of: the future, never read
        ("g", "2024-04-20", 10.0, None, None, None),  # 1 purchase in the 20 days up to the last one ...
        ("g", "2024-03-30", 10.0, None, None, None),  # ... 3 in the 20 before
        ("g", "2024-03-26", 10.0, None, None, None),
        ("g", "2024-03-21", 10.0, None, None, None),
        ("h", "2024-01-10", 10.0, 10.0, 1.0, "tools"),  # unit list price 10 ...
        ("h", "2024-04-15", 12.0, 12.0, 1.0, "tools"),  # ... then 12: a dearer item, not a list-price rise
    ]
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "list_amount", "quantity", "category"])
    tx["timestamp"] = pd.to_datetime(tx["timestamp"], format="ISO8601")
    customers = pd.DataFrame({
        "customer_id": list("abcdefgh"),
        "account_manager_id": [None, "M2", None, "M1", None, None, None, None],
        "margin_rate": [None, 0.25, None, None, None, None, None, None],
    })
    complaints = pd.DataFrame({
        "customer_id": ["f", "h", "g"],
        "opened_at": pd.to_datetime(["2024-04-01", "2024-04-01", "2024-06-03"]),
        "resolved_at": pd.to_datetime([None, "2024-04-03", None]),
        "category": ["delivery", "service", "billing"],
        "satisfaction": pd.array([None, 5, None], dtype="Int64"),  # h was satisfied: no reason to leave
    })
    managers = pd.DataFrame({
        "account_manager_id": ["M1", "M2"],
        "departed_at": pd.to_datetime(["2024-02-20", "2024-06-10"]),  # M2 leaves after as_of: not known yet
    })
    return {"transactions": tx, "customers": customers, "complaints": complaints, "account_managers": managers}


@pytest.fixture(scope="module")
def lapsed() -> pd.DataFrame:
    return lapsed_customers(prepare_tables(make_tables(world())), AS_OF, SETTINGS, PARAMS).set_index("customer_id")


def test_who_lapsed_within_the_lookback(lapsed):
    # a is still active (bought exactly 30 days before), c ended before the lookback, e never bought.
    assert list(lapsed.index) == ["b", "d", "f", "g", "h"]
    assert lapsed["days_since_last_purchase"].to_dict() == {"b": 31, "d": 90, "f": 54, "g": 44, "h": 49}
    assert lapsed.loc["b", "last_purchase_date"] == "2024-05-03"
    assert lapsed.loc["f", "last_purchase_date"] == "2024-04-10"  # the purchase at as_of is not known


def test_past_value_is_margin_over_the_horizon_at_the_run_rate_of_their_last_year(lapsed):
    # b: 100 - 20 + 60 = 140 net, x 30/100 x its own margin 0.25 = 10.5; d: 200 (the 1000 is too old) x 0.3 x 0.5
    # = 30; f: 80 x 0.3 x 0.5 = 12 (the 500 at as_of is the future).
    assert lapsed.loc[["b", "d", "f"], "past_value"].tolist() == pytest.approx([10.5, 30.0, 12.0])


def test_why_they_left_in_words(lapsed):
    assert lapsed.loc["b", "reasons"] == "no purchase for 31 days (used to buy every 92 days)"
    assert lapsed.loc["d", "reasons"] == "account manager M1 left 2 weeks before the last purchase"
    assert lapsed.loc["f", "reasons"] == ("complaint about delivery 9 days before the last purchase, open 63 days: "
                                          "check whether it was closed")
    assert lapsed.loc["g", "reasons"] == "orders fell from 3 to 1 in the 20 days up to the last purchase"
    # h paid 20% more for tools, but no other customer shows tools' list prices rising (test_lapsed_price.py):
    # only the recency fact is true.
    assert lapsed.loc["h", "reasons"] == "no purchase for 49 days (used to buy every 96 days)"
    assert lapsed["reason_codes"].to_dict() == {
        "b": "recency", "d": "account_manager", "f": "stale_complaint", "g": "decline", "h": "recency",
    }


def test_reactivation_probability_and_columns(lapsed):
    assert list(lapsed.reset_index().columns) == list(FACT_COLUMNS)
    assert lapsed["reactivation_probability"].between(0, 1).all()
    # f bought once before as_of: BG/NBD drops customers out only after a repeat purchase, so P(alive) = 1.
    assert lapsed.loc["f", "reactivation_probability"] == 1.0
    assert lapsed.loc["d", "reactivation_probability"] < 1.0
    assert lapsed["account_manager_id"].fillna("").to_dict() == {"b": "M2", "d": "M1", "f": "", "g": "", "h": ""}


def test_nobody_lapsed_gives_an_empty_frame_with_the_columns():
    tables = prepare_tables(make_tables({"transactions": world()["transactions"].head(1)}))  # only a, still active
    empty = lapsed_customers(tables, AS_OF, SETTINGS, PARAMS)
    assert list(empty.columns) == list(FACT_COLUMNS) and empty.empty


def test_a_manager_who_left_after_the_customer_had_lapsed_is_not_why_they_left():
    # Active window 30 days. p bought last on Mar 10 and M3 left 20 days later, while p was still active (a reason);
    # q bought last on Mar 12, was no longer active from Apr 12, and M4 left on May 1: not a reason.
    tx = pd.DataFrame({"customer_id": ["p", "q"], "timestamp": pd.to_datetime(["2024-03-10", "2024-03-12"]),
                       "amount": [50.0, 60.0]})
    customers = pd.DataFrame({"customer_id": ["p", "q"], "account_manager_id": ["M3", "M4"]})
    managers = pd.DataFrame({"account_manager_id": ["M3", "M4"],
                             "departed_at": pd.to_datetime(["2024-03-30", "2024-05-01"])})
    tables = prepare_tables(make_tables({"transactions": tx, "customers": customers, "account_managers": managers}))
    lapsed = lapsed_customers(tables, AS_OF, SETTINGS, PARAMS).set_index("customer_id")
    assert lapsed.loc["p", "reasons"] == "account manager M3 left 3 weeks after the last purchase"
    assert lapsed.loc["q", "reasons"] == "no purchase for 83 days"
    assert lapsed["reason_codes"].to_dict() == {"p": "account_manager", "q": "recency"}
