"""Windows reaching back before the start of the data history: counts and spend scaled to the observed part, so
a window feature means the same at a training cutoff early in the data as at scoring a year later."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from features import build_feature_table, compute_global_stats, make_tables, prepare_tables
from features import recency_frequency as rf
from features.cutoff import observed_share
from tests.features.conftest import CHURN, SETTINGS, bucketed_feature_table, table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)


def tx(rows):
    customer, days_back, amount = zip(*rows)
    return table("transactions", customer_id=list(customer), timestamp=[T - d * DAY for d in days_back],
                 amount=list(amount))


def test_observed_share_of_a_window():
    start = T - 100 * DAY
    assert observed_share(T, start, days=365) == pytest.approx(100 / 365)
    assert observed_share(T, start, days=30) == 1.0
    # the window before the last 90 days, [T-180, T-90): only [T-100, T-90) is observed
    assert observed_share(T, start, days=90, offset_days=90) == pytest.approx(10 / 90)
    assert observed_share(T, start, days=90, offset_days=100) == 0.0
    assert observed_share(T, start, days=90, offset_days=150) == 0.0
    assert observed_share(T, None, days=365) == 1.0


# a buys at T-100 (10), T-50 (20), T-5 (30); b at T-20 (40); the history starts at T-100.
ROWS = [("a", 100, 10.0), ("a", 50, 20.0), ("a", 5, 30.0), ("b", 20, 40.0)]


def test_counts_and_spend_are_scaled_to_the_whole_window():
    t, start = tx(ROWS), T - 100 * DAY
    # 365-day window, 100 days observed: x 3.65
    assert rf.purchase_count(t, as_of=T, window_days=365, history_start=start).to_dict() == pytest.approx(
        {"a": 3 * 3.65, "b": 3.65})
    assert rf.spend(t, as_of=T, window_days=365, history_start=start).to_dict() == pytest.approx(
        {"a": 60 * 3.65, "b": 40 * 3.65})
    # a window inside the history is as it was
    assert rf.purchase_count(t, as_of=T, window_days=30, history_start=start).to_dict() == {"a": 1.0, "b": 1.0}
    # without a history start nothing is scaled
    assert rf.purchase_count(t, as_of=T, window_days=365).to_dict() == {"a": 3.0, "b": 1.0}


def test_trends_compare_whole_windows():
    t, start = tx(ROWS), T - 100 * DAY
    # previous window [T-180, T-90): 10 of its 90 days observed, a's one purchase (10) there counts as 9 (90)
    assert rf.purchase_count_previous(t, as_of=T, window_days=90, history_start=start).to_dict() == pytest.approx(
        {"a": 9.0})
    assert rf.spend_previous(t, as_of=T, window_days=90, history_start=start).to_dict() == pytest.approx(
        {"a": 90.0})
    # recent [T-90, T): a 2 purchases, 50 spent; b 1 purchase, none before -> the cap
    assert rf.orders_trend(t, as_of=T, window_days=90, cap=10.0, history_start=start).to_dict() == pytest.approx(
        {"a": 2 / 9, "b": 10.0})
    assert rf.spend_trend(t, as_of=T, window_days=90, cap=10.0, history_start=start).to_dict() == pytest.approx(
        {"a": 50 / 90, "b": 10.0})
    # unscaled, as before: a 2 vs 1 purchases
    assert rf.orders_trend(t, as_of=T, window_days=90, cap=10.0).to_dict() == {"a": 2.0, "b": 10.0}


def test_a_previous_window_wholly_before_the_history_is_flat_not_empty():
    t = tx([("a", 50, 20.0), ("a", 5, 30.0), ("b", 20, 40.0)])
    start = T - 80 * DAY  # [T-180, T-90) lies wholly before it
    assert rf.orders_trend(t, as_of=T, window_days=90, cap=10.0, history_start=start).to_dict() == {
        "a": 1.0, "b": 1.0}
    assert rf.spend_trend(t, as_of=T, window_days=90, cap=10.0, history_start=start).to_dict() == {
        "a": 1.0, "b": 1.0}


SHORT = dataclasses.replace(SETTINGS, windows_days=(7, 28))


def _frames(rows) -> dict[str, pd.DataFrame]:
    customer, days_back, amount = zip(*rows)
    return {"transactions": pd.DataFrame({"customer_id": list(customer),
                                          "timestamp": [T - d * DAY for d in days_back], "amount": list(amount)})}


def _features(frames, as_of=T, settings=SHORT) -> pd.DataFrame:
    return build_feature_table(prepare_tables(make_tables(frames)), as_of, settings, CHURN)


def test_the_feature_table_scales_windows_longer_than_the_history():
    # the history starts at T-14 (the first purchase day); the 28-day window is half observed
    frames = _frames([("a", 14, 10.0), ("a", 3, 5.0), ("b", 10, 8.0)])
    table_ = _features(frames).set_index("customer_id")
    assert table_["purchase_count_28d"].to_dict() == {"a": 4.0, "b": 2.0}
    assert table_["spend_28d"].to_dict() == {"a": 30.0, "b": 16.0}
    assert table_["purchase_count_7d"].to_dict() == {"a": 1.0, "b": 0.0}
    assert compute_global_stats(prepare_tables(make_tables(frames)), T, SHORT).history_start == T - 14 * DAY


def test_the_history_start_is_the_same_in_every_bucket():
    frames = _frames([("a", 14, 10.0), ("a", 3, 5.0), ("b", 10, 8.0), ("c", 2, 1.0), ("d", 5, 7.0)])
    tables = prepare_tables(make_tables(frames))
    whole = build_feature_table(tables, T, SETTINGS, CHURN)
    pd.testing.assert_frame_equal(bucketed_feature_table(tables, T, 3), whole, check_exact=True)


def test_events_at_or_after_the_cutoff_never_move_the_history_start():
    past = [("a", 14, 10.0), ("a", 3, 5.0), ("b", 10, 8.0)]
    before = _features(_frames(past))
    # the future: purchases at T and later, and after a gap of more than a year (which would start a new history
    # if it were seen)
    future = [("a", 0, 1.0), ("b", -5, 2.0), ("c", -400, 3.0), ("c", -401, 3.0)]
    pd.testing.assert_frame_equal(_features(_frames(past + future)), before, check_exact=True)
    # a purchase further in the past does move it: the 28-day counts go back to plain counts
    earlier = _features(_frames([*past, ("z", 40, 1.0)])).set_index("customer_id")
    assert earlier["purchase_count_28d"].to_dict() == {"a": 2.0, "b": 1.0}
