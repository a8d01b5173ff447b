"""Relationship builders (account manager, segment) and the lifecycle-stage rule."""

from __future__ import annotations

import pandas as pd

from features import lifecycle, relationship
from models.owners import ACCOUNT_MANAGER, SUCCESSOR, customer_owners
from tests.features.conftest import SETTINGS, table

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)

CUSTOMERS = table(
    "customers",
    customer_id=["a", "b", "c", "d", "e"],
    account_manager_id=["m1", "m2", "m3", None, "m1"],
    segment=["x", None, "y", "x", "x"],
)
MANAGERS = table("account_managers", account_manager_id=["m1", "m2"], departed_at=[T - 21 * DAY, pd.NaT])


def test_account_manager_flags_and_departure_age():
    # m1 left 21 days back; m2 is employed; m3 has no account_managers row (taken as employed); d has none.
    assert relationship.has_account_manager(CUSTOMERS, MANAGERS, as_of=T).to_dict() == {
        "a": 0.0,
        "b": 1.0,
        "c": 1.0,
        "d": 0.0,
        "e": 0.0,
    }
    departed = relationship.days_since_manager_departed(CUSTOMERS, MANAGERS, as_of=T, cap_days=365)
    assert departed.to_dict() == {"a": 21.0, "e": 21.0}
    capped = relationship.days_since_manager_departed(CUSTOMERS, MANAGERS, as_of=T, cap_days=14)
    assert capped.to_dict() == {"a": 14.0, "e": 14.0}
    no_managers = table("account_managers", account_manager_id=[])
    assert relationship.days_since_manager_departed(CUSTOMERS, no_managers, as_of=T, cap_days=365).empty


def test_a_manager_listed_twice_takes_its_last_row():
    # m1 first listed as employed, then as departed 10 days back; m2 the other way round: the last row counts.
    managers = table(
        "account_managers",
        account_manager_id=["m1", "m2", "m1", "m2"],
        departed_at=[pd.NaT, T - 30 * DAY, T - 10 * DAY, pd.NaT],
    )
    departed = relationship.days_since_manager_departed(CUSTOMERS, managers, as_of=T, cap_days=365)
    assert departed.to_dict() == {"a": 10.0, "e": 10.0}
    assert relationship.has_account_manager(CUSTOMERS, managers, as_of=T).to_dict() == {
        "a": 0.0,
        "b": 1.0,
        "c": 1.0,
        "d": 0.0,
        "e": 0.0,
    }


# Successors at T: (manager, departed_at, successor_id, team_lead_id) and whether its customers have a manager.
SUCCESSION = [
    ("m1", T - 21 * DAY, "s1", None, 1.0),  # left; successor s1 employed
    ("s1", pd.NaT, None, None, 1.0),
    ("m2", T - 30 * DAY, "m3", None, 1.0),  # left; m3 left too (T - 5), m3's successor s2 is employed
    ("m3", T - 5 * DAY, "s2", None, 1.0),
    ("s2", pd.NaT, None, None, 1.0),
    ("m4", T - 10 * DAY, "m5", None, 0.0),  # left; successor m5 left before T with nobody after
    ("m5", T - 2 * DAY, None, None, 0.0),
    ("m6", T + 3 * DAY, None, None, 1.0),  # leaves after T: still the manager at T
    ("m7", T - 10 * DAY, "m8", None, 1.0),  # left; successor m8 leaves only after T
    ("m8", T + 5 * DAY, None, None, 1.0),
    ("m9", T - 10 * DAY, "x9", None, 1.0),  # successor without a row: taken to be employed
    ("m10", T, None, None, 1.0),  # leaves on T itself, not before it
    ("m11", T - 10 * DAY, "m12", None, 0.0),  # successors in a circle, both gone
    ("m12", T - 20 * DAY, "m11", None, 0.0),
    ("m13", T - 10 * DAY, None, "s1", 0.0),  # a team lead takes over: not an account manager
]


