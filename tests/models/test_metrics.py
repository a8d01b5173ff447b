import math

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import roc_curve

from models.metrics import (
    EmpParams,
    EmpResult,
    brier,
    churners_captured_at_k,
    emp,
    evaluate,
    expected_calibration_error,
    lift_at_k,
    log_loss,
    pr_auc,
    roc_auc,
    value_at_risk_captured_at_k,
)

# Six customers, three churners; two share the score 0.64 (one churner, one not). No score sits on a bin edge.
Y = np.array([1, 1, 0, 0, 1, 0])
P = np.array([0.92, 0.64, 0.64, 0.33, 0.27, 0.05])
VALUE = np.array([100.0, 10.0, 50.0, 20.0, 400.0, 5.0])

# EMP defaults: CLV 200, incentive d = 10, contact f = 1 -> delta = 0.05, phi = 0.005; gamma ~ Beta(6, 14).
DELTA, PHI, CLV = 10 / 200, 1 / 200, 200.0
GAMMA = stats.beta(6, 14)


def test_roc_auc_by_hand():
    # Churner scores {0.92, 0.64, 0.27} vs stayer scores {0.64, 0.33, 0.05}: 9 pairs.
    # 0.92 beats all 3; 0.64 ties 0.64 (1/2) and beats 2; 0.27 beats only 0.05 -> (3 + 2.5 + 1) / 9.
    assert roc_auc(Y, P) == pytest.approx(6.5 / 9)


def test_pr_auc_is_average_precision_by_hand():
    # Thresholds top-down: 0.92 -> P=1, R=1/3; 0.64 -> P=2/3, R=2/3; 0.33 -> R unchanged; 0.27 -> P=3/5, R=1.
    # AP = sum of precision * recall increment = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 34/45.
    assert pr_auc(Y, P) == pytest.approx(34 / 45)


def test_brier_by_hand():
    squared = 0.08**2 + 0.36**2 + 0.64**2 + 0.33**2 + 0.73**2 + 0.05**2  # = 1.1899
    assert brier(Y, P) == pytest.approx(squared / 6)
    assert brier(Y, P) == pytest.approx(1.1899 / 6)


def test_log_loss_by_hand_and_clipped():
    by_hand = (
        -(math.log(0.92) + math.log(0.64) + math.log(0.36) + math.log(0.67) + math.log(0.27) + math.log(0.95))
        / 6
    )
    assert log_loss(Y, P) == pytest.approx(by_hand)
    # A certain miss is clipped at 1e-15 instead of costing infinity: -ln(1e-15) / 2 for one of two rows.
    assert log_loss([1, 0], [0.0, 0.0]) == pytest.approx(-math.log(1e-15) / 2)


def test_ece_by_hand():
    # Bins of width 0.1: [0.9,1) holds 0.92 (churned): |1 - 0.92| = 0.08, weight 1;
    # [0.6,0.7) holds both 0.64 (rate 1/2): |0.5 - 0.64| = 0.14, weight 2; [0.3,0.4): 0.33 stayed: 0.33;
    # [0.2,0.3): 0.27 churned: 0.73; [0,0.1): 0.05 stayed: 0.05.  ECE = (0.08 + 0.28 + 0.33 + 0.73 + 0.05) / 6.
    assert expected_calibration_error(Y, P) == pytest.approx(1.47 / 6)


def test_ece_is_zero_when_each_bin_is_calibrated_and_puts_one_in_the_last_bin():
    # Two bins: four at 0.25 with one churner, two at 1.0 (last bin, closed at 1) both churned.
    assert expected_calibration_error([1, 0, 0, 0, 1, 1], [0.25] * 4 + [1.0, 1.0]) == pytest.approx(0.0)


def test_lift_and_capture_by_hand_with_a_tie_at_the_boundary():
    # k = 0.10 of 6 -> ceil(0.6) = 1 customer: 0.92, a churner. Rate 1 vs overall 1/2 -> lift 2, 1 of 3 churners.
    assert lift_at_k(Y, P, 0.10) == pytest.approx(2.0)
    assert churners_captured_at_k(Y, P, 0.10) == pytest.approx(1 / 3)
    # k = 1/3 -> 2 customers: 0.92 and one place for the tied pair at 0.64 (one churner): 1 + 1/2 churners.
    assert lift_at_k(Y, P, 1 / 3) == pytest.approx((1.5 / 2) / 0.5)
    assert churners_captured_at_k(Y, P, 1 / 3) == pytest.approx(0.5)
    # k = 0.5 -> 3 customers: 0.92 and both 0.64 -> 2 churners, rate 2/3.
    assert lift_at_k(Y, P, 0.5) == pytest.approx((2 / 3) / 0.5)


