"""Customer keys: every column's codes index one sorted list of the distinct ids of all of them."""

import numpy as np
import pandas as pd
import pytest

from features.aggregate import shared_customer_key


def _expected(columns):
    """Codes and ids worked out independently: positions in the sorted set of every id seen."""
    ids = sorted({value for column in columns for value in column})
    return [[ids.index(value) for value in column] for column in columns], ids


@pytest.mark.parametrize(
    "columns",
    [
        # every event id is a customer's (the threaded lookup), customers unsorted, one id without events
        [["c3", "c1", "c2", "c9"], ["c1", "c1", "c3", "c2", "c1"], ["c2"], []],
        # an event id missing from the customers (everything factorised together)
        [["c3", "c1"], ["c1", "c4", "c3"], ["c0"]],
        # no customers at all
        [[], ["b", "a", "b"]],
        # duplicated customer ids and non-ASCII ids sort by code point
        [["é2", "e2", "é2", "z"], ["z", "é2", "e2"]],
        # customers listed in id order (taken as the ids themselves), and in id order but with a repeat
        [["a1", "a2", "b", "é"], ["é", "a1", "b", "b"]],
        [["a1", "a2", "a2", "b"], ["b", "a1"]],
    ],
)
def test_shared_key_codes_index_the_sorted_distinct_ids(columns):
    keys = shared_customer_key(*[pd.Series(c, dtype="str") for c in columns])
    codes, ids = _expected(columns)
    for key, expected in zip(keys, codes, strict=True):
        assert key.codes.tolist() == expected
        assert key.ids.tolist() == ids
        assert key.n == len(ids)


def test_long_columns_split_across_threads_give_the_same_codes():
    rng = np.random.default_rng(3)
    customers = np.array([f"C{i:05d}" for i in rng.permutation(5000)], dtype=object)
    events = customers[rng.integers(0, 5000, 100_001)]
    keys = shared_customer_key(pd.Series(customers, dtype="str"), pd.Series(events, dtype="str"))
    ids = np.sort(customers)
    np.testing.assert_array_equal(keys[0].codes, np.searchsorted(ids, customers))
    np.testing.assert_array_equal(keys[1].codes, np.searchsorted(ids, events))
    assert keys[1].ids.dtype == "str"


def test_as_categorical_sorts_the_labels_and_keeps_missing_ones_missing():
    from features.aggregate import as_categorical

    values = pd.Series(["web", "app", None, "store", "app"], dtype="str", index=[4, 3, 2, 1, 0], name="channel")
    labels = as_categorical(values)
    assert list(labels.cat.categories) == ["app", "store", "web"]
    assert labels.cat.codes.tolist() == [2, 0, -1, 1, 0]
    assert labels.index.tolist() == [4, 3, 2, 1, 0] and labels.name == "channel"
    pd.testing.assert_series_equal(labels, values.astype("category"))


def test_sorted_ids_dtype_equals_the_checked_constructor():
    from features.aggregate import sorted_ids_dtype

    ids = pd.Index(["C1", "C2", "C9", "alice"], dtype="str")
    dtype = sorted_ids_dtype(ids)
    assert dtype == pd.CategoricalDtype(ids)
    assert dtype.categories.equals(ids) and not dtype.ordered
    assert pd.Categorical.from_codes([2, 0], dtype=dtype).tolist() == ["C9", "C1"]


@pytest.mark.parametrize("categorical", [False, True])
def test_label_counts_count_each_customers_rows_by_label_with_other_and_na_last(categorical):
    from features.aggregate import label_counts

    as_of = pd.Timestamp("2024-03-01")
    frame = pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", "a", "b", "a"],
            "timestamp": pd.to_datetime(
                ["2024-02-01", "2024-02-10", "2024-02-20", "2024-02-25", "2024-02-28", "2024-03-01"]
            ),
            "channel": ["web", "store", None, "sales_visit", "web", "store"],
        }
    )
    if categorical:
        frame["channel"] = frame["channel"].astype("category")
    # 20-day window [2024-02-10, 2024-03-01): rows 1-4; row 0 is too early, row 5 is at as_of
    key, counts = label_counts(frame, "timestamp", as_of, 20, "channel", ("store", "web", "other"))
    by_customer = dict(zip(key.index(np.arange(key.n)), counts.tolist()))
    assert by_customer == {"a": [1, 0, 1], "b": [0, 1, 1]}  # a: store, sales_visit; b: NA, web
