"""The out-of-time benchmark's own parts on hand-made directories: the cut data holds only what was known before T,
and the truth is read from the full data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.out_of_time import churned, cut_world, paired_bootstrap, purchases

T = pd.Timestamp("2025-07-01")


def _world(folder):
    folder.mkdir()
    (folder / "transactions.csv").write_text(
        "customer_id,timestamp,amount\n"
        "007,2025-06-30T23:59:59,10.0\n"
        "007,2025-07-01T01:30:00+02:00,11.0\n"  # 2025-06-30 23:30 UTC: before T
        "008,2025-07-01,12.0\n"  # at T: the future
        "008,2025-05-02,13.0\n"
        "009,2025-09-28,14.0\n"
    )
    (folder / "complaints.csv").write_text(
        "customer_id,opened_at,resolved_at,satisfaction\n"
        "007,2025-06-01,2025-06-10,4\n"
        "008,2025-06-20,2025-07-03,2\n"  # resolved after T: open at T
        "009,2025-07-02,,\n"  # opened after T
    )
    (folder / "account_managers.csv").write_text("account_manager_id,departed_at\nM1,2025-06-01\nM2,2025-08-01\n")
    pd.DataFrame({"customer_id": ["007", "008"], "segment": ["a", "b"]}).to_parquet(folder / "customers.parquet")
    (folder / "_truth").mkdir()
    (folder / "_truth" / "customers.csv").write_text("customer_id,stop_date\n007,\n")


def test_the_cut_keeps_only_what_was_known_before_t(tmp_path):
    _world(tmp_path / "full")
    cut_world(tmp_path / "full", T, tmp_path / "cut")
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == [
        "account_managers.csv", "complaints.csv", "customers.parquet", "transactions.csv"]
    transactions = pd.read_csv(tmp_path / "cut" / "transactions.csv", dtype=str)
    assert transactions["amount"].tolist() == ["10.0", "11.0", "13.0"]
    # kept rows are written as they were (the offset stays)
    assert transactions["timestamp"].tolist()[1] == "2025-07-01T01:30:00+02:00"
    complaints = pd.read_csv(tmp_path / "cut" / "complaints.csv", dtype=str, keep_default_na=False)
    assert complaints.to_dict("list") == {"customer_id": ["007", "008"], "opened_at": ["2025-06-01", "2025-06-20"],
                                          "resolved_at": ["2025-06-10", ""], "satisfaction": ["4", ""]}
    managers = pd.read_csv(tmp_path / "cut" / "account_managers.csv", dtype=str, keep_default_na=False)
    assert managers["departed_at"].tolist() == ["2025-06-01", ""]
    assert pd.read_parquet(tmp_path / "cut" / "customers.parquet")["customer_id"].tolist() == ["007", "008"]


def test_the_truth_is_a_purchase_in_the_horizon_from_t(tmp_path):
    _world(tmp_path / "full")
    events = purchases(tmp_path / "full")
    assert events["customer_id"].tolist() == ["007", "007", "008", "008", "009"]
    # 007: nothing from T on -> churned; 008 bought at T exactly -> stayed; 009 bought 89 days after T -> stayed
    # within 90 days, churned within 88
    customers = pd.Series(["007", "008", "009"])
    assert churned(events, customers, T, 90).tolist() == [1.0, 0.0, 0.0]
    assert churned(events, customers, T, 88).tolist() == [1.0, 0.0, 1.0]


def test_the_paired_bootstrap_tells_a_better_score_from_an_equal_one():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(float)
    noise = rng.random(400)
    same = paired_bootstrap(y, noise, noise, draws=50, seed=1)
    assert same == {"roc_auc": (0.0, 0.0), "pr_auc": (0.0, 0.0)}
    better = paired_bootstrap(y, 0.5 * y + 0.5 * noise, noise, draws=50, seed=1)
    assert better["roc_auc"][0] > 0.2 and better["pr_auc"][0] > 0.2
