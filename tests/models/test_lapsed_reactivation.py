"""The lapsed list's reactivation probability: who was lapsed at a cutoff and whether they came back within the
horizon (nothing at or after the cutoff in the inputs), the monotone map fitted on that, and its use on the list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import make_tables, prepare_tables
from models.bgnbd import BgNbdParams, p_alive
from models.lapsed import (
    MIN_CALIBRATION_CUSTOMERS,
    ReactivationMap,
    fit_reactivation,
    lapsed_customers,
    reactivation_outcomes,
)
from tests.models.test_lapsed import (  # SETTINGS: active 30, lookback 60, horizon 30 days
    AS_OF,
    SETTINGS,
    world,
)

CUTOFF = pd.Timestamp("2024-06-03")

PARAMS = BgNbdParams(r=1.0, alpha=5.0, a=1.0, b=3.0)
BEFORE = [
    ("r", "2024-03-10", 50.0), ("r", "2024-04-10", 50.0),  # lapsed (no longer active since 05-11)
    ("n", "2024-04-01", 80.0),  # lapsed, bought once
    ("m", "2024-04-05", 20.0), ("m", "2024-04-20", 20.0),  # lapsed
    ("b", "2024-03-20", 30.0), ("b", "2024-03-27", 30.0),  # lapsed since 04-27
    ("a", "2024-05-20", 10.0),  # still active
    ("old", "2023-10-01", 10.0),  # no longer active long before the lookback
]
AFTER = [
    ("r", "2024-06-20", 40.0),  # r came back within the 30 days from the cutoff
    ("n", "2024-07-03", 40.0),  # n at cutoff + 30 days: too late
    ("m", "2024-06-10", -5.0),  # m only returned goods: no purchase
    ("b", "2024-06-03", 10.0),  # b bought on the cutoff day itself: came back
    ("a", "2024-06-10", 10.0),  # a was never lapsed
]


def tables_of(rows):
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    tx["timestamp"] = pd.to_datetime(tx["timestamp"], format="ISO8601")
    return prepare_tables(make_tables({"transactions": tx}))


def test_who_was_lapsed_at_the_cutoff_and_who_came_back_within_the_horizon():
    out = reactivation_outcomes(tables_of(BEFORE + AFTER), CUTOFF, SETTINGS, PARAMS).set_index("customer_id")
    assert list(out.index) == ["b", "m", "n", "r"]
    assert out["returned"].to_dict() == {"b": True, "m": False, "n": False, "r": True}
    assert out["one_time"].to_dict() == {"b": False, "m": False, "n": True, "r": False}
    # P(alive) from the purchases before the cutoff only, in weeks from the first purchase: r bought again 31 days
    # after its first purchase, 85 days before the cutoff; n bought once: exactly 1.
    by_hand = pd.DataFrame({"frequency": [1.0, 0.0], "recency": [31 / 7, 0.0], "T": [85 / 7, 63 / 7]},
                           index=["r", "n"])
    assert out.loc[["r", "n"], "p_alive"].to_numpy() == pytest.approx(p_alive(PARAMS, by_hand).to_numpy())
    assert out.loc["n", "p_alive"] == 1.0


@pytest.mark.parametrize("future", [
    AFTER,
    [("r", "2024-06-03 00:00", 500.0), ("new", "2024-06-05", 10.0)],  # at the cutoff exactly; a newcomer
    [("m", "2025-01-01", 99.0), ("n", "2024-09-01", -10.0), ("zz", "2030-01-01", 1.0)],
])
def test_the_inputs_at_a_cutoff_do_not_change_when_future_events_are_appended(future):
    inputs = ["customer_id", "p_alive", "one_time"]
    without = reactivation_outcomes(tables_of(BEFORE), CUTOFF, SETTINGS, PARAMS)[inputs]
    with_future = reactivation_outcomes(tables_of(BEFORE + future), CUTOFF, SETTINGS, PARAMS)[inputs]
    pd.testing.assert_frame_equal(with_future, without)


def outcomes(groups: list[tuple[float, int, int]], one_time: tuple[int, int] = (0, 0)) -> pd.DataFrame:
    """Rows of (P(alive), customers, of whom came back) per group; one_time: (customers, came back)."""
    rows = []
    for p, n, back in groups:
        rows += [(p, False, i < back) for i in range(n)]
    rows += [(1.0, True, i < one_time[1]) for i in range(one_time[0])]
    frame = pd.DataFrame(rows, columns=["p_alive", "one_time", "returned"])
    return frame.assign(customer_id=[f"c{i:04d}" for i in range(len(frame))])


def test_the_map_is_the_share_who_came_back_by_p_alive():
    fitted = fit_reactivation(outcomes([(0.1, 100, 10), (0.5, 100, 30)], one_time=(40, 10)), horizon_days=30)
    got = fitted.apply(np.array([0.05, 0.1, 0.3, 0.5, 0.9, 1.0]), np.array([False] * 5 + [True]))
    # 10% at 0.1, 30% at 0.5, linear between, flat beyond; the one-time buyers their own 10 / 40.
    assert got == pytest.approx([0.1, 0.1, 0.2, 0.3, 0.3, 0.25])
    assert (fitted.n_customers, fitted.n_returned, fitted.horizon_days) == (240, 50, 30)
    assert ReactivationMap.from_dict(fitted.to_dict()) == fitted


def test_the_map_never_falls_as_p_alive_rises():
    # 40% came back at P(alive) 0.2 but only 20% at 0.6: pooled, both are 30%.
    fitted = fit_reactivation(outcomes([(0.2, 100, 40), (0.6, 100, 20)]), horizon_days=30)
    assert fitted.apply(np.array([0.2, 0.6]), np.array([False, False])) == pytest.approx([0.3, 0.3])
    assert fitted.one_time_rate is None  # no one-time buyers seen: they get the map's value at P(alive) 1
    assert fitted.apply(np.array([1.0]), np.array([True])) == pytest.approx([0.3])


def test_too_few_lapsed_customers_fit_no_map():
    assert fit_reactivation(outcomes([(0.3, MIN_CALIBRATION_CUSTOMERS - 1, 5)], one_time=(500, 5)), 30) is None


def test_the_list_says_the_maps_share_and_bgnbd_without_one():
    tables = prepare_tables(make_tables(world()))
    fitted = ReactivationMap(p_alive=(0.0, 1.0), rate=(0.01, 0.03), one_time_rate=0.05, n_customers=500,
                             n_returned=10, horizon_days=30)
    plain = lapsed_customers(tables, AS_OF, SETTINGS, PARAMS).set_index("customer_id")
    mapped = lapsed_customers(tables, AS_OF, SETTINGS, PARAMS, fitted).set_index("customer_id")
    # f bought once (BG/NBD: P(alive) = 1): the one-time rate; the others 0.01 + 0.02 x their P(alive).
    assert mapped.loc["f", "reactivation_probability"] == pytest.approx(0.05)
    others = plain.index.drop("f")
    assert mapped.loc[others, "reactivation_probability"].to_numpy() == pytest.approx(
        0.01 + 0.02 * plain.loc[others, "reactivation_probability"].to_numpy())
    assert mapped.drop(columns="reactivation_probability").equals(plain.drop(columns="reactivation_probability"))
