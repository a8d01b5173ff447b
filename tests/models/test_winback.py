"""The win-back list: ABC tiers, ranking, control group, target flags, playbook actions, spreadsheet safety."""

from __future__ import annotations

import pandas as pd
import pytest

from models.winback import (
    WINBACK_COLUMNS,
    Playbook,
    build_winback_list,
    control_group,
    rank_by_value_at_risk,
    recommended_actions,
    spreadsheet_safe,
    target_flags,
    value_tiers,
)

AS_OF = pd.Timestamp("2024-06-03")

PLAYBOOK = Playbook(
    priority=("complaint", "account_manager", "price"),
    actions={
        "complaint": {"A": "complaint-A", "B": "complaint-B", "C": "complaint-C"},
        "account_manager": {"A": "manager-A", "B": "manager-B", "C": "manager-C"},
        "price": {"A": "price-A", "B": "price-B", "C": "price-C"},
        # an action for a family that is not in the priority list is never used
        "wallet": {"A": "wallet-A", "B": "wallet-B", "C": "wallet-C"},
    },
    default={"A": "default-A", "B": "default-B", "C": "default-C"},
    low_risk_probability=0.2,
    low_risk_tiers=("C",),
    low_risk_action="no action",
)


# ---------------------------------------------------------------------------------------------- value tiers


def test_value_tiers_by_cumulative_share_of_value():
    # Total value 1000, cuts (0.80, 0.95). Highest first, the share held by the customers ranked before:
    # c3 600 -> 0.00 (A); c4 250 -> 0.60 (A); c1 100 -> 0.85 (B); c5 40 -> 0.95, not below 0.95 (C);
    # c2 10 -> 0.99 (C). The result keeps the input order and index.
    value = pd.Series([100.0, 10.0, 600.0, 250.0, 40.0], index=["c1", "c2", "c3", "c4", "c5"])
    tiers = value_tiers(value, (0.80, 0.95))
    assert tiers.name == "value_tier"
    assert list(tiers.index) == ["c1", "c2", "c3", "c4", "c5"]
    assert tiers.tolist() == ["B", "C", "A", "A", "C"]


def test_value_tiers_break_ties_by_index_and_ignore_negative_value():
    # "a" and "b" both hold 100 of a total of 200 (the -50 of "z" is clipped to 0, so it adds nothing):
    # ties go by index, so "a" comes first: before 0.0 -> A; "b": before 0.5, not below 0.5 -> B with cuts
    # (0.5, 0.9); "z": before 200 / 200 = 1.0 -> C. Input order b, z, a is kept in the output.
    value = pd.Series([100.0, -50.0, 100.0], index=["b", "z", "a"])
    assert value_tiers(value, (0.5, 0.9)).tolist() == ["B", "C", "A"]


def test_value_tiers_put_a_missing_value_in_c_without_counting_it():
    # Total 100 (the missing value of "m" holds nothing): "x" 80 -> before 0.0 (A); "y" 20 -> before 0.8,
    # not below 0.8 -> B with cuts (0.8, 0.95); "m" -> C.
    value = pd.Series([float("nan"), 20.0, 80.0], index=["m", "y", "x"])
    assert value_tiers(value, (0.8, 0.95)).tolist() == ["C", "B", "A"]


def test_value_tiers_with_no_positive_value_are_all_c():
    value = pd.Series([0.0, -3.0, 0.0], index=["x", "y", "z"])
    assert value_tiers(value, (0.8, 0.95)).tolist() == ["C", "C", "C"]


def test_value_tiers_do_not_mutate_input():
    value = pd.Series([1.0, 3.0, 2.0], index=["c", "a", "b"])
    before = value.copy()
    value_tiers(value, (0.8, 0.95))
    pd.testing.assert_series_equal(value, before)


# ---------------------------------------------------------------------------------------------- ranking


