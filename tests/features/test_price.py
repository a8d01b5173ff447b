"""Price builders: promotion share, discount depth, list-price rises and the reaction to them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import price
from tests.features.conftest import table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)


def tx(**columns):
    columns["timestamp"] = [T - d * DAY for d in columns.pop("days_back")]
    return table("transactions", **columns)


def test_promo_share_of_gross_purchases_with_na_as_not_promo():
    t = tx(
        customer_id=["a", "a", "a", "a", "b"],
        days_back=[1, 2, 3, 40, 1],
        amount=[30.0, 10.0, -50.0, 60.0, 5.0],
        promo=pd.array([True, pd.NA, True, True, pd.NA], dtype="boolean"),
    )
    # a: 30 on promo of 40 gross in the 30-day window (the return and the 40-day-old row do not count).
    share = price.promo_share(t, as_of=T, window_days=30)
    assert share.to_dict() == {"a": 0.75, "b": 0.0}
    assert share.name == "promo_share_30d"


def test_discount_depth_is_clipped_and_skips_rows_without_a_list_amount():
    t = tx(
        customer_id=["a", "a", "a", "a", "b"],
        days_back=[1, 2, 3, 4, 1],
        amount=[80.0, 120.0, 50.0, -10.0, 5.0],
        list_amount=[100.0, 100.0, 0.0, 10.0, None],
    )
    # a: 0.2 and (1 - 120/100 clipped to) 0; list 0 and the return are skipped; b has no list amount.
    assert price.discount_depth(t, as_of=T, window_days=30).to_dict() == {"a": pytest.approx(0.1)}


def rises(rows, **overrides):
    """Category price rises from (customer, category, days_back, list_amount, quantity) rows."""
    customer, category, days_back, list_amount, quantity = zip(*rows)
    t = tx(
        customer_id=list(customer),
        days_back=list(days_back),
        amount=list(list_amount),
        list_amount=list(list_amount),
        quantity=list(quantity),
        category=list(category),
    )
    params = {
        "as_of": T,
        "period_days": 7,
        "history_days": 28,
        "min_share": 0.05,
        "lookback_days": 14,
        "min_observations": 1,
    } | overrides
    return price.category_price_rises(t, **params).to_dict()


def test_price_rises_compare_a_customers_unit_price_with_their_previous_one():
    # periods of 7 days back from T: p0 = [T-7, T) (days back 1..7), p1 = days back 8..14, ...
    found = rises(
        [
            ("x", "above", 25, 100.0, 10.0),
            ("x", "above", 3, 105.5, 10.0),  # +5.5%: a rise, dated T-7
            ("x", "below", 25, 100.0, 10.0),
            ("x", "below", 3, 104.9, 10.0),  # +4.9%: none
            ("x", "fall", 25, 100.0, 10.0),
            ("x", "fall", 3, 50.0, 10.0),  # a fall: none
            ("x", "old", 27, 10.0, 1.0),
            ("x", "old", 20, 20.0, 1.0),
            ("x", "old", 10, 20.0, 1.0),  # rise at T-21
            ("x", "unit", 10, 10.0, 1.0),
            ("x", "unit", 3, 30.0, 5.0),  # unit price 10 -> 6, a fall
            ("x", "twice", 26, 10.0, 1.0),
            ("x", "twice", 12, 11.0, 1.0),
            ("x", "twice", 2, 12.0, 1.0),  # latest T-7
            ("x", "mix", 25, 10.0, 1.0),
            ("y", "mix", 24, 100.0, 1.0),  # two customers, two price levels:
            ("x", "mix", 3, 10.0, 1.0),
            ("y", "mix", 2, 100.0, 1.0),  # each pays what they paid before
            ("x", "single", 20, 10.0, 1.0),
            ("y", "single", 3, 50.0, 1.0),  # no customer bought it twice
        ]
    )
    assert found == {"above": T - 7 * DAY, "twice": T - 7 * DAY}


def test_rise_needs_enough_observations_and_a_quantity():
    rows = [
        ("x", "c", 15, 10.0, 1.0),
        ("x", "c", 14, 12.0, 1.0),
        ("y", "c", 20, 10.0, 1.0),
        ("y", "c", 9, 10.0, 1.0),
    ]
    # p1 (days back 8..14) holds x's +20% and y's 0%: mean log ratio log(1.2) / 2 = +9.5%, from 2 ratios.
    assert rises(rows) == {"c": T - 14 * DAY}  # the lookback's first day counts
    assert rises(rows, min_observations=2) == {"c": T - 14 * DAY}
    assert rises(rows, min_observations=3) == {}
    assert rises([(c, k, d, amount, None) for c, k, d, amount, _ in rows]) == {}


def test_exposure_and_spend_since_the_rise():
    risen = pd.Series([T - 10 * DAY], index=pd.Index(["food"], dtype="str"))
    t = tx(
        customer_id=["a", "a", "a", "a", "b", "c"],
        days_back=[25, 15, 5, 2, 3, 1],
        amount=[100.0, 40.0, 30.0, 20.0, 10.0, 10.0],
        category=["food", "food", "food", "tools", "tools", "food"],
    )
    # a: food since T-10: 30; the 10 days before (T-20..T-10): 40 -> 0.75; T-25 is outside both spans.
    # gross in 30 days: 190, of it food 170.
    exposure = price.price_rise_exposure_share(t, risen, as_of=T, window_days=30)
    assert exposure.to_dict() == {"a": 170 / 190, "b": 0.0, "c": 1.0}
    trend = price.spend_trend_since_price_rise(t, risen, as_of=T, cap=10.0)
    assert trend.to_dict() == {"a": 30 / 40, "c": 10.0}
    no_rises = pd.Series([], dtype="datetime64[ns]", index=pd.Index([], dtype="str"))
    assert price.spend_trend_since_price_rise(t, no_rises, as_of=T, cap=10.0).empty
    assert price.price_rise_exposure_share(t, no_rises, as_of=T, window_days=30).empty


def test_price_change_cells_count_repeat_ratios_in_fixed_point_ticks_and_add_up_over_customers():
    rows = [  # (customer, category, days_back, list_amount, quantity)
        ("a", "tools", 20, 10.0, 1.0),
        ("a", "tools", 3, 22.0, 2.0),  # unit 10 -> 11, in period 0 (days back 1..7)
        ("b", "tools", 9, 40.0, 4.0),
        ("b", "tools", 2, 12.0, 1.0),  # unit 10 -> 12, period 0
        ("b", "toys", 16, 5.0, 1.0),
        ("b", "toys", 10, 4.0, 1.0),  # unit 5 -> 4, period 1 (days back 8..14)
    ]

    def cells(subset):
        customer, category, days_back, list_amount, quantity = zip(*subset)
        t = tx(customer_id=list(customer), days_back=list(days_back), amount=list(list_amount),
               list_amount=list(list_amount), quantity=list(quantity), category=list(category))
        return price.price_change_cells(t, as_of=T, period_days=7, history_days=28)

    both = price.combine_price_cells([cells(rows)])
    ticks = price.PRICE_TICKS_PER_UNIT
    expected = pd.DataFrame(
        {
            "category": ["tools", "toys"],
            "periods_back": [0, 1],
            "n_ratios": [2, 1],
            "change_ticks": [round(np.log(1.1) * ticks) + round(np.log(1.2) * ticks), round(np.log(0.8) * ticks)],
        }
    )
    pd.testing.assert_frame_equal(both, expected, check_dtype=False)
    # customers computed apart and added up give the same cells, exactly
    apart = price.combine_price_cells([cells(rows[:2]), cells(rows[2:])])
    pd.testing.assert_frame_equal(apart, both, check_exact=True)
