"""Complaint builders on a cut complaints table."""

from __future__ import annotations

import pandas as pd

from features import FeatureSettings
from features import complaints as cp
from tests.features.conftest import table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)


def complaints_table():
    return table(
        "complaints",
        customer_id=["a", "a", "a", "a", "b"],
        opened_at=[T - 30 * DAY, T - 20 * DAY, T - 5 * DAY, T - 2 * DAY, T - 31 * DAY],
        resolved_at=[T - 28 * DAY, T - 10 * DAY, pd.NaT, pd.NaT, T - 1 * DAY],
        category=["billing", "refund", None, "service", "service"],
        satisfaction=pd.array([4, 1, pd.NA, pd.NA, 2], dtype="Int64"),
    )


DEFAULT_CATEGORIES = FeatureSettings().complaint_categories


def test_categories_outside_the_listed_ones_count_as_other():
    c = complaints_table()
    count = {
        cat: cp.complaint_count_by_category(
            c, as_of=T, window_days=30, category=cat, categories=DEFAULT_CATEGORIES).to_dict()
        for cat in (*DEFAULT_CATEGORIES, "other")
    }
    # "refund" and NA -> other; b's complaint is 31 days old.
    assert count == {
        "product_quality": {},
        "service": {"a": 1.0},
        "price": {},
        "delivery": {},
        "billing": {"a": 1.0},
        "other": {"a": 2.0},
    }



def test_a_business_own_categories_are_counted_apart_when_listed():
    c = complaints_table()  # billing, refund, NA, service, service; b's service complaint is 31 days old
    own = ("refund", "billing")

    def count(category):
        return cp.complaint_count_by_category(c, as_of=T, window_days=30, category=category, categories=own).to_dict()

    assert count("refund") == {"a": 1.0}
    assert count("billing") == {"a": 1.0}
    assert count("other") == {"a": 2.0}  # a's service complaint and the one without a category


def test_open_resolution_and_rating_figures():
    c = complaints_table()
    assert cp.complaint_count(c, as_of=T, window_days=30).to_dict() == {"a": 4.0}
    assert cp.open_complaints(c).to_dict() == {"a": 2.0}
    assert cp.oldest_open_complaint_age_days(c, as_of=T).to_dict() == {"a": 5.0}
    # resolved, opened in the last 30 days: a 2 and 10 days; b's complaint was opened 31 days back.
    assert cp.days_to_resolve_mean(c, as_of=T, window_days=30).to_dict() == {"a": 6.0}
    assert cp.days_to_resolve_max(c, as_of=T, window_days=30).to_dict() == {"a": 10.0}
    assert cp.worst_satisfaction(c, as_of=T, window_days=30).to_dict() == {"a": 1.0}
    assert cp.worst_satisfaction(c, as_of=T, window_days=40).to_dict() == {"a": 1.0, "b": 2.0}