def test_rank_by_value_at_risk_highest_first_ties_by_customer_id():
    frame = pd.DataFrame(
        {"customer_id": ["d", "b", "a", "c"], "value_at_risk": [5.0, 20.0, 5.0, 20.0], "x": [1, 2, 3, 4]},
        index=[10, 11, 12, 13],
    )
    before = frame.copy()
    ranked = rank_by_value_at_risk(frame)
    # 20 (b), 20 (c), 5 (a), 5 (d): equal value at risk goes by customer_id; other columns travel along.
    assert list(ranked.columns) == ["rank", "customer_id", "value_at_risk", "x"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]
    assert ranked["customer_id"].tolist() == ["b", "c", "a", "d"]
    assert ranked["x"].tolist() == [2, 4, 3, 1]
    assert list(ranked.index) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(frame, before)


# ---------------------------------------------------------------------------------------------- control group


def _tiered(n_a: int, n_b: int, n_c: int, prefix: str = "c") -> pd.DataFrame:
    tiers = ["A"] * n_a + ["B"] * n_b + ["C"] * n_c
    ids = [f"{prefix}{i:03d}" for i in range(len(tiers))]
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="str"), "value_tier": tiers})


def _controls(frame: pd.DataFrame, share: float, as_of: pd.Timestamp = AS_OF) -> set[str]:
    mask = control_group(frame["customer_id"], frame["value_tier"], share, as_of)
    return set(frame.loc[mask, "customer_id"])


def test_control_group_takes_round_share_of_each_tier():
    frame = _tiered(10, 7, 23)
    mask = control_group(frame["customer_id"], frame["value_tier"], 0.2, AS_OF)
    assert mask.dtype == bool and len(mask) == 40
    # share 0.2: A 10 -> 2.0 -> 2; B 7 -> 1.4 -> 1; C 23 -> 4.6 -> 5.
    counts = frame.loc[mask, "value_tier"].value_counts().to_dict()
    assert counts == {"A": 2, "B": 1, "C": 5}
    assert not control_group(frame["customer_id"], frame["value_tier"], 0.0, AS_OF).any()


def test_control_group_is_fixed_by_customer_and_date_not_by_row_order():
    frame = _tiered(10, 7, 23)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert _controls(shuffled, 0.2) == _controls(frame, 0.2)
    assert _controls(frame, 0.2) == _controls(frame.copy(), 0.2)


def test_control_group_of_a_tier_ignores_the_other_tiers():
    frame = _tiered(10, 7, 23)
    # ten more C customers: C now 33 -> 6.6 -> 7 controls; A and B keep exactly the same controls.
    more = pd.concat([frame, _tiered(0, 0, 10, prefix="z")], ignore_index=True)
    base, grown = _controls(frame, 0.2), _controls(more, 0.2)
    tier_of = dict(zip(more["customer_id"], more["value_tier"]))
    assert {c for c in grown if tier_of[c] != "C"} == {c for c in base if tier_of[c] != "C"}
    assert sum(tier_of[c] == "C" for c in grown) == 7


def test_control_group_keeps_its_members_when_a_non_member_leaves():
    # 12 customers, share 0.25 -> 3 controls; without one non-control customer 11 * 0.25 = 2.75 -> 3 again:
    # each customer's draw is their own, so the same three are chosen.
    frame = _tiered(12, 0, 0)
    chosen = _controls(frame, 0.25)
    assert len(chosen) == 3
    leaver = min(set(frame["customer_id"]) - chosen)
    assert _controls(frame[frame["customer_id"] != leaver], 0.25) == chosen


def test_control_group_is_drawn_again_on_another_date():
    frame = _tiered(200, 0, 0)
    first = _controls(frame, 0.5, pd.Timestamp("2024-06-03"))
    second = _controls(frame, 0.5, pd.Timestamp("2024-06-10"))
    assert len(first) == len(second) == 100
    assert first != second


# ---------------------------------------------------------------------------------------------- target flags


