"""Campaign periods, the arms check, first appearances, the evaluation frame and measured save rates, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.campaign import (
    ListInfo,
    arm_check,
    campaign_customers,
    campaign_period,
    first_appearances,
    measured_rate_words,
    measured_save_rates,
    pooled_arm_check,
)
from models.uplift import evaluate_cells

T1, T2 = pd.Timestamp("2025-07-07"), pd.Timestamp("2025-07-14")
DAY = pd.Timedelta(days=1)


def draw(ids, campaign: str) -> np.ndarray:
    """The campaign's stable uniform draw, computed here as the contract states it: SipHash of "id|campaign"."""
    keys = pd.Series(list(ids), dtype="str") + "|" + campaign
    return pd.util.hash_pandas_object(keys, index=False).to_numpy() / 2.0**64


@pytest.mark.parametrize(("as_of", "start"), [
    ("2025-12-29", "2025-10-06"), ("2025-10-06", "2025-10-06"), ("2025-10-05", "2025-07-07"),
    ("2025-01-06", "2025-01-06"), ("2024-12-30", "2024-10-07"),  # before the anchor: 2025-01-06 - 91 days
])
def test_the_campaign_of_a_date_is_the_13_week_period_holding_it(as_of, start):
    period = campaign_period(pd.Timestamp(as_of), name="retention", weeks=13, start="2025-01-06")
    assert period.id == f"retention-{start}"
    assert (period.start, period.end) == (pd.Timestamp(start), pd.Timestamp(start) + 91 * DAY)


def rows(as_of, ids, arms, tiers=None, lst="worklist", value=100.0):
    """List rows: arm "T" treated, "C" control, "-" not planned."""
    n = len(ids)
    return pd.DataFrame({
        "as_of": as_of, "list": lst, "customer_id": ids, "churn_probability": 0.3, "customer_value": value,
        "value_tier": tiers or ["A"] * n, "in_target": [a == "T" for a in arms], "control_group": [a == "C" for a in arms],
        "action_id": ["care_call" if a != "-" else None for a in arms], "owner_id": [None] * n,
    })


def test_a_customer_is_counted_at_the_first_list_that_planned_them():
    lists = pd.concat([rows(T1, ["a", "b", "c"], ["C", "-", "-"]), rows(T2, ["a", "b", "d"], ["C", "T", "-"])],
                      ignore_index=True)
    first = first_appearances(lists)
    assert first[["customer_id", "as_of"]].values.tolist() == [["a", T1], ["b", T2]]


def test_the_arms_check_tests_the_new_customers_and_checks_every_planned_arm_against_the_draw():
    campaign = "retention-2025-07-07"
    ids = [f"C{i:05d}" for i in range(400)]
    control = draw(ids, campaign) < 0.5
    listed = rows(T1, ids, ["C" if c else "T" for c in control], tiers=["A"] * 200 + ["B"] * 200)
    info = ListInfo(T1, campaign, 0.5, 90)
    entering = listed.iloc[:300]  # the other 100 were in the campaign before: planned, but not new
    check = arm_check(listed, entering, info)
    new_control = int(control[:300].sum())
    assert (check["planned"], check["treated_n"], check["control_n"], check["off_draw"]) == (
        400, 300 - new_control, new_control, 0)
    chi = (new_control - 150) ** 2 / 150 * 2  # by hand: one degree of freedom, sf = erfc(sqrt(chi / 2))
    assert check["srm_p_value"] == pytest.approx(math.erfc(math.sqrt(chi / 2)), rel=1e-6) and check["passed"]
    # Moving 60 controls into the treated arm: the ratio check fails and the moved rows are off the draw.
    moved = np.flatnonzero(control)[:60]
    tampered = listed.copy()
    tampered.loc[moved, "control_group"], tampered.loc[moved, "in_target"] = False, True
    check = arm_check(tampered, tampered, info)
    assert not check["passed"] and check["srm_p_value"] < 1e-3
    assert check["off_draw"] == 60 and set(check["off_draw_ids"]) == {ids[i] for i in moved}