def test_top_k_does_not_depend_on_row_order_of_ties():
    order = np.array([2, 1, 0, 5, 4, 3])
    assert lift_at_k(Y[order], P[order], 1 / 3) == lift_at_k(Y, P, 1 / 3)


def test_value_captured_ranks_by_expected_value_lost():
    # p * value = [92, 6.4, 32, 6.6, 108, 0.25]; value of churners = 100 + 10 + 400 = 510.
    # Top 2 by p * value: 108 (churner, 400) and 92 (churner, 100) -> 500 / 510.
    # (Ranking by p alone would pick 0.92 and half the 0.64 pair: (100 + 10/2) / 510.)
    assert value_at_risk_captured_at_k(Y, P, VALUE, 1 / 3) == pytest.approx(500 / 510)
    # Top 3 adds 32, a stayer: still 500 / 510; everybody: all of it.
    assert value_at_risk_captured_at_k(Y, P, VALUE, 0.5) == pytest.approx(500 / 510)
    assert value_at_risk_captured_at_k(Y, P, VALUE, 1.0) == pytest.approx(1.0)


def test_ranking_metrics_are_nan_with_a_single_class():
    assert math.isnan(roc_auc([0, 0, 0], [0.1, 0.5, 0.9]))
    assert math.isnan(lift_at_k([0, 0, 0], [0.1, 0.5, 0.9]))
    assert math.isnan(emp([1, 1], [0.2, 0.3]).emp)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="0 \\(stayed\\) and 1"):
        brier([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="probabilities"):
        brier([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="equal length"):
        brier([0, 1], [0.1])


def _profit(gamma, pi0, f0, f1):
    """The paper's profit per customer at a threshold with churner share targeted f0 and stayer share f1."""
    return CLV * (gamma * (1 - DELTA) - PHI) * pi0 * f0 - CLV * (DELTA + PHI) * (1 - pi0) * f1


def _quad(f, lo, hi):
    return integrate.quad(lambda g: f(g) * GAMMA.pdf(g), lo, hi, epsabs=1e-12, epsrel=1e-12)[0]


def test_emp_of_a_perfect_classifier():
    # Churners all ranked first: the hull is (0,0) -> (0,1) -> (1,1). Targeting exactly the churners earns
    # CLV * (gamma(1 - delta) - phi) * pi0, positive iff gamma > phi / (1 - delta); else target nobody.
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    g_star = PHI / (1 - DELTA)
    expected = _quad(lambda g: _profit(g, 0.4, 1.0, 0.0), g_star, 1)
    result = emp(y, p)
    assert result.emp == pytest.approx(expected, rel=1e-9)
    assert result.targeting_fraction == pytest.approx(0.4 * GAMMA.sf(g_star), rel=1e-9)
    # Sanity of the number itself: E[gamma] = 0.3, and Beta(6, 14) puts ~no mass below 0.0053,
    # so EMP ~ 200 * 0.4 * (0.3 * 0.95 - 0.005) = 22.4.
    assert result.emp == pytest.approx(22.4, abs=1e-3)


def test_emp_of_a_random_classifier_and_of_an_inverted_one():
    # Constant scores: the hull is the diagonal; targeting everybody pays iff
    # (gamma(1 - delta) - phi) * pi0 > (delta + phi) * pi1, i.e. gamma > ((delta + phi) * pi1 / pi0 + phi) / (1 - delta).
    y = np.array([1, 1, 0, 0, 0])
    g_all = ((DELTA + PHI) * 0.6 / 0.4 + PHI) / (1 - DELTA)
    expected = _quad(lambda g: _profit(g, 0.4, 1.0, 1.0), g_all, 1)
    random = emp(y, np.full(5, 0.3))
    assert random.emp == pytest.approx(expected, rel=1e-9)
    assert random.targeting_fraction == pytest.approx(GAMMA.sf(g_all), rel=1e-9)
    # Churners scored LOW (the paper's own convention) is the worst ranking for our high-is-churn API: its hull is
    # the diagonal too, so it is worth exactly as much as random targeting, far below the perfect ranking.
    inverted = emp(y, np.array([0.1, 0.2, 0.7, 0.8, 0.9]))
    assert inverted.emp == pytest.approx(random.emp, rel=1e-12)
    assert emp(y, np.array([0.9, 0.8, 0.3, 0.2, 0.1])).emp > random.emp + 1


def test_emp_with_two_hull_vertices_inside():
    # Scores top-down: 0.9 churner, 0.6 stayer, 0.4 churner, 0.1 stayer. ROC: (0,0) (0,.5) (.5,.5) (.5,1) (1,1);
    # (.5,.5) lies under the hull, which is (0,0) -> (0,.5) -> (.5,1) -> (1,1). pi0 = pi1 = 1/2.
    # Breakpoints: the vertical step pays from gamma_a = phi / (1 - delta); the slope-1 step pays from
    # gamma_b = ((delta + phi) * 1/2 * 1/2 + phi * 1/2 * 1/2) / ((1 - delta) * 1/2 * 1/2) = (delta + 2 phi) / (1 - delta).
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1])
    g_a = PHI / (1 - DELTA)
    g_b = (DELTA + 2 * PHI) / (1 - DELTA)
    expected = _quad(lambda g: _profit(g, 0.5, 0.5, 0.0), g_a, g_b) + _quad(
        lambda g: _profit(g, 0.5, 1.0, 0.5), g_b, 1
    )
    result = emp(y, p)
    assert result.emp == pytest.approx(expected, rel=1e-9)
    fraction = 0.25 * (GAMMA.cdf(g_b) - GAMMA.cdf(g_a)) + 0.75 * GAMMA.sf(g_b)
    assert result.targeting_fraction == pytest.approx(fraction, rel=1e-9)


