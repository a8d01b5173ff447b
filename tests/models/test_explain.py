"""Reasons in words: top risk-raising contributions beyond the typical value of the active population, in words."""

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
TYPICAL = {
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

# Row by row, against the typical values (complaints 0 (+1), spend_trend 1.0 (-1), promo 0.3 (+1), tenure 365 (-1)):
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
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=2)
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
        "no signal stands out against the other active customers",  # said, not left empty
        "1 complaint open, oldest 7 days",
    ]


def test_reasons_of_row_groups_concatenated_and_reordered_equal_the_reasons_of_all_rows():
    whole = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=2)
    first = top_reasons(CONTRIBUTIONS.iloc[:1], VALUES.iloc[:1], SPECS, TYPICAL, k=2)
    rest = top_reasons(CONTRIBUTIONS.iloc[1:], VALUES.iloc[1:], SPECS, TYPICAL, k=2)
    nothing = top_reasons(CONTRIBUTIONS.iloc[:0], VALUES.iloc[:0], SPECS, TYPICAL, k=2)
    combined = Reasons.concat([rest, nothing, first]).take(np.array([3, 0, 1, 2]))
    assert combined.texts == whole.texts
    assert combined.families == whole.families
    assert combined.joined() == whole.joined()


def test_reasons_worded_from_other_features_are_not_combined():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=2)
    fewer = {name: spec for name, spec in SPECS.items() if name != "promo_share"}
    other = top_reasons(CONTRIBUTIONS, VALUES, fewer, TYPICAL, k=2)
    with pytest.raises(ValueError, match="different models"):
        Reasons.concat([reasons, other])


def test_more_slots_than_eligible_reasons_gives_only_the_eligible_ones():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=5)
    # row 10: tenure (risky value, negative contribution) never appears; the third reason is promo 0.6
    assert reasons.features == [
        ["spend_trend", "open_complaints", "promo_share"],
        ["promo_share", "tenure_days"],
        [],
        ["open_complaints"],
    ]
    assert reasons.texts[0][2] == "60% of spend on promotion"


def test_top_one_reason():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=1)
    assert reasons.features == [["spend_trend"], ["promo_share"], [], ["open_complaints"]]


def test_has_family_marks_the_families_among_the_reasons():
    reasons = top_reasons(CONTRIBUTIONS, VALUES, SPECS, TYPICAL, k=2)
    flags = reasons.has_family(["complaint", "price", "account_manager"])
    assert list(flags.columns) == ["complaint", "price", "account_manager"]
    assert flags["complaint"].tolist() == [True, False, False, True]
    assert flags["price"].tolist() == [False, True, False, False]
    assert flags["account_manager"].tolist() == [False, False, False, False]


def test_a_value_on_the_safe_side_is_never_a_reason_however_large_its_contribution():
    contributions = CONTRIBUTIONS.assign(spend_trend=[9.0, 9.0, 9.0, 9.0])
    reasons = top_reasons(contributions, VALUES, SPECS, TYPICAL, k=3)
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
    typical = {"complaints_7d": 0.0, "complaints_28d": 0.0, "promo_share": 0.3}
    reasons = top_reasons(contributions, values, specs, typical, k=2)
    # the 28-day count says the same as the 7-day one: the second slot goes to promo (0.1 < 0.8)
    assert reasons.features == [["complaints_7d", "promo_share"]]
    assert reasons.texts == [["2 in 7 days", "50% of spend on promotion"]]


# ------------------------------------------------------------------ thresholds, wording, stale complaints, codes


def test_a_value_that_shows_the_same_as_the_typical_one_is_not_a_reason():
    specs = {"promo_share": SPECS["promo_share"], "spend_trend": SPECS["spend_trend"]}
    values = pd.DataFrame({"promo_share": [0.304, 0.306, 0.5], "spend_trend": [0.996, 0.99, 1.0]})
    contributions = pd.DataFrame({"promo_share": [1.0, 1.0, 1.0], "spend_trend": [2.0, 2.0, 2.0]})
    reasons = top_reasons(contributions, values, specs, {"promo_share": 0.3, "spend_trend": 1.0}, k=2)
    # 30.4% shows as 30%, the typical 30%; a 0.4% fall shows as "down 0%": neither is a reason.
    # 30.6% shows as 31%; a 1% fall as "down 1%".
    assert reasons.texts == [[], ["spend down 1%", "31% of spend on promotion"], ["50% of spend on promotion"]]


def test_a_rise_is_never_a_fall_even_below_a_rising_population():
    trend = _spec("spend_trend", "spend down {change:.0%}", -1, "decline")
    trend = FeatureSpec(**{**trend.__dict__, "neutral": 1.0})
    values = pd.DataFrame({"spend_trend": [1.1, 0.8, 0.95]})
    contributions = pd.DataFrame({"spend_trend": [1.0, 1.0, 1.0]})
    # The population grew (typical 1.3): a rise of 10% is still no reason, whatever the model says.
    reasons = top_reasons(contributions, values, {"spend_trend": trend}, {"spend_trend": 1.3}, k=1)
    assert reasons.texts == [[], ["spend down 20%"], ["spend down 5%"]]
    # A shrinking population (typical 0.9): only falls beyond it.
    reasons = top_reasons(contributions, values, {"spend_trend": trend}, {"spend_trend": 0.9}, k=1)
    assert reasons.texts == [[], ["spend down 20%"], []]