def test_target_flags_by_size_or_fraction():
    assert target_flags(5, fraction=0.9, size=2).tolist() == [True, True, False, False, False]  # size wins
    assert target_flags(3, fraction=None, size=10).tolist() == [True, True, True]  # capped at the list
    # 0.34 * 10 = 3.4 -> 3 rows
    assert target_flags(10, fraction=0.34, size=None).tolist() == [True] * 3 + [False] * 7
    assert target_flags(4, fraction=None, size=None).tolist() == [False] * 4
    assert target_flags(4, fraction=None, size=0).tolist() == [False] * 4


# ---------------------------------------------------------------------------------------------- playbook


def test_recommended_actions_follow_priority_low_risk_rule_and_default():
    has_family = pd.DataFrame(
        {
            "price": [True, True, False, False, False, False, False, True],
            "complaint": [True, False, True, True, False, False, False, False],
            "account_manager": [False, True, False, False, False, False, False, False],
            "wallet": [False, False, False, False, False, False, True, False],
        }
    )
    tiers = pd.Series(["A", "B", "C", "C", "A", "B", "C", "C"])
    probability = pd.Series([0.9, 0.5, 0.1, 0.2, 0.05, 0.6, 0.5, 0.19])
    actions = recommended_actions(has_family, tiers, probability, PLAYBOOK)
    assert list(actions) == [
        "complaint-A",  # complaint comes before price in the priority
        "manager-B",  # account_manager comes before price
        "no action",  # tier C with p 0.1 < 0.2: low risk, whatever the reason
        "complaint-C",  # p 0.2 is not below 0.2: not low risk
        "default-A",  # low p but tier A is not a low-risk tier; no family -> tier default
        "default-B",  # no family
        "default-C",  # wallet is not in the priority list -> default
        "no action",  # tier C, p 0.19
    ]


def test_recommended_actions_ignore_priority_families_without_a_column():
    has_family = pd.DataFrame({"price": [True, False]})  # no complaint / account_manager columns
    actions = recommended_actions(has_family, pd.Series(["B", "A"]), pd.Series([0.5, 0.5]), PLAYBOOK)
    assert list(actions) == ["price-B", "default-A"]


# ---------------------------------------------------------------------------------------------- the list


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["c1", "c2", "c3", "c4"], index=[7, 8, 9, 10], dtype="str"),
            "churn_probability": [0.5, 0.9, 0.1, 0.3],
            "customer_value": [100.0, 20.0, 600.0, 280.0],
            "days_since_last_purchase": [10, 50, 3, 20],
            "last_purchase_date": pd.to_datetime(["2024-05-24", "2024-04-14", "2024-05-31", "2024-05-14"]),
            "account_manager_id": ["m1", None, "m2", "m1"],
            "segment": ["retail", "retail", "b2b", "unknown"],
            "lifecycle_stage": ["maturity", "decline", "growth", "maturity"],
            "open_complaints": [0, 2, 0, 1],
        },
        index=[7, 8, 9, 10],
    )


def test_build_winback_list_by_hand():
    scored = _scored()
    before = scored.copy()
    reasons = ["r-c1", "r-c2", "r-c3", "r-c4"]
    has_family = pd.DataFrame({"complaint": [False, True, False, True], "price": [True, False, False, False]})
    winback = build_winback_list(
        scored,
        reasons=reasons,
        has_family=has_family,
        playbook=PLAYBOOK,
        tier_cuts=(0.80, 0.95),
        control_share=0.0,
        target_fraction=None,
        target_size=2,
        as_of=AS_OF,
        model_version="7",
    )
    assert list(winback.columns) == list(WINBACK_COLUMNS)
    # value at risk = p x value: c1 0.5 x 100 = 50; c2 0.9 x 20 = 18; c3 0.1 x 600 = 60; c4 0.3 x 280 = 84.
    # Ranked: c4 84, c3 60, c1 50, c2 18.
    assert winback["customer_id"].tolist() == ["c4", "c3", "c1", "c2"]
    assert winback["rank"].tolist() == [1, 2, 3, 4]
    assert winback["value_at_risk"].tolist() == pytest.approx([84.0, 60.0, 50.0, 18.0])
    # tiers (total 1000, cuts 0.80 / 0.95): c3 600 before 0 -> A; c4 280 before 0.60 -> A;
    # c1 100 before 0.88 -> B; c2 20 before 0.98 -> C.
    assert winback["value_tier"].tolist() == ["A", "A", "B", "C"]
    # reasons travel with their customer
    assert winback["reasons"].tolist() == ["r-c4", "r-c3", "r-c1", "r-c2"]
    # c4: complaint, tier A; c3: nothing, tier A; c1: price, tier B; c2: complaint, tier C, p 0.9 (not low risk)
    assert winback["recommended_action"].tolist() == ["complaint-A", "default-A", "price-B", "complaint-C"]
    assert winback["in_target"].tolist() == [True, True, False, False]
    assert winback["control_group"].tolist() == [False] * 4
    assert winback["open_complaints"].tolist() == [1, 0, 0, 2]
    assert winback["days_since_last_purchase"].tolist() == [20, 3, 10, 50]
    assert (winback["model_version"] == "7").all()
    assert (winback["as_of"] == "2024-06-03").all()
    pd.testing.assert_frame_equal(scored, before)


