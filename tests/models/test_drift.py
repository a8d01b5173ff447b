"""Drift: reference distributions (quantile bins / category shares) and the population stability index."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.settings import FeatureSettings
from models.drift import (
    PSI_FLOOR,
    coarsened,
    combined_counts,
    drift_counts,
    drift_resolutions,
    population_stability,
    reference_distributions,
    short_history_note,
    stability_from_counts,
)
from models.modelframe import model_specs


def test_reference_numeric_quantile_edges_and_shares():
    frame = pd.DataFrame({"x": np.arange(1.0, 11.0)})  # 1, 2, ..., 10
    reference = reference_distributions(frame, n_bins=4)
    # Linear-interpolation quartiles of 1..10: position 9q -> 2.25, 4.5, 6.75 -> values 3.25, 5.5, 7.75.
    # Bins are (-inf, 3.25], (3.25, 5.5], (5.5, 7.75], (7.75, inf): {1,2,3}, {4,5}, {6,7}, {8,9,10}.
    assert reference["x"]["kind"] == "numeric"
    assert reference["x"]["edges"] == pytest.approx([3.25, 5.5, 7.75])
    assert reference["x"]["shares"] == pytest.approx([0.3, 0.2, 0.2, 0.3])


def test_reference_numeric_repeated_edges_collapse_and_a_value_on_an_edge_goes_right():
    # sorted values v0..v9 = 0,0,0,0,0,0,1,1,2,3; the decile q sits at position 9q: q = 0.1..0.5 -> 0;
    # 0.6 -> 5.4 -> v5 + 0.4 (v6 - v5) = 0.4; 0.7 -> 6.3 -> 1; 0.8 -> 7.2 -> 1.2; 0.9 -> 8.1 -> 2.1.
    # The five zero edges collapse into one: edges 0, 0.4, 1, 1.2, 2.1. Bins are closed on the left,
    # [edge, next edge): (-inf, 0) empty, [0, 0.4) the six zeros, [0.4, 1) empty, [1, 1.2) the two ones,
    # [1.2, 2.1) the 2, [2.1, inf) the 3.
    frame = pd.DataFrame({"n": [0, 0, 0, 0, 0, 0, 1, 1, 2, 3]})
    reference = reference_distributions(frame, n_bins=10)
    assert reference["n"]["edges"] == pytest.approx([0.0, 0.4, 1.0, 1.2, 2.1])
    assert reference["n"]["shares"] == pytest.approx([0.0, 0.6, 0.0, 0.2, 0.1, 0.1])


def test_reference_categorical_shares():
    frame = pd.DataFrame(
        {
            "segment": pd.Series(["b", "a", "a", "b", "a"], dtype="str"),
            "stage": pd.Categorical(["growth", "decline", "growth", "growth", "growth"]),
        }
    )
    reference = reference_distributions(frame)
    assert reference["segment"] == {"kind": "categorical", "shares": {"a": 0.6, "b": 0.4}}
    assert reference["stage"] == {"kind": "categorical", "shares": {"decline": 0.2, "growth": 0.8}}


def test_psi_numeric_by_hand():
    reference = reference_distributions(pd.DataFrame({"x": np.arange(1.0, 11.0)}), n_bins=2)
    # median of 1..10 = 5.5: reference shares 0.5 / 0.5
    assert reference["x"]["edges"] == [5.5]
    # now: 2 of 10 values below 5.5 and 8 above -> 0.2 / 0.8.
    # PSI = (0.2 - 0.5) ln(0.2 / 0.5) + (0.8 - 0.5) ln(0.8 / 0.5) = 0.3 (ln 2.5 + ln 1.6) = 0.3 ln 4 = 0.41589
    now = pd.DataFrame({"x": [1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 50.0]})
    psi = population_stability(reference, now)
    assert psi["x"] == pytest.approx(0.3 * math.log(4.0))
    assert psi["x"] == pytest.approx(0.4158883083)


def test_psi_categorical_with_a_new_category_by_hand():
    reference = {"segment": {"kind": "categorical", "shares": {"a": 0.6, "b": 0.4}}}
    now = pd.DataFrame({"segment": ["a"] * 5 + ["b"] * 3 + ["c"] * 2})
    # a 0.6 -> 0.5, b 0.4 -> 0.3, c 0 (floored to 1e-4) -> 0.2:
    # (-0.1) ln(5/6) + (-0.1) ln(3/4) + (0.2 - 0.0001) ln(0.2 / 0.0001)
    # = 0.0182322 + 0.0287682 + 0.1999 x 7.6009025 = 1.5664208
    by_hand = -0.1 * math.log(5 / 6) - 0.1 * math.log(3 / 4) + (0.2 - PSI_FLOOR) * math.log(0.2 / PSI_FLOOR)
    psi = population_stability(reference, now)
    assert psi["segment"] == pytest.approx(by_hand)
    assert psi["segment"] == pytest.approx(1.5664208, abs=1e-6)


def test_psi_same_distribution_is_zero_and_series_is_sorted_largest_first():
    train = pd.DataFrame(
        {
            "x": np.arange(1.0, 11.0),
            "y": np.arange(1.0, 11.0),
            "segment": ["a"] * 6 + ["b"] * 4,
        }
    )
    reference = reference_distributions(train, n_bins=2)
    now = pd.DataFrame(
        {
            "x": [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0],  # same values, other order: PSI 0
            "y": [1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 50.0],  # 0.3 ln 4 as above
            "segment": ["a"] * 6 + ["b"] * 3 + ["c"],  # b 0.4 -> 0.3, c 0 -> 0.1
            "not_referenced": np.zeros(10),
        }
    )
    psi = population_stability(reference, now)
    # segment: (-0.1) ln(0.3 / 0.4) + (0.1 - 0.0001) ln(0.1 / 0.0001) = 0.0287682 + 0.0999 x 6.9077553 = 0.7188
    segment = -0.1 * math.log(0.75) + (0.1 - PSI_FLOOR) * math.log(0.1 / PSI_FLOOR)
    assert psi.name == "psi"
    assert list(psi.index) == ["segment", "y", "x"]
    assert psi.tolist() == pytest.approx([segment, 0.3 * math.log(4.0), 0.0])


def test_psi_skips_referenced_columns_missing_from_the_frame():
    reference = reference_distributions(
        pd.DataFrame({"x": np.arange(10.0), "gone": np.arange(10.0)}), n_bins=2
    )
    psi = population_stability(reference, pd.DataFrame({"x": np.arange(10.0)}))
    assert list(psi.index) == ["x"]
    assert psi["x"] == pytest.approx(0.0)


def test_counts_of_groups_of_rows_give_exactly_the_psi_of_all_rows():
    rng = np.random.default_rng(3)
    training = pd.DataFrame({"x": rng.gamma(2.0, 3.0, 500), "tier": rng.choice(["A", "B", "C"], 500)})
    reference = reference_distributions(training)
    now = pd.DataFrame(
        {"x": np.append(rng.gamma(2.5, 3.0, 299), np.nan), "tier": rng.choice(["A", "B", "D"], 300)}
    )
    groups = [now.iloc[:7], now.iloc[7:7], now.iloc[7:180], now.iloc[180:]]  # one group empty
    counts = combined_counts([drift_counts(reference, group) for group in groups])
    assert counts["tier"].to_dict() == now["tier"].value_counts().sort_index().to_dict()
    assert int(counts["x"].sum()) == 300
    from_counts = stability_from_counts(reference, counts)
    pd.testing.assert_series_equal(from_counts, population_stability(reference, now), check_exact=True)
    assert from_counts["tier"] > 0.1  # a category the reference never saw


DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2025-01-01")


def test_short_history_note_gives_the_history_the_training_cutoffs_saw_and_the_scoring_has():
    cutoffs = [START + 150 * DAY, START + 90 * DAY, START + 120 * DAY]
    note = short_history_note(cutoffs, START, START + 365 * DAY, 365)
    assert "training cutoffs had 90 to 150 days of purchase history before them" in note
    assert "this scoring has 365" in note
    assert "up to 365 days" in note
    assert "had 364 days of" in short_history_note([START + 364 * DAY], START, START + 400 * DAY, 365)
    half = [START + d * DAY for d in (300, 340, 380, 420)]  # half of the cutoffs saw less than the lookback
    assert "had 300 to 420 days of" in short_history_note(half, START, START + 500 * DAY, 365)


@pytest.mark.parametrize(
    ("cutoff_days", "start"),
    [
        ((365, 395), START),  # every cutoff saw the longest lookback whole
        ((312, 372, 432, 492), START),  # most did: a long history whose earliest cutoff came early
        ((100,), None),  # no purchase history known
        ((-30, 100), START),  # a cutoff before this data's history: the model learnt from other data
        ((), START),  # no training cutoffs recorded
    ],
)
def test_no_short_history_note_without_a_short_history(cutoff_days, start):
    cutoffs = [START + d * DAY for d in cutoff_days]
    assert short_history_note(cutoffs, start, START + 500 * DAY, 365) is None


def test_edges_move_to_half_steps_of_the_resolution_by_hand():
    frame = pd.DataFrame({"x": [0.2, 0.9, 1.1, 1.4, 2.0, 2.6, 3.0, 3.3, 4.8, 5.1]})
    # Quartiles at positions 9q: 2.25 -> 1.1 + 0.25 x 0.3 = 1.175; 4.5 -> 2.3; 6.75 -> 3.0 + 0.75 x 0.3 = 3.225.
    # Rounded to whole units 1, 2, 3 -> edges 1.5, 2.5, 3.5. The values rounded are 0 1 1 1 2 3 3 3 5 5: 1 and 3
    # are point masses (3 of 10 rows, at least one in 4), with bins [0.5, 1.5) and [2.5, 3.5) of their own; 2 is not
    # (1 row). Edges 0.5, 1.5, 2.5, 3.5. Each value x counts as spread over [x - 0.5, x + 0.5]: 0.2 -> 0.8 in the
    # first bin, 0.2 in the second; 0.9 -> 0.1 / 0.9; 1.1 -> 0.9 / 0.1; 1.4 -> 0.6 / 0.4; 2.0 -> 1 in [1.5, 2.5);
    # 2.6 -> 0.4 / 0.6; 3.0 -> 1 in [2.5, 3.5); 3.3 -> 0.7 / 0.3; 4.8 and 5.1 -> 1 in the last. Per bin:
    # 0.8 + 0.1 = 0.9; 0.2 + 0.9 + 0.9 + 0.6 = 2.6; 0.1 + 0.4 + 1 + 0.4 = 1.9; 0.6 + 1 + 0.7 = 2.3; 0.3 + 2 = 2.3.
    reference = reference_distributions(frame, n_bins=4, resolutions={"x": 1.0})
    assert reference["x"]["edges"] == pytest.approx([0.5, 1.5, 2.5, 3.5])
    assert reference["x"]["shares"] == pytest.approx([0.09, 0.26, 0.19, 0.23, 0.23])
    assert reference["x"]["resolution"] == 1.0
    # Counted now the same way: 2.0 moved to 2.3 puts 0.3 of it in [2.5, 3.5); PSI from the shares by hand.
    now = frame.assign(x=frame["x"].replace(2.0, 2.3))
    assert drift_counts(reference, now)["x"].tolist() == pytest.approx([0.9, 2.6, 1.6, 2.6, 2.3])
    by_hand = (0.16 - 0.19) * math.log(0.16 / 0.19) + (0.26 - 0.23) * math.log(0.26 / 0.23)
    assert population_stability(reference, now)["x"] == pytest.approx(by_hand)
    # Without a resolution the plain quantiles, as before.
    assert reference_distributions(frame, n_bins=4)["x"]["edges"] == pytest.approx([1.175, 2.3, 3.225])


def test_a_point_mass_gets_a_bin_of_its_own():
    # Six zeros, then 1, 1, 2, 3 (the case above): quantile edges 0, 0.4, 1, 1.2, 2.1 put the zeros on an edge.
    # At resolution 1 they round to 0, 0, 1, 1, 2 -> edges 0.5, 1.5, 2.5; 0 (6 of 10), 1 (2) and 2 (1) are point
    # masses at n_bins 10, so -0.5 too: bins (-inf, -0.5) empty, {0 x 6}, {1, 1}, {2}, {3}.
    frame = pd.DataFrame({"n": [0, 0, 0, 0, 0, 0, 1, 1, 2, 3]})
    reference = reference_distributions(frame, resolutions={"n": 1.0})
    assert reference["n"]["edges"] == pytest.approx([-0.5, 0.5, 1.5, 2.5])
    assert reference["n"]["shares"] == pytest.approx([0.0, 0.6, 0.2, 0.1, 0.1])


def test_a_stored_reference_of_plain_quantiles_is_merged_to_its_resolution_by_hand():
    # bgnbd_p_alive as a model trained before stored it: deciles crowding at 1.0.
    edges = [0.62, 0.85, 0.95, 0.985, 0.996, 0.999, 0.9996, 1.0]
    shares = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.1]
    stored = {"p": {"kind": "numeric", "edges": edges, "shares": shares},
              "segment": {"kind": "categorical", "shares": {"a": 1.0}},
              "unresolved": {"kind": "numeric", "edges": [0.1, 0.1001], "shares": [0.3, 0.3, 0.4]}}
    merged = coarsened(stored, {"p": 0.01, "unresolved": 0.0})
    # Kept: 0.62, 0.85, 0.95, 0.985 and 0.996 (0.011 above 0.985); 0.999, 0.9996 and 1.0 lie within 0.01 of 0.996,
    # so the last four bins become one: 0.1 + 0.1 + 0.2 + 0.1.
    assert merged["p"]["edges"] == pytest.approx([0.62, 0.85, 0.95, 0.985, 0.996])
    assert merged["p"]["shares"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.5])
    assert merged["segment"] == stored["segment"]
    assert merged["unresolved"] == stored["unresolved"]  # no resolution known: as stored


def test_a_reference_built_at_its_resolutions_is_not_merged_again():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"days": rng.gamma(2.0, 20.0, 2000), "share": rng.beta(0.5, 3.0, 2000)})
    resolutions = {"days": 1.0, "share": 0.01}
    reference = reference_distributions(frame, resolutions=resolutions)
    assert coarsened(reference, resolutions) == reference


def _world(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Training-like inputs: a monthly rhythm of 30.0-30.4 days, p_alive crowding at 1.0, a spread of days."""
    return pd.DataFrame(
        {
            "gap_days": 30.0 + rng.uniform(0.0, 0.4, n),
            "p_alive": np.where(rng.random(n) < 0.6, 1.0, rng.beta(8.0, 1.0, n)),
            "recency_days": rng.gamma(2.0, 15.0, n).round(),
        }
    )


