"""The feature table of the tiny world (tests/features/conftest.py) against values worked out by hand."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from features import build_feature_table, feature_specs, make_tables, prepare_tables
from tests.features.conftest import CHURN, SETTINGS, T, bucketed_feature_table, world_frames

# Population at T: customers with a purchase in [T - 28, T): A, B, C, D (exactly T - 28), G (T - 1 hour).
# E's last purchase is 29 days back (its return 5 days back is not a purchase); F bought 40 days back and
# at T.
CUSTOMERS = ["A", "B", "C", "D", "G"]

# Global statistics at T.
# Net spend in [T - 28, T): A 100+80+110+88-20 = 358, B 200+100+50 = 350, C 300+200 = 500, D 40, G 30, E -10.
# Peer wallets (median of positive spenders, groups of >= 2): retail {358, 350} -> 354,
# wholesale {500, 30} -> 265; "unknown" {40} is too small; overall median of {30, 40, 350, 358, 500} = 350.
# List-price rises, from each purchase's unit list price against the same customer's previous one in the
# category, by 7-day period (p0 = [T-7, T), p3 = [T-28, T-21)): food (A) 10 -> 10 in p2, 10 -> 11 in p1,
# 11 -> 11 in p0: a rise dated at the start of p1 = T - 14 (= the 14-day lookback's first day); tools (B) 20
# throughout; garden: D paid 25 a unit, G 40, but different customers are not compared (mix is not a price
# change): no rise.
EXPECTED = {
    # last purchase day: A 7 days back, B 15, C 2, D 28, G the calendar day before T.
    "days_since_last_purchase": [7, 15, 2, 28, 1],
    # purchases with 1 <= d <= 7: A's at T - 7 (window's first instant), C's at T - 2, G's at T - 1h.
    "purchase_count_7d": [1, 0, 1, 0, 1],
    "purchase_count_28d": [4, 3, 2, 1, 1],
    # net: A 88 - 20 (return 5 days back); B and D have no rows in the window (default 0).
    "spend_7d": [68, 0, 200, 0, 30],
    "spend_28d": [358, 350, 500, 40, 30],
    # purchase days in the 60-day window: A 35,28,21,14,7 -> gaps 7; B 50,26,20,15 -> gaps 24,6,5; C 9,2 -> 7;
    # D 36,28 -> 8; G one day only -> default 60 (the window).
    "purchase_gap_mean_days": [7, 35 / 3, 7, 8, 60],
    "purchase_gap_std_days": [0, np.std([24, 6, 5]), 0, 0, 0],
    "purchase_overdue_ratio": [7 / 7, 15 / (35 / 3), 2 / 7, 28 / 8, 1 / 60],
    # A signup 100 days back; B no signup -> first purchase 50 days back; C 10; D 400; G first purchase T -
    # 1h.
    "tenure_days": [100, 50, 10, 400, 1],
    # A returned 20 of 100+80+110+88 = 378 gross.
    "returns_share_28d": [20 / 378, 0, 0, 0, 0],
    # purchases [T-14, T) vs [T-28, T-14): A 2 vs 2; B 0 vs 3; C 2 vs 0 -> cap; D 0 vs 1; G 1 vs 0 -> cap.
    "orders_trend_14d": [1.0, 0.0, 10.0, 0.0, 10.0],
    "purchase_count_previous_14d": [2, 3, 0, 1, 0],
    # net spend: A (110 + 88 - 20) / (100 + 80); B 0 / 350; C 500 / 0 -> cap; D 0 / 40; G 30 / 0 -> cap.
    "spend_trend_14d": [178 / 180, 0.0, 10.0, 0.0, 10.0],
    "spend_previous_14d": [180, 350, 0, 40, 0],
    # A promo rows 80 + 88 of 378; C promo NA = not promo; D and G bought on promotion only.
    "promo_share_28d": [168 / 378, 0, 0, 1, 1],
    # A mean of 0, 0.2, 0, 0.2; C has no list amounts (default 0); D 1 - 40/50; G 1 - 30/40.
    "discount_depth_28d": [0.1, 0, 0, 0.2, 0.25],
    # share of 28-day purchases in food: A all food; B tools, C no category, D and G garden.
    "price_rise_exposure_share": [1, 0, 0, 0, 0],
    # A food since T-14 (110 + 88 - 20) vs [T-28, T-14) (100 + 80); nobody else bought a repriced category
    # (default 1).
    "spend_trend_since_price_rise": [178 / 180, 1, 1, 1, 1],
    # A 358/354 capped at 1; B 350/354; C wallet_estimate 1000; D "unknown" -> overall 350; G wholesale 265.
    "share_of_wallet_28d": [1.0, 350 / 354, 500 / 1000, 40 / 350, 30 / 265],
    # 7-day windows back from T: A 68, 110, 80, 100; B 0, 0, 150, 200; C 200, 300; D 0, 0, 0, 40; G 30.
    "spend_vs_peak_ratio": [68 / 110, 0, 200 / 300, 0, 1],
    # B: opened T-24.5 (service), T-10 (delivery), T-3 (price); D: T-28 (category NA -> other) counts, T-40
    # not; G's complaint exactly at T is future.
    "complaint_count_7d": [0, 1, 0, 0, 0],
    "complaint_count_28d": [0, 3, 0, 1, 0],
    "complaints_product_quality_28d": [0, 0, 0, 0, 0],
    "complaints_service_28d": [0, 1, 0, 0, 0],
    "complaints_price_28d": [0, 1, 0, 0, 0],
    "complaints_delivery_28d": [0, 1, 0, 0, 0],
    "complaints_billing_28d": [0, 0, 0, 0, 0],
    "complaints_other_28d": [0, 0, 0, 1, 0],
    # B: the delivery complaint is open, the price one is resolved only at T + 2 (unknown at T): 2 open,
    # oldest opened 10 days back.
    "open_complaints": [0, 2, 0, 0, 0],
    "oldest_open_complaint_age_days": [0, 10, 0, 0, 0],
    # resolved before T, opened in the 28-day history: B's service complaint (5 days), D's boundary one (1
    # day).
    "days_to_resolve_mean": [0, 5, 0, 1, 0],
    "days_to_resolve_max": [0, 5, 0, 1, 0],
    # B rated 2 (its rating 1 is given after T); D 3 (the 4 is outside the history); default 5.
    "worst_satisfaction": [5, 2, 5, 3, 5],
    # B visits T-15.5 store, T-6 web, T-2 web (the app visit at T is future); C T-4 app, T-9 call; G T-1 web.
    "visit_count_7d": [0, 2, 1, 0, 1],
    "visit_count_28d": [0, 3, 2, 0, 1],
    "visits_store_28d": [0, 1, 0, 0, 0],
    "visits_web_28d": [0, 2, 0, 0, 1],
    "visits_app_28d": [0, 0, 1, 0, 0],
    "visits_call_28d": [0, 0, 1, 0, 0],
    "visits_other_28d": [0, 0, 0, 0, 0],
    # next purchase within 3 days? B: store visit 0.5 days before a purchase, the two web visits never;
    # C: 2 days and 0 days (same instant); G: 23 hours.
    "browse_without_purchase_share_28d": [0, 2 / 3, 0, 0, 0],
    "selection_days_mean": [0, 0.5, (2 + 0) / 2, 0, 23 / 24],
    # visits [T-14, T) vs [T-28, T-14): B 2 vs 1; C 2 vs 0 -> cap; G 1 vs 0 -> cap; A, D none (default 1).
    "visit_trend_14d": [1, 2, 10, 1, 10],
    # B's store visit at T-15.5 is the only visit in [T-28, T-14).
    "visit_count_previous_14d": [0, 1, 0, 0, 0],
    # A: M1 employed; B: M2 left 21 days back; C, D: no manager; G: M3 leaves exactly at T (not known yet).
    "has_account_manager": [1, 0, 0, 0, 1],
    "days_since_manager_departed": [60, 21, 60, 60, 60],
    "segment": ["retail", "retail", "wholesale", "unknown", "wholesale"],
    # A: nothing triggers -> maturity; B: orders trend 0 <= 0.75 -> decline; C, G: tenure < 30 -> acquisition;
    # D: 3.5 usual gaps silent and 28 >= 20 days -> churned.
    "lifecycle_stage": ["maturity", "decline", "acquisition", "churned", "acquisition"],
}


def expected_table(overrides: dict | None = None) -> pd.DataFrame:
    columns = {**EXPECTED, **(overrides or {})}
    table = pd.DataFrame({"customer_id": pd.array(CUSTOMERS, dtype="str")})
    for spec in feature_specs(SETTINGS):
        dtype = "str" if spec.kind == "categorical" else "float64"
        table[spec.name] = pd.array(columns[spec.name], dtype=dtype)
    return table


def test_every_feature_of_the_world_matches_the_hand_computed_value(world):
    table = build_feature_table(world, T, SETTINGS, CHURN)
    assert list(table.columns) == ["customer_id", *EXPECTED]
    pd.testing.assert_frame_equal(table, expected_table(), check_exact=False, rtol=1e-12)


def test_missing_optional_columns_and_tables_give_the_documented_defaults():
    frames = world_frames()
    frames["transactions"] = frames["transactions"][["customer_id", "timestamp", "amount"]]
    frames["customers"] = frames["customers"][["customer_id", "signup_date", "account_manager_id"]]
    frames = {name: frames[name] for name in ("transactions", "customers")}
    table = build_feature_table(prepare_tables(make_tables(frames)), T, SETTINGS, CHURN)
    # Without complaints, visits and account_managers every family falls back to its default; without promo
    # and list prices: promo share 0 (present, nothing on promo), no discount, no detectable price rise.
    # Without segment everyone is "unknown": one peer group {30, 40, 350, 358, 500}, median 350; C has no
    # wallet_estimate any more. Managers without an account_managers row are taken to be still employed.
    without_events = {
        spec.name: [spec.default] * 5
        for spec in feature_specs(SETTINGS)
        if spec.builder.__module__ in ("features.complaints", "features.engagement")
    }
    expected = expected_table(
        {
            **without_events,
            "promo_share_28d": [0, 0, 0, 0, 0],
            "discount_depth_28d": [0, 0, 0, 0, 0],
            "price_rise_exposure_share": [0, 0, 0, 0, 0],
            "spend_trend_since_price_rise": [1, 1, 1, 1, 1],
            "share_of_wallet_28d": [358 / 358, 350 / 350, 1.0, 40 / 350, 30 / 350],
            "has_account_manager": [1, 1, 0, 0, 1],
            "days_since_manager_departed": [60, 60, 60, 60, 60],
            "segment": ["unknown"] * 5,
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12)
    assert not table.drop(columns=["customer_id", "segment", "lifecycle_stage"]).isna().any().any()


def test_bucketed_table_equals_the_unbucketed_one_exactly(world):
    whole = build_feature_table(world, T, SETTINGS, CHURN)
    for n_buckets in (1, 2, 3, 7):
        pd.testing.assert_frame_equal(
            bucketed_feature_table(world, T, n_buckets), whole, check_exact=True
        )


def test_inputs_are_not_mutated(world):
    before = copy.deepcopy(world)
    build_feature_table(world, T, SETTINGS, CHURN)
    bucketed_feature_table(world, T, 3)
    for name, frame in world.items():
        pd.testing.assert_frame_equal(frame, getattr(before, name), check_exact=True)


def test_nobody_active_gives_an_empty_table_with_every_column():
    table = build_feature_table(prepare_tables(make_tables(world_frames())), pd.Timestamp("2020-01-01"), SETTINGS, CHURN)
    assert len(table) == 0
    assert list(table.columns) == ["customer_id", *EXPECTED]
    assert table["segment"].dtype == "str" and table["spend_7d"].dtype == "float64"


def test_global_stats_for_another_date_are_refused(world):
    from features import compute_global_stats

    stats = compute_global_stats(world, T - pd.Timedelta(days=1), SETTINGS)
    with pytest.raises(ValueError, match="global_stats"):
        build_feature_table(world, T, SETTINGS, CHURN, global_stats=stats)


def test_a_builder_returning_missing_values_or_another_type_is_caught(world, monkeypatch):
    """The table is checked on output against the registry: a NaN or a wrong dtype from a builder is an error."""
    from features import assembly

    real_call = assembly._call

    def spoiled(spec, sources, as_of):
        values = real_call(spec, sources, as_of)
        if spec.name == "purchase_count_28d":  # a builder that loses one customer's value
            values = values.copy()
            values.iloc[0] = np.nan
        return values

    monkeypatch.setattr(assembly, "_call", spoiled)
    with pytest.raises(assembly.FeatureTableError, match=r"purchase_count_28d has 1 missing value"):
        build_feature_table(world, T, SETTINGS, CHURN)
    assembly.check_feature_columns(
        {"segment": pd.array(["a"], dtype="str")}, [s for s in feature_specs(SETTINGS) if s.name == "segment"]
    )
    with pytest.raises(assembly.FeatureTableError, match="segment is float64, not str"):
        assembly.check_feature_columns(
            {"segment": np.array([1.0])}, [s for s in feature_specs(SETTINGS) if s.name == "segment"]
        )


@pytest.mark.parametrize("seed", range(4))
def test_visits_older_than_the_lookback_change_no_feature(seed):
    """What readers may leave out (features.registry.visits_lookback_days) is exactly what no builder reads."""
    from features.registry import visits_lookback_days
    from tests.features.random_world import random_world

    frames = random_world(seed, n_customers=40)
    whole = build_feature_table(prepare_tables(make_tables(frames)), T, SETTINGS, CHURN)
    since = T - pd.Timedelta(days=visits_lookback_days(SETTINGS))
    visits = frames["visits"]
    assert (pd.to_datetime(visits["timestamp"]) < since).any()  # the world has visits the cut drops
    cut = dict(frames, visits=visits[pd.to_datetime(visits["timestamp"]) >= since])
    pd.testing.assert_frame_equal(
        build_feature_table(prepare_tables(make_tables(cut)), T, SETTINGS, CHURN), whole, check_exact=True
    )
    one_day_less = dict(frames, visits=visits[pd.to_datetime(visits["timestamp"]) >= since + pd.Timedelta(days=1)])
    assert not build_feature_table(prepare_tables(make_tables(one_day_less)), T, SETTINGS, CHURN).equals(whole)
