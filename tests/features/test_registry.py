"""The registry: one list, windows from settings, reasons in plain words, builders named as their columns."""

from __future__ import annotations

import pandas as pd
import pytest

from features import (
    ChurnDefinition,
    FeatureSettings,
    LifecycleThresholds,
    build_feature_table,
    feature_dtypes,
    feature_specs,
    make_tables,
)
from features.aggregate import prepare_tables
from features.assembly import _call, compute_global_stats
from features.cutoff import events_before
from features.registry import duration_words, longest_lookback_days
from tests.features.conftest import CHURN, SETTINGS, T, world_frames


def spec(name):
    return next(s for s in feature_specs(FeatureSettings()) if s.name == name)


def test_windows_are_expanded_from_the_settings():
    names = [s.name for s in feature_specs(FeatureSettings(windows_days=(10, 20), trend_window_days=30))]
    assert {
        "spend_10d",
        "spend_20d",
        "purchase_count_20d",
        "complaint_count_10d",
        "visit_count_20d",
        "orders_trend_30d",
        "visit_trend_30d",
    } <= set(names)
    assert not {
        "spend_30d",
        "spend_90d",
        "purchase_count_365d",
        "complaint_count_90d",
        "orders_trend_90d",
    } & set(names)
    assert len(names) == len(set(names))


def test_every_spec_is_well_formed():
    for s in feature_specs(FeatureSettings()):
        assert s.risk_direction in (-1, 0, 1), s.name
        assert s.unit and s.reason, s.name
        if s.kind == "categorical":
            assert s.risk_direction == 0, s.name
    kinds = feature_dtypes(FeatureSettings())
    assert kinds["segment"] == kinds["lifecycle_stage"] == "categorical"
    assert kinds["spend_90d"] == "numeric"
    assert list(kinds) == [s.name for s in feature_specs(FeatureSettings())]


def test_each_builder_names_its_output_like_its_column():
    tables = prepare_tables(make_tables(world_frames()))
    table = build_feature_table(tables, T, SETTINGS, CHURN).set_index("customer_id")
    sources = dict(events_before(tables, T).items()) | vars(compute_global_stats(tables, T, SETTINGS))
    sources |= {name: table[name] for name in table.columns}  # derived features read the filled columns
    for s in feature_specs(SETTINGS):
        result = _call(s, sources, T)
        assert result.name == s.name
        assert result.index.name == "customer_id", s.name


@pytest.mark.parametrize(
    ("name", "row", "text"),
    [
        (
            "orders_trend_90d",
            {"orders_trend_90d": 0.28, "purchase_count_previous_90d": 25.0},
            "orders fell from 25 to 7: last 90 days vs the 90 before",
        ),
        (
            "spend_trend_90d",
            {"spend_trend_90d": 0.38, "spend_previous_90d": 12_400.0},
            "spend down 62%: 4,712 in the last 90 days vs 12,400 in the 90 before",
        ),
        (
            "visit_trend_90d",
            {"visit_trend_90d": 0.0, "visit_count_previous_90d": 12.0},
            "visits fell from 12 to 0: last 90 days vs the 90 before",
        ),
        (
            "open_complaints",
            {"open_complaints": 2.0, "oldest_open_complaint_age_days": 23.0},
            "2 complaints still open, oldest 23 days",
        ),
        (
            "open_complaints",
            {"open_complaints": 1.0, "oldest_open_complaint_age_days": 4.0},
            "1 complaint still open, oldest 4 days",
        ),
        (
            "days_since_manager_departed",
            {"days_since_manager_departed": 21.0},
            "account manager left 3 weeks ago",
        ),
        (
            "days_since_manager_departed",
            {"days_since_manager_departed": 5.0},
            "account manager left 5 days ago",
        ),
        (
            "days_since_manager_departed",
            {"days_since_manager_departed": 95.0},
            "account manager left 3 months ago",
        ),
        ("has_account_manager", {"has_account_manager": 0.0}, "no account manager"),
        (
            "purchase_overdue_ratio",
            {"purchase_overdue_ratio": 2.5, "purchase_gap_mean_days": 12.0},
            "silent for 2.5x the usual 12 days between purchases",
        ),
        ("tenure_days", {"tenure_days": 130.0}, "customer for only 4 months"),
        ("segment", {"segment": "retail"}, "segment retail"),
    ],
)
def test_reasons_read_in_plain_words(name, row, text):
    assert spec(name).describe(row) == text
    assert spec(name).describe(pd.Series(row, dtype=object)) == text


