"""The time cut: half-open windows, what is known before as_of, who is active."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from features import active_customers, events_before, make_tables
from features.aggregate import prepare_tables
from features.cutoff import last_contacts, sort_by_time, window_mask, window_positions, window_rows

T = pd.Timestamp("2024-04-01")
NS = pd.Timedelta(1, "ns")
DAY = pd.Timedelta(days=1)


def test_window_is_half_open_and_nat_is_outside():
    times = pd.Series([T - 7 * DAY, T - 7 * DAY - NS, T - NS, T, pd.NaT], dtype="datetime64[ns]")
    assert window_mask(times, end=T, days=7).tolist() == [True, False, True, False, False]


def world():
    return make_tables(
        {
            "transactions": pd.DataFrame(
                {
                    "customer_id": ["a", "a", "b"],
                    "timestamp": [T - NS, T, T - DAY],
                    "amount": [1.0, 2.0, 3.0],
                }
            ),
            "customers": pd.DataFrame(
                {
                    "customer_id": ["a", "b", "c", "d"],
                    "signup_date": [T - DAY, pd.NaT, T, T + DAY],
                }
            ),
            "complaints": pd.DataFrame(
                {
                    "customer_id": ["a", "a", "a", "b"],
                    "opened_at": [T - 5 * DAY, T - 5 * DAY, T - 5 * DAY, T],
                    "resolved_at": [T - NS, T, pd.NaT, pd.NaT],
                    "satisfaction": [4, 2, 5, pd.NA],
                }
            ),
            "visits": pd.DataFrame({"customer_id": ["a", "b"], "timestamp": [T, T - NS]}),
            "account_managers": pd.DataFrame(
                {
                    "account_manager_id": ["m1", "m2", "m3"],
                    "departed_at": [T - NS, T, pd.NaT],
                }
            ),
            "contacts": pd.DataFrame(
                {"customer_id": ["a", "b", "a", "b"], "contacted_at": [T - 9 * DAY, T - NS, T - 2 * DAY, T]}
            ),
        }
    )


def test_events_before_keeps_only_what_was_known_before_as_of():
    cut = events_before(world(), T)
    # transactions and visits strictly before T
    assert cut.transactions["amount"].tolist() == [1.0, 3.0]
    assert cut.visits["customer_id"].tolist() == ["b"]
    # complaints opened before T; a resolution at T is future: resolved_at and its rating become NA; the
    # rating of a complaint still open (the third) has no known date, so it is not known at T either
    assert cut.complaints["resolved_at"].tolist()[0] == T - NS
    assert cut.complaints["resolved_at"].isna().tolist() == [False, True, True]
    assert cut.complaints["satisfaction"].tolist()[0] == 4
    assert cut.complaints["satisfaction"].isna().tolist() == [False, True, True]
    # departures at or after T are not known yet
    assert cut.account_managers["departed_at"].isna().tolist() == [False, True, True]
    # customers signing up at or after T do not exist yet (no signup date: kept)
    assert cut.customers["customer_id"].tolist() == ["a", "b"]
    # contacts made before T; one exactly at T is in the future
    assert cut.contacts["contacted_at"].tolist() == [T - 9 * DAY, T - NS, T - 2 * DAY]


def test_last_contacts_in_the_half_open_window_before_as_of():
    # a: contacts 9 and 2 days before T (the last: 2 days); b: one an instant before T, one at T (future)
    assert last_contacts(world().contacts, T, days=9).to_dict() == {"a": T - 2 * DAY, "b": T - NS}
    assert last_contacts(world().contacts, T - 2 * DAY, days=7).to_dict() == {"a": T - 9 * DAY}
    assert last_contacts(world().contacts, T - 2 * DAY, days=6).to_dict() == {}


def test_events_before_does_not_mutate_its_input():
    tables = world()
    before = copy.deepcopy(tables)
    events_before(tables, T)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, getattr(before, name))


def test_active_customers_bought_in_the_half_open_active_window():
    transactions = make_tables(
        {
            "transactions": pd.DataFrame(
                {
                    "customer_id": ["edge", "too_old", "at_as_of", "return_only", "z_recent", "edge"],
                    "timestamp": [T - 28 * DAY, T - 28 * DAY - NS, T, T - DAY, T - NS, T - DAY],
                    "amount": [5.0, 5.0, 5.0, -5.0, 1.0, 0.0],
                }
            )
        }
    ).transactions
    active = active_customers(transactions, T, 28)
    assert active.tolist() == ["edge", "z_recent"]
    assert active.name == "customer_id"


def test_active_customers_of_categorical_ids_keep_the_categories():
    tables = prepare_tables(world())
    active = active_customers(tables.transactions, T, 28)
    assert isinstance(active, pd.CategoricalIndex)
    assert active.astype("str").tolist() == ["a", "b"]
    assert np.array_equal(active.categories, ["a", "b", "c", "d"])


def test_window_rows_of_a_time_sorted_frame_are_a_slice_with_the_rows_of_the_mask():
    # boundaries at the nanosecond: end - days is inside, end is outside; equal timestamps keep their order
    times = [T - 7 * DAY - NS, T - 7 * DAY, T - 7 * DAY, T - 3 * DAY, T - NS, T, T + DAY]
    frame = pd.DataFrame({"timestamp": pd.Series(times, dtype="datetime64[ns]"), "n": range(7)})
    shuffled = frame.sample(frac=1.0, random_state=3)
    ordered = sort_by_time(shuffled, "timestamp")
    assert ordered["timestamp"].is_monotonic_increasing
    assert isinstance(window_positions(ordered, "timestamp", end=T, days=7), slice)
    assert isinstance(window_positions(shuffled, "timestamp", end=T, days=7), np.ndarray)
    for days, expected in ((7, [1, 2, 3, 4]), (3, [3, 4]), (None, [0, 1, 2, 3, 4])):
        assert sorted(window_rows(shuffled, "timestamp", end=T, days=days)["n"]) == expected
        assert window_rows(ordered, "timestamp", end=T, days=days)["n"].tolist() == expected


def test_a_frame_sorted_by_another_column_is_filtered_not_sliced():
    frame = sort_by_time(
        pd.DataFrame({"timestamp": pd.to_datetime(["2024-03-30", "2024-03-31"]), "n": [0, 1]}), "timestamp"
    )
    reordered = frame.iloc[::-1]  # the index is no longer monotonic: a slice would be wrong
    assert isinstance(window_positions(reordered, "timestamp", end=T, days=1), np.ndarray)
    assert window_rows(reordered, "timestamp", end=T, days=1)["n"].tolist() == [1]