def test_a_feature_without_plain_words_is_never_a_reason():
    hidden = _spec("p_no_purchase", "", +1, "recency")
    values = pd.DataFrame({"p_no_purchase": [0.9], "promo_share": [0.6]})
    contributions = pd.DataFrame({"p_no_purchase": [5.0], "promo_share": [0.1]})
    specs = {"p_no_purchase": hidden, "promo_share": SPECS["promo_share"]}
    reasons = top_reasons(contributions, values, specs, {"p_no_purchase": 0.1, "promo_share": 0.3}, k=2)
    assert reasons.features == [["promo_share"]]


def _registry():
    from features import FeatureSettings, feature_specs

    return {s.name: s for s in feature_specs(FeatureSettings())}


def test_trend_reasons_say_what_changed_with_both_windows():
    specs = _registry()
    names = ["orders_trend_90d", "purchase_count_previous_90d", "visit_trend_90d", "visit_count_previous_90d"]
    values = pd.DataFrame({"orders_trend_90d": [7 / 25, 1.2], "purchase_count_previous_90d": [25.0, 5.0],
                           "visit_trend_90d": [0.0, 0.5], "visit_count_previous_90d": [12.0, 4.0]})
    contributions = pd.DataFrame({n: [1.0, 1.0] for n in names})
    typical = {"orders_trend_90d": 1.0, "visit_trend_90d": 1.0}
    reasons = top_reasons(contributions, values, {n: specs[n] for n in names}, typical, k=3)
    assert reasons.texts == [
        ["orders fell from 25 to 7: last 90 days vs the 90 before",
         "visits fell from 12 to 0: last 90 days vs the 90 before"],
        ["visits fell from 4 to 2: last 90 days vs the 90 before"],
    ]
    assert reasons.families == [["decline", "engagement"], ["engagement"]]


def test_an_old_open_complaint_is_a_question_about_the_data():
    specs = _registry()
    names = ["open_complaints", "oldest_open_complaint_age_days", "promo_share_90d"]
    values = pd.DataFrame({"open_complaints": [1.0, 2.0, 0.0], "oldest_open_complaint_age_days": [978.0, 20.0, 0.0],
                           "promo_share_90d": [0.5, 0.5, 0.5]})
    contributions = pd.DataFrame({"open_complaints": [0.9, 0.3, 0.0], "oldest_open_complaint_age_days": [0.5, 0.6, 0.0],
                                  "promo_share_90d": [0.1, 0.1, 0.1]})
    typical = {"open_complaints": 0.0, "oldest_open_complaint_age_days": 0.0, "promo_share_90d": 0.2}
    reasons = top_reasons(contributions, values, {n: specs[n] for n in names}, typical, k=3,
                          stale_complaint_days=180)
    # The count and the age of open complaints say one thing: one reason (the stronger) per row.
    promo = "50% of spend on promotion in the last 90 days (typical: 20%)"
    assert reasons.texts == [
        ["complaint open 978 days: check whether it was closed", promo],
        ["a complaint open for 20 days", promo],
        [promo],
    ]
    assert reasons.families == [["stale_complaint", "price"], ["open_complaint", "price"], ["price"]]
    assert reasons.has_family(["open_complaint"])["open_complaint"].tolist() == [False, True, False]
    assert reasons.codes_joined() == ["stale_complaint;price", "open_complaint;price", "price"]


def test_codes_name_each_family_once():
    shared = _spec("a", "{value:.0f} a", +1, "decline")
    other = _spec("b", "{value:.0f} b", +1, "decline")
    third = _spec("c", "{value:.0f} c", +1, "price")
    values = pd.DataFrame({"a": [3.0], "b": [3.0], "c": [3.0]})
    contributions = pd.DataFrame({"a": [0.3], "b": [0.2], "c": [0.1]})
    reasons = top_reasons(contributions, values, {"a": shared, "b": other, "c": third}, {}, k=3)
    assert reasons.families == [["decline", "decline", "price"]]
    assert reasons.codes_joined() == ["decline;price"]


def test_column_wise_wording_equals_the_registry_wording_on_random_values():
    from models.explain import _render, explains

    rng = np.random.default_rng(8)
    specs = _registry()
    n = 300
    values = pd.DataFrame({
        name: np.round(rng.choice([0.0, 1.0, 2.0, rng.uniform(0, 3), rng.uniform(0, 400)], n), rng.integers(0, 4))
        for name, spec in specs.items() if spec.kind == "numeric"
    })
    rows = np.arange(n)
    for name, spec in specs.items():
        if not explains(spec):
            continue
        typical = float(rng.uniform(0, 50))
        expected = [spec.describe(values.iloc[i].to_dict(), typical) for i in rows]
        assert _render(spec, values, rows, typical).tolist() == expected, name
