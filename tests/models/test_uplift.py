"""Uplift statistics against hand-computed values (Wilson/Newcombe, chi-square, power formula)."""

import math

import numpy as np
import pandas as pd
import pytest

from models.uplift import (
    adjusted_uplift,
    customers_needed,
    evaluate_cells,
    minimal_detectable_effect,
    sample_ratio_mismatch,
    shrunk_save_rate,
    uplift_interval,
)


def test_uplift_interval_is_newcombes_hybrid_score_interval():
    # Worked by hand from the two Wilson intervals: control 30/100 -> [0.21895, 0.39585], treated 20/100 ->
    # [0.13337, 0.28883]; low = 0.1 - sqrt(0.08105^2 + 0.08883^2), high = 0.1 + sqrt(0.09585^2 + 0.06663^2).
    interval = uplift_interval(treated_churned=20, treated_n=100, control_churned=30, control_n=100)
    assert interval.estimate == pytest.approx(0.10)
    assert interval.low == pytest.approx(-0.02025, abs=2e-4)
    assert interval.high == pytest.approx(0.21674, abs=2e-4)
    assert not interval.excludes_zero


def test_a_balanced_covariate_leaves_the_estimate_and_narrows_the_interval():
    # Both arms have the same covariate values, so Lin's estimator equals the difference in means (0.5 - 0.25);
    # the covariate explains most of the churn, so its interval is narrower than the unadjusted one.
    x = np.tile([0, 0, 1, 1, 0, 0, 1, 1], 25).astype(float)
    treated = np.tile([0, 0, 0, 0, 1, 1, 1, 1], 25).astype(bool)
    churned = np.tile([0, 0, 1, 1, 0, 0, 0, 1], 25).astype(bool)
    adjusted = adjusted_uplift(churned, treated, x)
    plain = uplift_interval(25, 100, 50, 100)
    assert adjusted.estimate == pytest.approx(0.25)
    assert adjusted.high - adjusted.low < plain.high - plain.low


def test_a_covariate_without_spread_gives_the_plain_difference():
    treated = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    churned = np.array([1, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    assert adjusted_uplift(churned, treated, np.full(8, 0.3)).estimate == pytest.approx(0.5 - 0.25)


def test_sample_ratio_mismatch_by_chi_square():
    assert sample_ratio_mismatch(900, 100, 0.10) == pytest.approx(1.0)
    # expected 900/100: chi2 = 50^2/900 + 50^2/100 = 27.78, one degree of freedom
    assert sample_ratio_mismatch(850, 150, 0.10) == pytest.approx(1.36e-7, rel=0.05)


def test_a_small_list_takes_the_exact_binomial_test():
    # 8 customers, 3 in control at a 10% share (0.8 expected): P(X >= 3) = 1 - (0.9^8 + 8 x 0.1 x 0.9^7
    # + 28 x 0.01 x 0.9^6) = 0.0381; P(X = 0) = 0.430 > P(X = 3) = 0.0331, so the two-sided p is the upper tail
    assert sample_ratio_mismatch(5, 3, 0.1) == pytest.approx(1 - (0.9**8 + 0.8 * 0.9**7 + 0.28 * 0.9**6), rel=1e-6)


def test_minimal_detectable_effect_and_customers_needed_agree():
    # z = 1.95996 + 0.84162; sqrt(0.3 * 0.7 * (1/1000 + 1/1000)) = 0.020494
    assert minimal_detectable_effect(0.3, 1000, 1000) == pytest.approx(2.801585 * 0.0204939, rel=1e-4)
    needed = customers_needed(0.3, 0.05, 0.5)  # 2.801585^2 * 0.21 / (0.05^2 * 0.25) = 2637.2
    assert needed == 2638
    assert minimal_detectable_effect(0.3, needed // 2, needed - needed // 2) <= 0.05
    assert minimal_detectable_effect(0.3, 0, 10) == math.inf


def test_shrunk_save_rate_weighs_the_prior_in_customers():
    assert shrunk_save_rate(0.4, 100, 0.2, 300) == pytest.approx(0.25)  # (100*0.4 + 300*0.2) / 400
    assert shrunk_save_rate(0.4, 0, 0.2, 300) == 0.2
    assert shrunk_save_rate(0.4, 10**9, 0.2, 300) == pytest.approx(0.4, abs=1e-6)


def _customers(n_treated, n_control, treated_churn, control_churn, tier):
    rows = []
    for arm, n, churners in ((True, n_treated, treated_churn), (False, n_control, control_churn)):
        for i in range(n):
            rows.append({"treated": arm, "churned": i < churners, "churn_probability": 0.3,
                         "customer_value": 10.0, "cost": 1.0 if arm else 0.0, "value_tier": tier})
    return rows


def test_cells_overall_and_by_tier_with_counts_rates_value_and_verdicts():
    frame = pd.DataFrame(_customers(400, 400, 80, 120, "A") + _customers(10, 10, 2, 3, "B"))
    cells = evaluate_cells(frame, {"value_tier": "value_tier"}, control_share=0.5, effect_of_interest=0.05,
                           weekly_customers=100)
    overall = cells.iloc[0]
    assert (overall["group"], overall["level"], overall["treated_n"], overall["control_n"]) == ("overall", "all", 410, 410)
    assert overall["uplift"] == pytest.approx(123 / 410 - 82 / 410)
    a = cells[(cells["group"] == "value_tier") & (cells["level"] == "A")].iloc[0]
    assert a["treated_churn_rate"] == pytest.approx(0.2) and a["control_churn_rate"] == pytest.approx(0.3)
    assert a["retained_value"] == pytest.approx(0.1 * 400 * 10.0)  # uplift x value of the treated
    assert a["cost"] == 400.0 and a["roi"] == pytest.approx((400.0 - 400.0) / 400.0)
    assert a["verdict"].startswith("contacting lowered churn by 10.0 points")
    b = cells[(cells["group"] == "value_tier") & (cells["level"] == "B")].iloc[0]
    assert b["verdict"] == "too small to tell: 10 treated and 10 control customers"
