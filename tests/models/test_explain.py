"""Reasons in words: top risk-raising contributions on the risky side of the training median, from the templates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeatureSpec
from models.explain import Reasons, top_reasons


def _builder():
    """A fresh dummy builder: every spec gets its own, so each counts as a different reason."""
    return lambda table: table


def _spec(name, reason, risk_direction, family, default=0.0, builder=None) -> FeatureSpec:
    return FeatureSpec(
        name,
        builder=builder or _builder(),
        params={},
        default=default,
        reason=reason,
        unit="x",
        risk_direction=risk_direction,
        family=family,
    )


SPECS = {
    s.name: s
    for s in (
        _spec(
            "open_complaints", "{value:.0f} complaint{s} open, oldest {oldest_days:.0f} days", +1, "complaint"
        ),
        _spec(
            "oldest_days", "oldest complaint {value:.0f} days", 0, "complaint"
        ),  # no direction: never a reason
        _spec("spend_trend", "spend {direction} {change:.0%}", -1, "decline"),
        _spec("promo_share", "{value:.0%} of spend on promotion", +1, "price"),
        _spec("tenure_days", "customer for {value:.0f} days", -1, "tenure"),
        _spec("segment", "segment {value}", 0, "other", default="unknown"),
    )
}
MEDIANS = {
    "open_complaints": 0.0,
    "oldest_days": 0.0,
    "spend_trend": 1.0,
    "promo_share": 0.3,
    "tenure_days": 365.0,
}
INDEX = [10, 11, 12, 13]

VALUES = pd.DataFrame(
    {
        "open_complaints": [2.0, 0.0, 0.0, 1.0],
        "oldest_days": [45.0, 0.0, 0.0, 7.0],
        "spend_trend": [0.4, 1.5, 1.2, 1.0],
        "promo_share": [0.6, 0.8, 0.1, 0.3],
        "tenure_days": [100.0, 30.0, 2000.0, 365.0],
        "segment": pd.Series(["retail", "b2b", "retail", "b2b"], index=INDEX, dtype="str"),
    },
    index=INDEX,
)

# Row by row, against the medians (complaints 0 (+1), spend_trend 1.0 (-1), promo 0.3 (+1), tenure 365 (-1)):
# 10: complaints 2 risky +0.5; trend 0.4 risky +0.8; promo 0.6 risky +0.2; tenure 100 risky but -0.3 (lowers risk)
#     -> spend_trend 0.8, open_complaints 0.5, promo_share 0.2
# 11: complaints 0 = median (not risky) +0.9; trend 1.5 safe side +0.7; promo 0.8 risky +0.1; tenure 30 risky +0.05
#     -> promo_share 0.1, tenure_days 0.05
# 12: complaints -0.2; trend 1.2 safe +0.4; promo 0.1 safe +0.3; tenure 2000 -0.1 -> nothing
# 13: complaints 1 risky +0.05; trend, promo and tenure exactly at their medians (not risky) -> open_complaints
# segment and oldest_days (no direction) and bias carry big positive contributions and never count.
CONTRIBUTIONS = pd.DataFrame(
    {
        "open_complaints": [0.5, 0.9, -0.2, 0.05],
        "oldest_days": [3.0, 3.0, 3.0, 3.0],
        "spend_trend": [0.8, 0.7, 0.4, 0.6],
        "promo_share": [0.2, 0.1, 0.3, 0.2],
        "tenure_days": [-0.3, 0.05, -0.1, 0.3],
        "segment": [5.0, 5.0, 5.0, 5.0],
        "bias": [0.7, 0.7, 0.7, 0.7],
    },
    index=INDEX,
)


def test_top_two_reasons_by_hand():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=2)
    assert reasons.features == [
        ["spend_trend", "open_complaints"],
        ["promo_share", "tenure_days"],
        [],
        ["open_complaints"],
    ]
    # texts carry each row's own values: spend 0.4 -> |0.4 - 1| = 60% down; 2 vs 1 complaint(s) with their ages
    assert reasons.texts == [
        ["spend down 60%", "2 complaints open, oldest 45 days"],
        ["80% of spend on promotion", "customer for 30 days"],
        [],
        ["1 complaint open, oldest 7 days"],
    ]
    assert reasons.families == [["decline", "complaint"], ["price", "tenure"], [], ["complaint"]]
    assert reasons.joined() == [
        "spend down 60%; 2 complaints open, oldest 45 days",
        "80% of spend on promotion; customer for 30 days",
        "",
        "1 complaint open, oldest 7 days",
    ]


def test_reasons_of_row_groups_concatenated_and_reordered_equal_the_reasons_of_all_rows():
    whole = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=2)
    first = top_reasons(CONTRIBUTIONS.iloc[:1], VALUES.iloc[:1], SPECS, MEDIANS, k=2)
    rest = top_reasons(CONTRIBUTIONS.iloc[1:], VALUES.iloc[1:], SPECS, MEDIANS, k=2)
    nothing = top_reasons(CONTRIBUTIONS.iloc[:0], VALUES.iloc[:0], SPECS, MEDIANS, k=2)
    combined = Reasons.concat([rest, nothing, first]).take(np.array([3, 0, 1, 2]))
    assert combined.texts == whole.texts
    assert combined.families == whole.families
    assert combined.joined() == whole.joined()


def test_reasons_worded_from_other_features_are_not_combined():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=2)
    fewer = {name: spec for name, spec in SPECS.items() if name != "promo_share"}
    other = top_reasons(CONTRIBUTIONS, VALUES, fewer, MEDIANS, k=2)
    with pytest.raises(ValueError, match="different models"):
        Reasons.concat([reasons, other])


def test_more_slots_than_eligible_reasons_gives_only_the_eligible_ones():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=5)
    # row 10: tenure (risky value, negative contribution) never appears; the third reason is promo 0.6
    assert reasons.features == [
        ["spend_trend", "open_complaints", "promo_share"],
        ["promo_share", "tenure_days"],
        [],
        ["open_complaints"],
    ]
    assert reasons.texts[0][2] == "60% of spend on promotion"


def test_top_one_reason():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=1)
    assert reasons.features == [["spend_trend"], ["promo_share"], [], ["open_complaints"]]


def test_has_family_marks_the_families_among_the_reasons():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, MEDIANS, k=2)
    flags = reasons.has_family(["complaint", "price", "account_manager"])
    assert list(flags.columns) == ["complaint", "price", "account_manager"]
    assert flags["complaint"].tolist() == [True, False, False, True]
    assert flags["price"].tolist() == [False, True, False, False]
    assert flags["account_manager"].tolist() == [False, False, False, False]


def test_a_value_on_the_safe_side_is_never_a_reason_however_large_its_contribution():
    contributions = CONTRIBUTIONS.assign(spend_trend=[9.0, 9.0, 9.0, 9.0])
    reasons = top_reasons(contributions, VALUES, SPECS, MEDIANS, k=3)
    # spend_trend 0.4 (row 10) is below the median 1.0 -> a reason there; 1.5, 1.2 and 1.0 are not
    assert [("spend_trend" in row) for row in reasons.features] == [True, False, False, False]


def test_one_reason_per_builder():
    shared = _builder()
    specs = {
        "complaints_7d": _spec("complaints_7d", "{value:.0f} in 7 days", +1, "complaint", builder=shared),
        "complaints_28d": _spec("complaints_28d", "{value:.0f} in 28 days", +1, "complaint", builder=shared),
        "promo_share": SPECS["promo_share"],
    }
    values = pd.DataFrame({"complaints_7d": [2.0], "complaints_28d": [3.0], "promo_share": [0.5]})
    contributions = pd.DataFrame({"complaints_7d": [0.9], "complaints_28d": [0.8], "promo_share": [0.1]})
    medians = {"complaints_7d": 0.0, "complaints_28d": 0.0, "promo_share": 0.3}
    reasons = top_reasons(contributions, values, specs, medians, k=2)
    # the 28-day count says the same as the 7-day one: the second slot goes to promo (0.1 < 0.8)
    assert reasons.features == [["complaints_7d", "promo_share"]]
    assert reasons.texts == [["2 in 7 days", "50% of spend on promotion"]]
