"""The contact plan: expected net value per allowed action, greedy filling of channel capacities, control group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.plan import Action, Playbook, allowed_actions, deciding_families, plan_contacts

ACTIONS = {
    "sm": Action("sm", "senior_manager_call", "senior call", cost=50.0, save_rate=0.5),
    "am": Action("am", "account_manager_call", "manager call", cost=10.0, save_rate=0.3),
    "em": Action("em", "email", "an email", cost=1.0, save_rate=0.1),
}
PLAYBOOK = Playbook(
    actions=ACTIONS,
    priority=("complaint", "price"),
    families={
        "complaint": {"A": ("sm", "am", "em"), "B": ("am", "em"), "C": ("em",)},
        "price": {"A": ("am",), "B": ("em",), "C": ()},
    },
    default={"A": ("sm",), "B": ("am",), "C": ("em",)},
    lapsed={"A": ("sm", "em"), "B": ("em",)},
)


def plan(allowed, probability, value, capacity, *, share=0.0, strata=None, order=None, salt="2024-06-03"):
    n = len(allowed)
    keys = pd.Series([f"c{i:03d}" for i in range(n)], dtype="str")
    return plan_contacts(
        allowed, np.asarray(probability, dtype=float), np.asarray(value, dtype=float), PLAYBOOK, capacity,
        order=np.arange(n) if order is None else np.asarray(order), strata=np.array(strata or ["A"] * n),
        keys=keys, control_share=share, salt=salt,
    )


def test_greedy_plan_by_hand():
    everything = ("sm", "am", "em")
    allowed = [everything, everything, everything, ("am", "em"), ("em",), (), ("sm",)]
    probability = [0.5, 0.4, 0.2, 0.1, 0.9, 0.5, 0.45]
    value = [1000, 1000, 1000, 50, 100, 1000, 1000]
    result = plan(allowed, probability, value, {"senior_manager_call": 1, "account_manager_call": 1, "email": None})
    # ENV = p x save x value - cost:
    # r0: sm .5*.5*1000-50 = 200, am .5*.3*1000-10 = 140, em 50-1 = 49
    # r1: sm 150, am 110, em 39;  r2: sm 50, am 50, em 19;  r3: am 1.5-10 = -8.5, em .5-1 = -.5;  r4: em 9-1 = 8
    # r6: sm .45*.5*1000-50 = 175.  Best first: r0 sm 200 (takes the one senior call), r6 sm 175 (full, and
    # nothing else allowed), r1 sm 150 (full), r1 am 110 (takes the one manager call), r2 sm 50 and am 50
    # (full), r2 em 19, r4 em 8; r3's best is -0.5: not worth it; r5 has no allowed action.
    assert result.action.tolist() == ["sm", "am", "em", None, "em", None, None]
    assert result.expected_net_value[[0, 1, 2, 3, 4, 6]] == pytest.approx([200, 110, 19, -0.5, 8, 175])
    assert np.isnan(result.expected_net_value[5])
    assert result.status.tolist() == [
        "contact", "contact", "contact", "not_worth", "contact", "not_eligible", "capacity",
    ]
    assert result.blocked_channel.tolist() == [None] * 6 + ["senior_manager_call"]
    assert result.contacted.tolist() == [True, True, True, False, True, False, False]
    assert not result.control.any()


def test_equal_value_goes_to_the_row_first_in_order():
    allowed = [("sm",), ("sm",)]
    first = plan(allowed, [0.5, 0.5], [1000, 1000], {"senior_manager_call": 1}, order=[1, 0])
    assert first.status.tolist() == ["capacity", "contact"]


def test_capacity_is_never_exceeded_and_every_contact_is_worth_it_on_random_rows():
    rng = np.random.default_rng(3)
    choices = [("sm", "am", "em"), ("am", "em"), ("em",), ("sm",), ("am",), ()]
    for _ in range(20):
        n = int(rng.integers(1, 400))
        allowed = [choices[i] for i in rng.integers(0, len(choices), n)]
        capacity = {"senior_manager_call": int(rng.integers(0, 20)), "account_manager_call": int(rng.integers(0, 60)),
                    "email": None if rng.random() < 0.5 else int(rng.integers(0, 100))}
        result = plan(allowed, rng.random(n), rng.lognormal(5, 1.5, n), capacity,
                      share=0.1, strata=list(rng.choice(["A", "B", "C"], n)))
        contacted = result.contacted
        channels = pd.Series([ACTIONS[a].channel for a in result.action[contacted]], dtype=object)
        for channel, limit in capacity.items():
            used = int((channels == channel).sum())
            assert limit is None or used <= limit
        assert (result.expected_net_value[contacted] > 0).all()
        assert not (result.control & contacted).any()
        assert all(a is not None for a in result.action[result.control])  # controls were planned
        assert all(a in allowed[i] for i, a in enumerate(result.action) if a is not None)
        # nobody left out for capacity while their channel still had room
        for i in np.flatnonzero(result.status == "capacity"):
            limit = capacity.get(result.blocked_channel[i])
            assert limit is not None
            planned_there = sum(ACTIONS[a].channel == result.blocked_channel[i] for a in result.action if a)
            assert planned_there == limit


def test_control_is_drawn_among_the_planned_rows_in_each_stratum():
    n = 100
    allowed = [("em",)] * 90 + [()] * 10
    strata = ["A"] * 30 + ["B"] * 60 + ["A"] * 10
    result = plan(allowed, np.full(n, 0.5), np.full(n, 100.0), {"email": None}, share=0.1, strata=strata)
    # planned: 30 in A, 60 in B -> round(3.0) = 3 and round(6.0) = 6 controls; the 10 without actions never
    assert result.control[:30].sum() == 3 and result.control[30:90].sum() == 6 and not result.control[90:].any()
    assert (result.status[result.control] == "control").all()
    assert result.contacted.sum() == 81
    again = plan(allowed, np.full(n, 0.5), np.full(n, 100.0), {"email": None}, share=0.1, strata=strata)
    assert (again.control == result.control).all()
    other_week = plan(allowed, np.full(n, 0.5), np.full(n, 100.0), {"email": None}, share=0.1, strata=strata,
                      salt="2024-06-10")
    assert (other_week.control != result.control).any()


def test_deciding_family_and_allowed_actions():
    has_family = pd.DataFrame({"price": [True, True, False, False], "complaint": [True, False, False, True],
                               "wallet": [False, False, True, False]})
    families = deciding_families(has_family, PLAYBOOK.priority)
    assert families.tolist() == ["complaint", "price", None, "complaint"]
    allowed = allowed_actions(PLAYBOOK, families, np.array(["A", "C", "B", "C"]))
    assert allowed == [("sm", "am", "em"), (), ("am",), ("em",)]


def test_save_rates_can_be_replaced():
    measured = PLAYBOOK.with_save_rates({"em": 0.2})
    assert measured.actions["em"].save_rate == 0.2 and measured.actions["sm"].save_rate == 0.5
    assert PLAYBOOK.actions["em"].save_rate == 0.1
    with pytest.raises(KeyError, match="no such action"):
        PLAYBOOK.with_save_rates({"fax": 0.5})


def test_a_contact_worth_less_than_a_cent_is_not_worth_it():
    # email: 0.1 x 0.1 x 100.04 - 1 = 0.0004 (shows as 0.00) and 0.1 x 0.1 x 101 - 1 = 0.01
    result = plan([("em",), ("em",)], [0.1, 0.1], [100.04, 101.0], {"email": None})
    assert result.status.tolist() == ["not_worth", "contact"]
    assert result.expected_net_value.tolist() == pytest.approx([0.0, 0.01])