def test_a_successor_who_had_not_left_by_as_of_is_an_account_manager():
    ids = [row[0] for row in SUCCESSION]
    managers = table(
        "account_managers",
        account_manager_id=ids,
        departed_at=[row[1] for row in SUCCESSION],
        successor_id=[row[2] for row in SUCCESSION],
        team_lead_id=[row[3] for row in SUCCESSION],
    )
    customers = table("customers", customer_id=[f"c_{m}" for m in ids] + ["none"],
                      account_manager_id=[*ids, None])
    flags = relationship.has_account_manager(customers, managers, as_of=T)
    assert flags.to_dict() == {**{f"c_{m}": expected for m, *_, expected in SUCCESSION}, "none": 0.0}
    # The same answer as the owner resolution: the customer's owner is an account manager or a successor.
    owners = customer_owners(customers["account_manager_id"], managers, T)
    by_owner = owners["owner_status"].isin([ACCOUNT_MANAGER, SUCCESSOR]).astype(float)
    assert dict(zip(customers["customer_id"], by_owner, strict=True)) == flags.to_dict()
    # Six days later m6, m8 (so m7's customers too) and m10 have left as well.
    later = relationship.has_account_manager(customers, managers, as_of=T + 6 * DAY)
    assert later[["c_m6", "c_m7", "c_m8", "c_m10"]].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert later[["c_m1", "c_m2", "c_m9"]].tolist() == [1.0, 1.0, 1.0]


def test_segment_na_is_unknown():
    assert relationship.segment(CUSTOMERS).to_dict() == {
        "a": "x",
        "b": "unknown",
        "c": "y",
        "d": "x",
        "e": "x",
    }


def test_lifecycle_rules_apply_in_order():
    t = SETTINGS.lifecycle  # acquisition 30 days, growth 1.25, decline 0.75 / 1.5 overdue, churned 3.0 and 20 days
    frame = pd.DataFrame(
        [  # tenure, orders_trend, spend_trend, days_since, overdue -> stage
            (10, 1.0, 1.0, 25, 3.0, "churned"),  # churned beats acquisition
            (10, 1.0, 1.0, 19, 3.0, "acquisition"),  # too few silent days to be churned
            (10, 0.1, 0.1, 5, 1.0, "acquisition"),  # acquisition beats decline
            (30, 2.0, 0.75, 5, 1.0, "decline"),  # decline beats growth; tenure 30 is past acquisition
            (300, 1.0, 1.0, 5, 1.5, "decline"),  # overdue
            (300, 1.0, 1.25, 5, 1.0, "growth"),
            (300, 1.2, 0.8, 5, 1.4, "maturity"),
        ],
        columns=["tenure", "orders", "spend", "days", "overdue", "stage"],
    )
    stage = lifecycle.lifecycle_stage(
        frame.tenure, frame.orders, frame.spend, frame.days, frame.overdue, thresholds=t
    )
    assert stage.tolist() == frame.stage.tolist()
    assert set(frame.stage) == set(lifecycle.LIFECYCLE_STAGES)


def test_lifecycle_stage_lines_up_inputs_by_customer_not_by_position():
    t = SETTINGS.lifecycle
    # "a" (400 days a customer) has been silent 500 days, 4 usual gaps: churned; "b" (10 days) bought 10 days ago:
    # acquisition. Every input but tenure lists "b" first: by position the two would swap.
    tenure = pd.Series([400.0, 10.0], index=["a", "b"])
    flat = pd.Series([1.0, 1.0], index=["b", "a"])
    days = pd.Series([10.0, 500.0], index=["b", "a"])
    overdue = pd.Series([0.5, 4.0], index=["b", "a"])
    stage = lifecycle.lifecycle_stage(tenure, flat, flat, days, overdue, thresholds=t)
    assert stage.to_dict() == {"a": "churned", "b": "acquisition"}