def test_emp_closed_form_agrees_with_quadrature_of_the_best_raw_roc_point():
    # Independent route: for each gamma take the best of ALL raw ROC points (no hull, no breakpoints), integrate.
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random(300), 0, 1), 2)  # rounded: many ties
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    pi0 = y.mean()

    def best(g):
        return max(0.0, np.max(_profit(g, pi0, tpr, fpr)))

    def best_fraction(g):
        i = np.argmax(_profit(g, pi0, tpr, fpr))
        return pi0 * tpr[i] + (1 - pi0) * fpr[i]

    expected = integrate.quad(lambda g: best(g) * GAMMA.pdf(g), 0, 1, limit=2000, epsabs=1e-10)[0]
    expected_fraction = integrate.quad(lambda g: best_fraction(g) * GAMMA.pdf(g), 0, 1, limit=2000)[0]
    result = emp(y, p)
    assert result.emp == pytest.approx(expected, rel=1e-7)
    assert result.targeting_fraction == pytest.approx(expected_fraction, abs=1e-5)


def test_emp_matches_the_empulse_reference_example():
    # Published example of empulse's empc (a port of the R package EMP), default parameters.
    result = emp([0, 1, 0, 1, 0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9])
    assert result == EmpResult(pytest.approx(23.875593418348124), pytest.approx(0.8743700763487141))


def test_emp_refuses_an_incentive_above_the_clv():
    with pytest.raises(ValueError, match="clv > incentive_cost"):
        emp(Y, P, clv=5.0)


def test_evaluate_reports_every_metric_under_stable_keys():
    metrics = evaluate(Y, P, VALUE)
    assert metrics["roc_auc"] == pytest.approx(6.5 / 9)
    assert metrics["pr_auc"] == pytest.approx(34 / 45)
    assert metrics["brier"] == pytest.approx(1.1899 / 6)
    assert metrics["ece"] == pytest.approx(1.47 / 6)
    at_10 = metrics
    assert at_10["lift_at_10"] == pytest.approx(2.0)
    assert at_10["churners_captured_at_10"] == pytest.approx(1 / 3)
    assert at_10["value_captured_at_10"] == pytest.approx(400 / 510)  # top 1 by p * value: 108 = 0.27 * 400
    assert at_10["emp"] == pytest.approx(emp(Y, P).emp)
    assert at_10["emp_fraction"] == pytest.approx(emp(Y, P).targeting_fraction)
    assert (at_10["n"], at_10["churn_rate"]) == (6.0, 0.5)
    assert math.isnan(evaluate(Y, P)["value_captured_at_10"])
    assert "lift_at_5" in evaluate(Y, P, k=0.05)


def test_evaluate_takes_the_mean_customer_value_as_clv_when_asked():
    mean_value = VALUE.mean()  # 97.5
    metrics = evaluate(Y, P, VALUE, emp_params=EmpParams(clv=None))
    assert metrics["emp"] == pytest.approx(emp(Y, P, clv=mean_value).emp)
    assert metrics["emp"] != pytest.approx(emp(Y, P).emp)
    with pytest.raises(ValueError, match="pass customer_value"):
        evaluate(Y, P, emp_params=EmpParams(clv=None))