def test_build_winback_list_target_fraction_and_control_share():
    scored = _scored()
    has_family = pd.DataFrame({"complaint": [False] * 4})
    winback = build_winback_list(
        scored,
        reasons=[""] * 4,
        has_family=has_family,
        playbook=PLAYBOOK,
        tier_cuts=(0.80, 0.95),
        control_share=0.6,
        target_fraction=0.5,
        target_size=None,
        as_of=AS_OF,
        model_version="7",
    )
    # fraction 0.5 of 4 rows = 2 rows. Control share 0.6: tier A (c3, c4): 1.2 -> 1; B (c1): 0.6 -> 1;
    # C (c2): 0.6 -> 1; so three controls, one in each tier, and c1 and c2 (alone in their tiers) are in.
    assert winback["in_target"].tolist() == [True, True, False, False]
    controls = winback.loc[winback["control_group"], "customer_id"].tolist()
    assert len(controls) == 3
    assert {"c1", "c2"} <= set(controls)


# ---------------------------------------------------------------------------------------------- spreadsheet safety


def test_spreadsheet_safe_prefixes_formula_like_text_only():
    frame = pd.DataFrame(
        {
            "text": pd.Series(
                ["=SUM(A1:A9)", "+1", "-2", "@cmd", "\tx", "\ry", "plain", "a=b", None], dtype="str"
            ),
            "objects": pd.Series(["=1+1", None, "ok", "-x", "", "x-", " =z", "@", "fine"], dtype="object"),
            "amount": [-1.5, 2.0, -3.0, 0.0, 1.0, -0.5, 4.0, 5.0, 6.0],
            "count": [-1, 0, 1, 2, 3, 4, 5, 6, 7],
            "flag": [True, False, True, False, True, False, True, False, True],
        }
    )
    before = frame.copy()
    safe = spreadsheet_safe(frame)
    assert safe["text"].iloc[:8].tolist() == [
        "'=SUM(A1:A9)",
        "'+1",
        "'-2",
        "'@cmd",
        "'\tx",
        "'\ry",
        "plain",
        "a=b",
    ]
    assert pd.isna(safe["text"].iloc[8])
    assert safe["objects"].iloc[[0, 2, 3, 4, 5, 6, 7, 8]].tolist() == [
        "'=1+1",
        "ok",
        "'-x",
        "",
        "x-",
        " =z",
        "'@",
        "fine",
    ]
    assert pd.isna(safe["objects"].iloc[1])
    # numbers and booleans are left as they are, negative numbers included
    pd.testing.assert_series_equal(safe["amount"], frame["amount"])
    pd.testing.assert_series_equal(safe["count"], frame["count"])
    pd.testing.assert_series_equal(safe["flag"], frame["flag"])
    pd.testing.assert_frame_equal(frame, before)


def test_spreadsheet_safe_leaves_a_harmless_frame_equal():
    frame = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="str"), "p": [0.1, -0.2]})
    pd.testing.assert_frame_equal(spreadsheet_safe(frame), frame)
