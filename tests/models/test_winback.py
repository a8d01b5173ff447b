"""The week's lists: ABC tiers, the plan's columns, ranking, lapsed customers by tier, week over week, spreadsheet
safety (the plan itself: tests/models/test_plan.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.plan import Action, Playbook
from models.week_over_week import Basis
from models.winback import (
    LAPSED_COLUMNS,
    WINBACK_COLUMNS,
    ListSettings,
    build_lists,
    spreadsheet_safe,
    value_tiers,
)

AS_OF = pd.Timestamp("2024-06-03")


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


def test_value_tiers_on_flat_spend_keep_a_to_the_few_key_accounts():
    # Ten customers of equal value: by value alone A holds 8 (before 0.0-0.7 < 0.8), B 2. Capped at 20% / 50% of
    # the customers: A the first 2 by index, B the next 3, C the other 5.
    value = pd.Series(100.0, index=[f"c{i}" for i in range(10)])
    assert value_tiers(value, (0.80, 0.95)).tolist() == ["A"] * 8 + ["B"] * 2
    assert value_tiers(value, (0.80, 0.95), (0.2, 0.5)).tolist() == ["A"] * 2 + ["B"] * 3 + ["C"] * 5


def test_value_tiers_cap_does_not_bind_where_spend_is_skewed():
    # Total 1,230. Value before each: 0 (A), 1000/1230 = 0.813 (B), 0.894 (B), 0.935 (B), 0.959 (C), ...: A is 1
    # customer and A+B 4 of 10, within 20% / 50%, so the cap changes nothing.
    value = pd.Series([1000.0, 100, 50, 30, 20, 10, 5, 5, 5, 5], index=list("abcdefghij"))
    expected = ["A", "B", "B", "B", "C", "C", "C", "C", "C", "C"]
    assert value_tiers(value, (0.80, 0.95)).tolist() == expected
    assert value_tiers(value, (0.80, 0.95), (0.2, 0.5)).tolist() == expected


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


# ---------------------------------------------------------------------------------------------- the lists


ACTIONS = {
    "complaint_call": Action("complaint_call", "account_manager_call", "call about the complaint", 10.0, 0.5),
    "complaint_mail": Action("complaint_mail", "email", "apology mail", 1.0, 0.1),
    "senior_visit": Action("senior_visit", "senior_manager_call", "senior visit", 50.0, 0.4),
    "care_mail": Action("care_mail", "email", "care mail", 1.0, 0.02),
    "winback_call": Action("winback_call", "account_manager_call", "win-back call", 20.0, 0.2),
}
PLAYBOOK = Playbook(
    actions=ACTIONS,
    priority=("complaint",),
    families={"complaint": {"A": ("senior_visit", "complaint_call", "complaint_mail"),
                            "B": ("complaint_call", "complaint_mail"), "C": ("complaint_mail",)}},
    default={"A": ("care_mail",), "B": ("care_mail",), "C": ()},
    lapsed={"A": ("winback_call",), "B": ("winback_call",)},
)


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["c1", "c2", "c3", "c4"], dtype="str"),
            "churn_probability": [0.5, 0.9, 0.1, 0.3],
            "customer_value": [100.0, 20.0, 600.0, 280.0],
            "owner_id": pd.Series(["m1", None, "m2", "m9"], dtype="str"),
            "owner_status": ["account_manager", "unmanaged", "account_manager", "successor"],
            "account_manager_id": pd.Series(["m1", None, "m2", "m3"], dtype="str"),
            "days_since_last_purchase": [10, 50, 3, 20],
            "last_purchase_date": ["2024-05-24", "2024-04-14", "2024-05-31", "2024-05-14"],
            "segment": ["retail", "retail", "b2b", "unknown"],
            "lifecycle_stage": ["maturity", "decline", "growth", "maturity"],
            "open_complaints": [0, 2, 0, 1],
        },
    ).set_axis([7, 8, 9, 10])


def _lapsed() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series(["g1", "g2", "g3"], dtype="str"),
        "past_value": [700.0, 90.0, 10.0],
        "days_since_last_purchase": [120, 200, 100],
        "last_purchase_date": ["2024-02-04", "2023-11-16", "2024-02-24"],
        "reactivation_probability": [0.5, 0.8, 0.9],
        "account_manager_id": pd.Series([None, "m3", None], dtype="str"),
        "reasons": ["no purchase for 120 days", "account manager m3 left 2 weeks before the last purchase",
                    "no purchase for 100 days"],
        "reason_codes": ["recency", "account_manager", "recency"],
        "owner_id": pd.Series([None, "m9", None], dtype="str"),
        "owner_status": ["unmanaged", "successor", "unmanaged"],
    })


def _lists(capacity, *, basis=None, share=0.0, last_contacts=None):
    return build_lists(
        _scored(),
        reasons=["r-c1", "r-c2", "r-c3", "r-c4"],
        reason_codes=["price", "complaint", "", "complaint"],
        deciding_family=np.array([None, "complaint", None, "complaint"], dtype=object),
        lapsed=_lapsed(),
        playbook=PLAYBOOK,
        settings=ListSettings(tier_cuts=(0.80, 0.95), tier_max_shares=(1.0, 1.0), capacity_per_week=capacity,
                              control_share=share, campaign_id="retention-2024-04-01", contact_cooldown_days=28),
        basis=basis,
        as_of=AS_OF,
        model_version="7",
        last_contacts=last_contacts,
    )


def test_build_lists_by_hand():
    before = _scored()
    worklist, lapsed = _lists({"senior_manager_call": 1, "account_manager_call": 1, "email": None})
    assert list(worklist.columns[: len(WINBACK_COLUMNS)]) == list(WINBACK_COLUMNS)
    assert list(lapsed.columns[: len(LAPSED_COLUMNS)]) == list(LAPSED_COLUMNS)
    # tiers (total 1000, cuts 0.80 / 0.95): c3 600 A; c4 280 A; c1 100 B; c2 20 C. Tier floors: A 280, B 100.
    # Lapsed: g1 700 >= 280 -> A; g2 90 < 100 -> C (let go); g3 10 -> C (let go).
    # ENV = p x save x value - cost:
    #   c4 (complaint, A): senior .3*.4*280-50 = -16.4; call .3*.5*280-10 = 32; mail .3*.1*280-1 = 7.4
    #   c2 (complaint, C): mail .9*.1*20-1 = 0.8
    #   c1 (no family, B): care mail .5*.02*100-1 = 0
    #   c3 (no family, A): care mail .1*.02*600-1 = 0.2
    #   g1 (lapsed A): win-back call .5*.2*700-20 = 50
    # Best first: g1 call 50 (the one manager call), c4 call 32 (full) -> c4 mail 7.4, c2 0.8, c3 0.2;
    # c1's 0 is not positive: no contact.
    assert worklist["customer_id"].tolist() == ["c4", "c2", "c3", "c1"]  # targeted by ENV, then value at risk
    assert worklist["rank"].tolist() == [1, 2, 3, 4]
    assert worklist["value_tier"].tolist() == ["A", "C", "A", "B"]
    assert worklist["expected_net_value"].tolist() == pytest.approx([7.4, 0.8, 0.2, 0.0])
    assert worklist["action_channel"].tolist() == ["email", "email", "email", "none"]
    assert worklist["recommended_action"].tolist() == [
        "apology mail", "apology mail", "care mail", "No action this week: no contact is worth its cost",
    ]
    assert worklist["in_target"].tolist() == [True, True, True, False]
    assert worklist["value_at_risk"].tolist() == pytest.approx([84.0, 18.0, 60.0, 50.0])
    assert worklist["reasons"].tolist() == ["r-c4", "r-c2", "r-c3", "r-c1"]
    assert worklist["reason_codes"].tolist() == ["complaint", "complaint", "", "price"]
    assert worklist["owner_id"].fillna("").tolist() == ["m9", "", "m2", "m1"]
    assert worklist["new_this_week"].isna().all() and worklist["risk_change"].isna().all()  # no earlier list
    assert (worklist["model_version"] == "7").all() and (worklist["as_of"] == "2024-06-03").all()
    assert lapsed["customer_id"].tolist() == ["g1"]
    assert lapsed["expected_net_value"].tolist() == pytest.approx([50.0])
    assert lapsed["action_channel"].tolist() == ["account_manager_call"]
    assert lapsed["recommended_action"].tolist() == ["win-back call"]
    pd.testing.assert_frame_equal(_scored(), before)


def test_a_full_channel_is_named_and_a_freed_slot_goes_to_the_next_best():
    worklist, lapsed = _lists({"senior_manager_call": 1, "account_manager_call": 0, "email": 0})
    # No manager calls and no emails: g1's call and every email are blocked; c4's senior visit is -16.4.
    assert lapsed["recommended_action"].tolist() == ["No action this week: account manager calls are fully booked"]
    rows = worklist.set_index("customer_id")
    assert rows.loc["c4", "recommended_action"] == "No action this week: account manager calls are fully booked"
    assert rows.loc["c4", "expected_net_value"] == pytest.approx(32.0)  # what the blocked call was worth
    assert rows.loc["c2", "recommended_action"] == "No action this week: emails are fully booked"
    assert not worklist["in_target"].any()
    # Ranked by value at risk when nobody is targeted: c4 84, c3 60, c1 50, c2 18.
    assert worklist["customer_id"].tolist() == ["c4", "c3", "c1", "c2"]
    worklist, lapsed = _lists({"senior_manager_call": 1, "account_manager_call": 2, "email": None})
    assert worklist.set_index("customer_id").loc["c4", "recommended_action"] == "call about the complaint"


def test_control_rows_have_no_contact_and_are_not_in_target():
    worklist, lapsed = _lists({"senior_manager_call": 1, "account_manager_call": 1, "email": None}, share=0.9)
    both = pd.concat([worklist, lapsed])
    control = both[both["control_group"]]
    assert len(control) > 0
    assert not control["in_target"].any()
    assert (control["action_channel"] == "none").all()
    assert (control["recommended_action"] == "Held out: control group of campaign retention-2024-04-01, do not contact").all()
    assert control["action_id"].notna().all()  # what they would have had is kept for the evaluation
    assert (both["in_target"] == (both["action_channel"] != "none")).all()


def test_a_customer_contacted_in_the_cooldown_gets_no_contact_and_says_when():
    # g1 was called 3 calendar days before the as-of date (2024-05-31 14:00): the one manager call goes to c4 (32)
    # instead; c2's contact 40 days ago lies beyond the 28-day cooldown: its email stands.
    contacted = pd.Series([AS_OF - pd.Timedelta(days=3) + pd.Timedelta(hours=14), AS_OF - pd.Timedelta(days=40)],
                          index=["g1", "c2"])
    worklist, lapsed = _lists({"senior_manager_call": 1, "account_manager_call": 1, "email": None},
                              last_contacts=contacted)
    assert lapsed["recommended_action"].tolist() == ["No contact this week: contacted 3 days ago"]
    assert not lapsed["in_target"].any() and not lapsed["control_group"].any()
    rows = worklist.set_index("customer_id")
    assert rows.loc["c4", "recommended_action"] == "call about the complaint"
    assert rows.loc["c2", "recommended_action"] == "apology mail"


def test_week_over_week_against_an_earlier_list():
    basis = Basis(pd.Timestamp("2024-05-27"), pd.DataFrame({
        "customer_id": ["c1", "c2", "c9"], "churn_probability": [0.4, 0.95, 0.5], "in_target": [True, True, True],
    }))
    worklist, _ = _lists({"senior_manager_call": 1, "account_manager_call": 1, "email": None}, basis=basis)
    rows = worklist.set_index("customer_id")
    # c4 and c3 are new in the target; c2 stays; c1 was in and is now out (no contact worth it).
    assert rows["new_this_week"].astype(object).to_dict() == {"c4": True, "c2": False, "c3": True, "c1": False}
    assert rows.loc["c1", "risk_change"] == pytest.approx(0.1)
    assert rows.loc["c2", "risk_change"] == pytest.approx(-0.05)
    assert pd.isna(rows.loc["c4", "risk_change"])


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