def test_the_evaluation_frame_has_the_outcome_after_the_first_list_and_the_logged_contacts():
    first = pd.concat([rows(T1, ["a", "b", "c"], ["T", "T", "C"]), rows(T2, ["d"], ["T"])], ignore_index=True)
    first["action_id"] = ["care_call", "care_email", "care_call", "care_call"]
    transactions = pd.DataFrame({
        "customer_id": ["a", "b", "b", "c", "d"],
        # a buys on day 30 (kept); b only returns and buys exactly at the horizon's end (churned); c buys the day
        # before T1 (churned); d buys on T2 (kept: the window is [T2, T2 + 90))
        "timestamp": [T1 + 30 * DAY, T1 + 5 * DAY, T1 + 90 * DAY, T1 - DAY, T2],
        "amount": [10.0, -5.0, 8.0, 3.0, 1.0],
    })
    contacts = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "d"],
        # a twice (one logged action without a cost: the planned action's), b after the window, c (a control) once
        "contacted_at": [T1 + 2 * DAY, T1 + 40 * DAY, T1 + 95 * DAY, T1 + 3 * DAY, T2 - DAY],
        "action": ["care_call", "thank_you_card", "care_email", "care_senior_call", "care_call"],
    })
    costs = {"care_call": 30.0, "care_email": 0.5, "care_senior_call": 80.0}
    frame = campaign_customers(first, transactions, contacts, costs, {T1: 90, T2: 90})
    assert frame["churned"].tolist() == [False, True, True, False]
    assert frame["treated"].tolist() == [True, True, False, True]
    assert frame["contacted"].tolist() == [True, False, True, False]  # d's contact was before T2
    assert frame["contacts"].tolist() == [2, 0, 1, 0]
    assert frame["cost"].tolist() == [60.0, 0.0, 80.0, 0.0]
    without_log = campaign_customers(first, transactions, None, costs, {T1: 90, T2: 90})
    assert without_log["contacted"].isna().all()
    assert without_log["cost"].tolist() == [30.0, 0.5, 0.0, 30.0]  # each treated customer at the planned cost


def test_pooled_arm_check_by_tier():
    customers = pd.DataFrame({"treated": [True] * 9 + [False] + [True] * 5, "value_tier": ["A"] * 10 + ["B"] * 5})
    pooled = pooled_arm_check(customers, 0.1).set_index("value_tier")
    assert pooled.loc["A", ["treated_n", "control_n"]].tolist() == [9, 1]
    assert pooled.loc["A", "srm_p_value"] == pytest.approx(1.0)
    assert pooled.loc["all", ["treated_n", "control_n"]].tolist() == [14, 1]


def test_measured_save_rates_are_uplift_over_control_churn_shrunk_to_the_prior():
    cells = pd.DataFrame({
        "group": ["overall", "action", "action", "action", "action", "action"],
        "level": ["all", "call", "email", "letter", "fax", "visit"],
        "treated_n": [0, 900, 50, 500, 10, 90], "control_n": [0, 100, 0, 500, 10, 10],
        "control_churn_rate": [0.4, 0.4, np.nan, 0.2, 0.3, 0.1], "uplift": [0.1, 0.1, np.nan, -0.1, 0.0, -0.3],
        "uplift_ci_low": [0.0, 0.02, np.nan, -0.15, -0.3, -0.6], "uplift_ci_high": [0.2, 0.18, np.nan, -0.05, 0.3, 0.1],
    })
    priors = {"call": 0.2, "email": 0.05, "letter": 0.1, "visit": 0.15}
    rates = measured_save_rates(cells, priors, strength=1000).set_index("action")
    assert list(rates.index) == ["call", "email", "letter", "visit"]  # fax has no prior: nothing to replace
    # call: 0.1 / 0.4 = 0.25 measured on 900 + 100 customers, as precise as an even split of 4 / (1/900 + 1/100) = 360
    assert rates.loc["call", "measured"] == pytest.approx(0.25)
    assert rates.loc["call", "effective_customers"] == pytest.approx(360.0)
    assert rates.loc["call", "used"] == pytest.approx((360 * 0.25 + 1000 * 0.2) / 1360)
    assert math.isnan(rates.loc["email", "measured"]) and rates.loc["email", "used"] == 0.05  # no control: the prior
    # letter: -0.1 / 0.2 = -0.5 on an even 1000; shrunk (1000 x -0.5 + 1000 x 0.1) / 2000 = -0.2, kept at 0
    assert rates.loc["letter", "measured"] == pytest.approx(-0.5) and rates.loc["letter", "used"] == 0.0
    # visit: -3.0 measured, but 10 control customers are too few to tell: the prior stands
    assert rates.loc["visit", "measured"] == pytest.approx(-3.0) and rates.loc["visit", "used"] == 0.15
    # a report shows a measured rate only where it counts
    assert measured_rate_words(rates.reset_index()) == [
        "25%", "too small to tell (50 treated, 0 control)", "-50%", "too small to tell (90 treated, 10 control)",
    ]


def test_the_effect_on_the_contacted_divides_the_uplift_by_the_gap_in_contacted_shares():
    n = 400
    frame = pd.DataFrame({
        "treated": [True] * n + [False] * n,
        "churned": [i < 80 for i in range(n)] + [i < 120 for i in range(n)],  # 20% vs 30%
        "contacted": pd.array([i < 300 for i in range(n)] + [i < 20 for i in range(n)], dtype="boolean"),
        "churn_probability": 0.3, "customer_value": 10.0, "cost": 0.0,
    })
    overall = evaluate_cells(frame, {}, control_share=0.5, effect_of_interest=0.05).iloc[0]
    assert overall["treated_contacted_share"] == 0.75 and overall["control_contacted_share"] == 0.05
    assert overall["effect_on_contacted"] == pytest.approx(0.1 / 0.7)
    assert overall["effect_on_contacted_ci_low"] == pytest.approx(overall["uplift_ci_low"] / 0.7)
