"""The churn label: no purchase in [as_of, as_of + horizon)."""

from __future__ import annotations

import pandas as pd

from features import churn_labels, make_tables
from features.aggregate import prepare_tables

T = pd.Timestamp("2024-04-01")
NS = pd.Timedelta(1, "ns")
H = pd.Timedelta(days=14)


def transactions():
    return make_tables(
        {
            "transactions": pd.DataFrame(
                {
                    "customer_id": [
                        "at_as_of",
                        "at_horizon",
                        "before_horizon",
                        "only_return",
                        "only_past",
                        "zero",
                    ],
                    "timestamp": [T, T + H, T + H - NS, T + pd.Timedelta(days=1), T - NS, T],
                    "amount": [1.0, 1.0, 1.0, -1.0, 1.0, 0.0],
                }
            )
        }
    ).transactions


def test_labels_at_the_window_boundaries():
    population = ["at_as_of", "at_horizon", "before_horizon", "only_return", "only_past", "zero", "no_rows"]
    labels = churn_labels(transactions(), population, T, 14)
    # a purchase exactly at T is in the label window; exactly at T + 14 days it is not; returns and zero
    # amounts are not purchases; customers without rows churn.
    assert labels.to_dict() == {
        "at_as_of": False,
        "at_horizon": True,
        "before_horizon": False,
        "only_return": True,
        "only_past": True,
        "zero": True,
        "no_rows": True,
    }
    assert labels.name == "churned"
    assert labels.index.name == "customer_id"


def test_labels_follow_the_population_order_and_accept_categorical_ids():
    tx = prepare_tables(make_tables({"transactions": transactions()})).transactions
    labels = churn_labels(tx, pd.Index(["only_past", "at_as_of"]), T, 14)
    assert labels.index.tolist() == ["only_past", "at_as_of"]
    assert labels.tolist() == [True, False]


def test_the_history_starts_after_the_last_year_without_any_purchase():
    import numpy as np

    from features.labels import history_start, purchase_days

    tables = prepare_tables(make_tables({"transactions": pd.DataFrame({
        "customer_id": ["A", "B", "A", "B", "A"],
        "timestamp": pd.to_datetime(["1970-01-01 08:00", "2020-05-01 09:00", "2020-05-01 17:00", "2021-06-10 00:00",
                                     "2021-09-01 00:00"]),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
    })}))
    days = purchase_days(tables)
    # 1970-01-01 = day 0; 2020-05-01 = day 18383 (once, though two purchases); 2021-06-10 = 18788; 2021-09-01 = 18871
    assert days.tolist() == [0, 18383, 18788, 18871]
    # gaps: 18383 and 405 days are a year or more, 83 is not: the history starts on 2021-06-10
    assert history_start(days) == pd.Timestamp("2021-06-10")
    assert history_start(days, break_days=500) == pd.Timestamp("2020-05-01")
    assert history_start(np.array([18383])) == pd.Timestamp("2020-05-01")
