"""Training snapshots: cutoffs whose labels are fully observed, features and labels stacked per cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import build_feature_table, make_tables, prepare_tables
from models.modelframe import model_frames
from models.snapshots import (
    active_counts,
    customer_share_within,
    in_training_sample,
    sample_customers,
    snapshot_cutoffs,
    training_snapshots,
)
from tests.features.conftest import CHURN, SETTINGS, T, world_frames
from tests.features.random_world import random_world


def test_latest_cutoff_has_its_whole_label_window_in_the_data():
    cutoffs = snapshot_cutoffs(pd.Timestamp("2024-06-30 15:00"), horizon_days=90, step_days=30, n_cutoffs=3)
    # the day after the last event is 2024-07-01; [T, T + 90) must end on or before it: T = 2024-04-02.
    assert cutoffs == [pd.Timestamp("2024-02-02"), pd.Timestamp("2024-03-03"), pd.Timestamp("2024-04-02")]
    assert snapshot_cutoffs(pd.Timestamp("2024-06-30"), 1, 7, 1) == [pd.Timestamp("2024-06-30")]


def test_only_cutoffs_with_the_minimum_history_before_them_are_kept():
    # The day after the last event is 2024-07-01 (horizon 90: latest 2024-04-02); the history starts on
    # 2024-01-10 and 60 days are needed: the earliest allowed cutoff is Jan 10 + 60 days = Mar 10 (21 days to
    # Jan 31, 29 in February 2024, 10 in March). Of the grid Apr 2, Mar 3, Feb 2, Jan 3 only Apr 2 is left.
    cutoffs = snapshot_cutoffs(
        pd.Timestamp("2024-06-30 15:00"), 90, 30, 4, history_start=pd.Timestamp("2024-01-10 08:00"),
        min_history_days=60,
    )
    assert cutoffs == [pd.Timestamp("2024-04-02")]
    # a cutoff exactly min_history_days after the history's first midnight is kept: Jan 3 + 60 = Mar 3
    kept = snapshot_cutoffs(
        pd.Timestamp("2024-06-30"), 90, 30, 4, history_start=pd.Timestamp("2024-01-03 23:59"), min_history_days=60
    )
    assert kept == [pd.Timestamp("2024-03-03"), pd.Timestamp("2024-04-02")]
    # n_cutoffs is a maximum: a long history still gives at most that many
    assert len(snapshot_cutoffs(pd.Timestamp("2024-06-30"), 90, 30, 4, history_start="2015-01-01")) == 4
    # too short a history: none
    assert snapshot_cutoffs(pd.Timestamp("2024-06-30"), 90, 30, 4, history_start="2024-03-01",
                            min_history_days=90) == []


def test_a_cutoff_before_any_purchase_gives_no_rows_and_no_error():
    tables = prepare_tables(make_tables(world_frames()))  # purchases from 2024-02-11
    frames = model_frames(tables, [pd.Timestamp("2000-01-01"), T], SETTINGS, CHURN)
    assert frames["as_of"].eq(T).all()
    assert len(frames) == len(build_feature_table(tables, T, SETTINGS, CHURN))


def test_snapshots_stack_features_and_labels_per_cutoff():
    tables = prepare_tables(make_tables(world_frames()))
    earlier = T - pd.Timedelta(days=7)
    snapshots = training_snapshots(tables, [earlier, T], SETTINGS, CHURN)
    assert list(snapshots.columns[:2]) == ["customer_id", "as_of"]
    assert snapshots.columns[-1] == "churned"
    at_t = snapshots[snapshots["as_of"] == T]
    # labels at T (purchases in [T, T + 14)): A buys at T; B none; C at T + 13; D exactly at T + 14 (outside);
    # G none.
    assert dict(zip(at_t["customer_id"], at_t["churned"])) == {
        "A": False,
        "B": True,
        "C": False,
        "D": True,
        "G": True,
    }
    features_at_t = build_feature_table(tables, T, SETTINGS, CHURN)
    pd.testing.assert_frame_equal(
        at_t.drop(columns=["as_of", "churned"]).reset_index(drop=True), features_at_t, check_exact=True
    )
    # at T - 7 (2024-03-25) the active window [T - 35, T - 7) holds A, B, C (T - 9), D (its T - 28 purchase;
    # T - 36 is outside) and E (T - 29); G had not bought yet. Labels look at [T - 7, T + 7): A buys at T - 7
    # (the window's first instant), C at T - 2; B and D do not buy, E only returns something.
    earlier_rows = snapshots[snapshots["as_of"] == earlier]
    assert dict(zip(earlier_rows["customer_id"], earlier_rows["churned"])) == {
        "A": False,
        "B": True,
        "C": False,
        "D": True,
        "E": True,
    }
    assert snapshots["as_of"].dtype == "datetime64[ns]" and snapshots["churned"].dtype == bool


def test_the_training_sample_of_an_id_is_pinned_and_independent_of_the_container():
    # Pinned: if these change, a retrained model silently learns from other customers.
    ids = ["C0000001", "C0000002", "C0000003", "alice", "bob", "carol"]
    expected = in_training_sample(ids, 0.5)
    assert expected.tolist() == [False, True, False, True, False, False]
    assert in_training_sample(pd.Index(ids, dtype="str"), 0.5).tolist() == expected.tolist()
    assert in_training_sample(pd.Categorical(ids), 0.5).tolist() == expected.tolist()
    many = [f"C{i:07d}" for i in range(20_000)]
    assert in_training_sample(many, 0.25).mean() == pytest.approx(0.25, abs=0.01)
    assert in_training_sample(many, 1.0).all()
    assert not (in_training_sample(many, 0.2) & ~in_training_sample(many, 0.3)).any()  # nested samples


def test_sampled_snapshots_are_the_full_snapshots_of_the_sampled_customers():
    tables = prepare_tables(make_tables(random_world(11, n_customers=80)))
    cutoffs = [T - pd.Timedelta(days=14), T]
    full = model_frames(tables, cutoffs, SETTINGS, CHURN)
    sampled = model_frames(tables, cutoffs, SETTINGS, CHURN, customer_share=0.5)
    chosen = in_training_sample(full["customer_id"], 0.5)
    assert 0.25 < chosen.mean() < 0.75
    pd.testing.assert_frame_equal(sampled, full[chosen].reset_index(drop=True), check_exact=True)
    # the statistics really are every customer's: from the sample alone the wallets would differ
    alone = model_frames(sample_customers(tables, 0.5), cutoffs, SETTINGS, CHURN)
    assert not np.array_equal(alone["share_of_wallet_28d"], sampled["share_of_wallet_28d"])


def test_active_counts_are_the_customers_who_bought_in_the_window_before_each_cutoff():
    transactions = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-02-20", "2024-02-25", "2024-03-05"]),
        "amount": [10.0, 12.0, 5.0, -3.0, 8.0],  # c's February row is a refund: not a purchase
    })
    tables = prepare_tables(make_tables({"transactions": transactions}))
    cutoffs = [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-06")]
    # 30-day windows: [Jan 2, Feb 1): a. [Jan 31, Mar 1): b (a's Mar 1 purchase is at the cutoff, outside).
    # [Feb 5, Mar 6): a (Mar 1), b (Feb 20), c (Mar 5).
    assert active_counts(tables, cutoffs, active_window_days=30).tolist() == [1, 1, 3]


@pytest.mark.parametrize(
    ("rows", "share", "cap", "expected"),
    [
        (1_000, 1.0, None, 1.0),  # no cap
        (1_000, 1.0, 1_000, 1.0),  # exactly at the cap
        (1_000, 1.0, 250, 0.25),
        (1_000, 0.5, 600, 0.5),  # the configured share already fits
        (1_000, 0.5, 200, 0.2),
    ],
)
def test_the_customer_share_is_lowered_only_to_keep_within_the_cap(rows, share, cap, expected):
    assert customer_share_within(rows, share, cap) == pytest.approx(expected)
