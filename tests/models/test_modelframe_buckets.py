"""Statistics across customers computed from buckets' slices equal those of the whole data exactly, and so do
the model frames built bucket by bucket with them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import make_tables, split_by_bucket
from features.aggregate import prepare_tables
from models.modelframe import combine_stats, cutoff_stats, model_frames, stats_inputs
from tests.features.conftest import CHURN, SETTINGS, T
from tests.features.random_world import random_world

CUTOFFS = [T - pd.Timedelta(days=21), T - pd.Timedelta(days=7), T]


@pytest.mark.parametrize("seed", range(4))
def test_statistics_from_bucket_slices_equal_the_whole_datas_exactly(seed):
    tables = prepare_tables(make_tables(random_world(seed, n_customers=60)))
    whole = cutoff_stats(tables, CUTOFFS, SETTINGS)
    # not vacuous: peer-group wallets and category list-price rises are found
    assert all(len(s.features.peer_wallets) for s in whole.values())
    assert any(len(s.features.price_rises) for s in whole.values())
    for n_buckets in (2, 7):
        parts = [stats_inputs(bucket, CUTOFFS, SETTINGS) for bucket in split_by_bucket(tables, n_buckets)]
        combined = combine_stats(parts[::-1], CUTOFFS, SETTINGS)  # in any order of buckets
        assert list(combined) == list(whole)
        for cutoff, stats in whole.items():
            got = combined[cutoff]
            pd.testing.assert_series_equal(got.features.peer_wallets, stats.features.peer_wallets, check_exact=True)
            assert np.array_equal(got.features.overall_wallet, stats.features.overall_wallet, equal_nan=True)
            pd.testing.assert_series_equal(got.features.price_rises, stats.features.price_rises, check_exact=True)
            assert got.bgnbd == stats.bgnbd


def test_model_frames_built_bucket_by_bucket_with_global_statistics_equal_the_whole():
    tables = prepare_tables(make_tables(random_world(21, n_customers=60)))
    whole = model_frames(tables, CUTOFFS, SETTINGS, CHURN)
    buckets = list(split_by_bucket(tables, 5))
    stats = combine_stats([stats_inputs(b, CUTOFFS, SETTINGS) for b in buckets], CUTOFFS, SETTINGS)
    parts = [model_frames(b, CUTOFFS, SETTINGS, CHURN, stats=stats) for b in buckets]
    joined = pd.concat(parts, ignore_index=True).sort_values(["as_of", "customer_id"], ignore_index=True)
    assert len(whole) > 40
    pd.testing.assert_frame_equal(joined, whole, check_exact=True)
    # with each bucket's own statistics instead, the wallets would not match
    alone = pd.concat([model_frames(b, CUTOFFS, SETTINGS, CHURN) for b in buckets], ignore_index=True)
    alone = alone.sort_values(["as_of", "customer_id"], ignore_index=True)
    assert not alone["share_of_wallet_28d"].equals(whole["share_of_wallet_28d"])
