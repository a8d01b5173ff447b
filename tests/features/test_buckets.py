"""Customer buckets: a stable hash for storage, a lossless split in memory, and bucketed features equal to unbucketed ones."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from features import (
    build_feature_table,
    customer_bucket,
    make_tables,
    prepare_tables,
    split_by_bucket,
)
from tests.features.conftest import CHURN, SETTINGS, bucketed_feature_table
from tests.features.random_world import T, random_world


def test_bucket_of_an_id_is_pinned_and_independent_of_the_container():
    # Pinned values: if these change, buckets written by an earlier version no longer line up.
    ids = ["C0000001", "C0000002", "alice", "bob"]
    assert customer_bucket(ids, 16).tolist() == [12, 9, 4, 2]
    assert customer_bucket(pd.Index(ids[::-1], dtype="str"), 16).tolist() == [2, 4, 9, 12]
    assert customer_bucket(pd.Categorical(ids), 16).tolist() == [12, 9, 4, 2]


@pytest.mark.parametrize("customers_order", ["by id", "shuffled"])
def test_split_puts_every_row_in_the_bucket_of_its_customer(customers_order):
    tables = make_tables(random_world(3, n_customers=20))
    customers = tables.customers.sort_values("customer_id", ignore_index=True)
    if customers_order == "shuffled":  # bucket rows found by a sort, not as runs of the listed customers
        customers = customers.sample(frac=1.0, random_state=0, ignore_index=True)
    ids = tables.customers["customer_id"].astype("str")
    contacts = pd.DataFrame({"customer_id": ids.iloc[[0, 3, 3, 7, 19]].to_numpy(),
                             "contacted_at": pd.to_datetime(["2024-01-05"] * 5)})
    tables = tables.replace(customers=customers, contacts=make_tables({
        "transactions": tables.transactions, "contacts": contacts}).contacts)
    buckets = list(split_by_bucket(prepare_tables(tables), 4))
    assert len(buckets) == 4
    # bucket b holds the b-th run of 5 of the 20 sorted ids, with every row of theirs
    all_ids = sorted(tables.customers["customer_id"])
    for number, bucket in enumerate(buckets):
        own_ids = all_ids[5 * number: 5 * (number + 1)]
        for name in ("customers", "transactions", "complaints", "visits"):
            column = getattr(bucket, name)["customer_id"]
            assert list(column.cat.categories) == own_ids, name
            whole = getattr(tables, name)
            assert len(column) == whole["customer_id"].isin(own_ids).sum(), name
            assert set(column.astype("str")) <= set(own_ids), name
        pd.testing.assert_frame_equal(bucket.account_managers, tables.account_managers)
        # the contact log (not prepared) goes with its customers too
        assert bucket.contacts["customer_id"].tolist() == [c for c in contacts["customer_id"] if c in own_ids]
    per_bucket = sorted(np.concatenate([b.transactions["amount"].to_numpy() for b in buckets]))
    assert per_bucket == sorted(tables.transactions["amount"].to_numpy())


@pytest.mark.parametrize("seed", range(5))
def test_bucketed_features_equal_unbucketed_features_exactly(seed):
    tables = prepare_tables(make_tables(random_world(seed, n_customers=30)))
    before = copy.deepcopy(tables)
    whole = build_feature_table(tables, T, SETTINGS, CHURN)
    assert len(whole) > 5
    for n_buckets in (2, 5):
        pd.testing.assert_frame_equal(bucketed_feature_table(tables, T, n_buckets), whole, check_exact=True)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, getattr(before, name), check_exact=True)