RESOLUTIONS = {"gap_days": 1.0, "p_alive": 0.01, "recency_days": 1.0}


def test_shifts_far_below_the_resolution_are_not_drift_and_meaningful_ones_are():
    rng = np.random.default_rng(11)
    training, now = _world(rng, 20_000), _world(rng, 5_000)
    reference = reference_distributions(training, resolutions=RESOLUTIONS)
    plain = reference_distributions(training)
    assert population_stability(reference, now).max() < 0.01  # the same behaviour: no drift

    # Jitter far below a day's display step: the median gap moves by 0.05 days.
    jittered = now.assign(gap_days=now["gap_days"] + 0.05)
    assert population_stability(reference, jittered)["gap_days"] < 0.1
    assert population_stability(plain, jittered)["gap_days"] > 0.1  # the plain deciles cried wolf

    # The point mass at 1.0 moving slightly (p_alive 1.0 -> 0.999): not drift; the plain deciles cried wolf.
    moved = now.assign(p_alive=now["p_alive"].where(now["p_alive"] < 1.0, 0.999))
    assert population_stability(reference, moved)["p_alive"] < 0.1
    assert population_stability(plain, moved)["p_alive"] > 0.25

    # Meaningful shifts are still strong drift: the rhythm from monthly to every 33 days, recency up a week,
    # and the point mass leaving (half the customers at p_alive 1.0 now at 0.7).
    assert population_stability(reference, now.assign(gap_days=now["gap_days"] + 3.0))["gap_days"] > 0.25
    assert population_stability(reference, now.assign(recency_days=now["recency_days"] + 7))["recency_days"] > 0.25
    left = now.assign(p_alive=now["p_alive"].mask((now["p_alive"] == 1.0) & (rng.random(len(now)) < 0.5), 0.7))
    assert population_stability(reference, left)["p_alive"] > 0.25


