"""Property: whatever happens at or after T (new, removed or changed events, late resolutions, departures),
every feature at T stays exactly the same."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import build_feature_table, make_tables, prepare_tables
from tests.features.conftest import CHURN, SETTINGS
from tests.features.random_world import T, random_world, rewrite_future


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    world_seed=st.integers(0, 2**32 - 1),
    future_seed=st.integers(0, 2**32 - 1),
    n_customers=st.integers(1, 8),
    drop_only=st.booleans(),
)
def test_features_at_t_ignore_everything_at_or_after_t(world_seed, future_seed, n_customers, drop_only):
    frames = random_world(world_seed, n_customers)
    features = build_feature_table(prepare_tables(make_tables(frames)), T, SETTINGS, CHURN)
    rewritten = rewrite_future(frames, future_seed, drop_only=drop_only)
    pd.testing.assert_frame_equal(
        build_feature_table(prepare_tables(make_tables(rewritten)), T, SETTINGS, CHURN), features, check_exact=True
    )


def test_the_random_worlds_are_not_trivial():
    # Guard for the property above: the worlds must have active customers and events around T.
    sizes = [
        len(build_feature_table(prepare_tables(make_tables(random_world(seed))), T, SETTINGS, CHURN)) for seed in range(10)
    ]
    assert sum(sizes) >= 20
    frames = random_world(0)
    assert (frames["transactions"]["timestamp"] >= T).any() and (
        frames["transactions"]["timestamp"] < T
    ).any()