@pytest.mark.parametrize(
    ("name", "value", "typical", "text"),
    [
        ("promo_share_90d", 0.82, 0.2, "82% of spend on promotion in the last 90 days (typical: 20%)"),
        ("purchase_count_30d", 0.0, 3.0, "no purchases in the last 30 days (typical: 3)"),
        ("purchase_count_90d", 1.0, 5.0, "1 purchase in the last 90 days (typical: 5)"),
        ("visit_count_90d", 2.0, 6.0, "2 visits in the last 90 days (typical: 6)"),
        ("days_since_last_purchase", 45.0, 20.0, "no purchase for 45 days (typical: 20)"),
        # 0.016 days is 23 minutes; 0.3 days 7.2 hours, 0.1 days 2.4 hours
        ("selection_days_mean", 1.7, 0.016, "takes 2 days from a visit to a purchase (typical: under an hour)"),
        ("selection_days_mean", 0.3, 0.1, "takes 7 hours from a visit to a purchase (typical: 2 hours)"),
    ],
)
def test_level_reasons_say_what_is_typical(name, value, typical, text):
    assert spec(name).describe(value, typical) == text


@pytest.mark.parametrize(
    ("days", "words"),
    [(0.0, "0 days"), (0.01, "under an hour"), (1 / 24, "1 hour"), (0.5, "12 hours"), (1.0, "1 day"),
     (13.0, "13 days"), (14.0, "2 weeks"), (59.0, "8 weeks"), (60.0, "2 months"), (800.0, "2 years")],
)
def test_durations_read_in_the_coarsest_natural_unit(days, words):
    assert duration_words(days) == words


def test_only_model_inputs_without_plain_words_have_no_reason_template():
    from models.modelframe import BGNBD_SPECS

    assert all(s.reason for s in feature_specs(FeatureSettings()))
    assert [s.reason for s in BGNBD_SPECS] == ["", "", ""]


def test_describe_takes_a_bare_value_when_the_template_needs_nothing_else():
    assert spec("complaint_count_30d").describe(3.0) == "3 complaints in the last 30 days"
    with pytest.raises(KeyError):
        spec("open_complaints").describe(2.0)  # needs the row: the age of the oldest complaint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"windows_days": ()}, "windows_days must be one or more whole days from 1 to 3650"),
        ({"browse_window_days": 0}, "browse_window_days must be"),
        ({"wallet_quantile": 1.5}, "wallet_quantile must be in"),
        ({"peak_window_days": 90, "peak_lookback_days": 60}, "peak_lookback_days must be at least"),
        ({"complaint_categories": ("refund", "other")}, "complaint_categories must be distinct names"),
        ({"complaint_categories": ("refund", "refund")}, "complaint_categories must be distinct names"),
        ({"visit_channels": ("Web",)}, "visit_channels must be distinct names of lower-case letters"),
        ({"visit_channels": ("sales visit",)}, "visit_channels must be distinct names"),
    ],
)
def test_settings_refuse_windows_and_thresholds_that_cannot_work(change, message):
    with pytest.raises(ValueError, match=message):
        FeatureSettings(**change)


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (ChurnDefinition, {"horizon_days": 0}, "horizon_days must be from 1 to 3650 days"),
        (ChurnDefinition, {"active_window_days": -1}, "active_window_days must be from 1 to 3650 days"),
        (LifecycleThresholds, {"growth_trend": -1.0}, "growth_trend must be > 0"),
        (LifecycleThresholds, {"decline_trend": 1.5}, "decline_trend .* must be below growth_trend"),
    ],
)
def test_churn_definition_and_lifecycle_thresholds_are_checked(kind, change, message):
    with pytest.raises(ValueError, match=message):
        kind(**change)


@pytest.mark.parametrize(
    ("change", "days"),
    [
        ({}, 365),  # the defaults: 365-day windows
        ({"windows_days": (30, 500)}, 500),
        ({"trend_window_days": 250}, 500),  # a trend reads its window and the one before
        ({"complaint_history_days": 400}, 400),
        ({"peak_window_days": 90, "peak_lookback_days": 420}, 420),
    ],
)
def test_the_longest_lookback_is_the_furthest_any_feature_reads(change, days):
    assert longest_lookback_days(FeatureSettings(**change)) == days


def test_a_business_own_categories_and_channels_name_features_and_reasons():
    settings = FeatureSettings(complaint_categories=["late_delivery", "wrong_item"], visit_channels=["sales_visit"])
    assert settings.complaint_categories == ("late_delivery", "wrong_item")  # YAML lists become tuples
    specs = {s.name: s for s in feature_specs(settings)}
    assert [n for n in specs if n.startswith("complaints_")] == [
        "complaints_late_delivery_365d", "complaints_wrong_item_365d", "complaints_other_365d"]
    assert [n for n in specs if n.startswith("visits_")] == ["visits_sales_visit_90d", "visits_other_90d"]
    assert specs["complaints_late_delivery_365d"].describe(2.0) == "2 late delivery complaints in the last 365 days"
    assert specs["visits_sales_visit_90d"].describe(2.0) == "2 sales visits in the last 90 days"
    assert specs["visits_other_90d"].describe(1.0) == "1 other visit in the last 90 days"