def test_resolutions_come_from_how_reasons_show_values_else_from_units():
    specs = model_specs(FeatureSettings())
    resolutions = drift_resolutions(specs)
    assert resolutions["purchase_gap_mean_days"] == 1.0  # "usually buys every {value:.0f} days"
    assert resolutions["purchase_overdue_ratio"] == pytest.approx(0.1)  # "{value:.1f}x"
    assert resolutions["promo_share_90d"] == pytest.approx(0.01)  # "{value:.0%}"
    assert resolutions["tenure_days"] == 1.0  # "{duration}"
    assert resolutions["bgnbd_p_alive"] == pytest.approx(0.01)  # no reason: a probability's unit
    assert resolutions["has_account_manager"] == 1.0  # a flag
    assert "segment" not in resolutions and "lifecycle_stage" not in resolutions  # categorical


def test_a_point_mass_beside_an_edge_moving_a_fraction_of_a_step_is_not_drift():
    # A monthly rhythm: 11 gaps over 334 days (30.36) in 30% of the rows, the rest spread over 25-45 days. Next
    # month the same customers' gaps span other months: 337 / 11 = 30.64, across the half-step edge at 30.5.
    rng = np.random.default_rng(2)
    spread = rng.uniform(25.0, 45.0, 7_000)
    training = pd.DataFrame({"gap": np.append(np.full(3_000, 334 / 11), spread)})
    reference = reference_distributions(training, resolutions={"gap": 1.0})
    assert 30.5 in reference["gap"]["edges"]  # the mass's own bin [29.5, 30.5) ends just above it
    later = pd.DataFrame({"gap": np.append(np.full(3_000, 337 / 11), spread)})
    # Spread over a day, 0.28 of the mass (8% of the rows) crosses; counted whole in the same bins, all 30% would.
    assert population_stability(reference, later)["gap"] < 0.1
    whole = {"gap": {key: value for key, value in reference["gap"].items() if key != "resolution"}}
    assert population_stability(whole, later)["gap"] > 0.25
    assert population_stability(reference, later.assign(gap=later["gap"] + 2.0))["gap"] > 0.25  # two days: drift
