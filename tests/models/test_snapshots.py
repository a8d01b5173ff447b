"""Training snapshots: cutoffs whose labels are fully observed, features and labels stacked per cutoff."""

from __future__ import annotations

import pandas as pd

from features import build_feature_table, make_tables
from models.snapshots import snapshot_cutoffs, training_snapshots
from tests.features.conftest import CHURN, SETTINGS, T, world_frames


def test_latest_cutoff_has_its_whole_label_window_in_the_data():
    cutoffs = snapshot_cutoffs(pd.Timestamp("2024-06-30 15:00"), horizon_days=90, step_days=30, n_cutoffs=3)
    # the day after the last event is 2024-07-01; [T, T + 90) must end on or before it: T = 2024-04-02.
    assert cutoffs == [pd.Timestamp("2024-02-02"), pd.Timestamp("2024-03-03"), pd.Timestamp("2024-04-02")]
    assert snapshot_cutoffs(pd.Timestamp("2024-06-30"), 1, 7, 1) == [pd.Timestamp("2024-06-30")]


def test_snapshots_stack_features_and_labels_per_cutoff():
    tables = make_tables(world_frames())
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
