"""The contact plan: expected net value per allowed action, greedy filling of channel capacities, control group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.plan import Action, Playbook, allowed_actions, control_arm, deciding_families, plan_contacts

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


def plan(allowed, probability, value, capacity, *, share=0.0, order=None, campaign="retention-2024-06-03",
         keys=None, recently_contacted=None):
    n = len(allowed)
    keys = pd.Series([f"c{i:03d}" for i in range(n)], dtype="str") if keys is None else pd.Series(keys, dtype="str")
    return plan_contacts(
        allowed, np.asarray(probability, dtype=float), np.asarray(value, dtype=float), PLAYBOOK, capacity,
        order=np.arange(n) if order is None else np.asarray(order), keys=keys, campaign_id=campaign,
        control_share=share, recently_contacted=recently_contacted,
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
        result = plan(allowed, rng.random(n), rng.lognormal(5, 1.5, n), capacity, share=0.1)
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


def test_the_control_group_is_the_planned_rows_whose_campaign_draw_is_below_the_share():
    n = 100
    allowed = [("em",)] * 90 + [()] * 10
    result = plan(allowed, np.full(n, 0.5), np.full(n, 100.0), {"email": None}, share=0.1)
    keys = pd.Series([f"c{i:03d}" for i in range(n)], dtype="str")
    drawn = control_arm(keys, "retention-2024-06-03", 0.1)
    assert (result.control == (drawn & (np.arange(n) < 90))).all()  # the 10 without actions are never control
    assert (result.status[result.control] == "control").all()
    assert result.contacted.sum() == 90 - result.control.sum()


def test_a_customers_arm_is_theirs_for_the_whole_campaign_whoever_else_is_listed():
    """Week after week the list holds other customers in another order: each customer's arm stays the same for the
    campaign, and a new campaign draws anew."""
    ids = [f"C{i:05d}" for i in range(4000)]
    week_one = plan([("em",)] * 4000, np.full(4000, 0.5), np.full(4000, 100.0), {"email": None}, share=0.1, keys=ids)
    arm_one = pd.Series(week_one.control, index=ids)
    rng = np.random.default_rng(0)
    later = list(rng.permutation(ids[1000:])) + [f"N{i:05d}" for i in range(500)]  # some gone, some new
    week_two = plan([("em",)] * len(later), np.full(len(later), 0.5), np.full(len(later), 100.0), {"email": None},
                    share=0.1, keys=later)
    arm_two = pd.Series(week_two.control, index=later)
    assert arm_two[ids[1000:]].equals(arm_one[ids[1000:]].reindex(ids[1000:]))
    # the share holds in expectation: 10% of 4000 = 400, sd = sqrt(4000 x 0.09) = 19
    assert abs(int(arm_one.sum()) - 400) < 4 * 19
    next_campaign = plan([("em",)] * 4000, np.full(4000, 0.5), np.full(4000, 100.0), {"email": None}, share=0.1,
                         keys=ids, campaign="retention-2024-09-02")
    both = int((next_campaign.control & week_one.control).sum())
    # drawn independently: about 0.1 x 0.1 x 4000 = 40 customers in control in both campaigns, not ~400
    assert 10 < both < 80 and abs(int(next_campaign.control.sum()) - 400) < 4 * 19


def test_customers_contacted_too_recently_are_passed_over_and_their_slot_goes_to_the_next():
    # Two senior calls a week: rows 0 and 1 are the best, but row 0 was just contacted, so rows 1 and 2 get them.
    allowed = [("sm",)] * 4
    result = plan(allowed, [0.9, 0.8, 0.7, 0.6], [1000.0] * 4, {"senior_manager_call": 2},
                  recently_contacted=np.array([True, False, False, False]))
    assert result.status.tolist() == ["recently_contacted", "contact", "contact", "capacity"]
    assert result.expected_net_value[0] == pytest.approx(0.9 * 0.5 * 1000 - 50)  # what the contact would be worth
    assert not result.control.any()


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
