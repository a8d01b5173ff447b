"""Evaluation metrics of churn scores: ranking, calibration, top-k capture and the expected maximum profit (EMP).

Every function takes ``y_true`` (1 = churned, 0 = stayed) and ``y_score`` (predicted churn probability, high = churner),
so the model and the baselines are scored by the same code. Metrics that need both classes return NaN when one is absent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull
from scipy.special import betainc
from sklearn.metrics import average_precision_score, roc_auc_score

LOG_LOSS_EPS = 1e-15


@dataclass(frozen=True)
class EmpParams:
    """EMP cost-benefit parameters (Verbraken et al. 2013); ``clv=None`` means the mean customer value of the data."""

    alpha: float = 6.0
    beta: float = 14.0
    incentive_cost: float = 10.0
    contact_cost: float = 1.0
    clv: float | None = 200.0


@dataclass(frozen=True)
class EmpResult:
    """Expected maximum profit per customer and the expected profit-maximising fraction of customers to target."""

    emp: float
    targeting_fraction: float


def _checked(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_score, dtype=float).ravel()
    if y.size == 0 or y.size != p.size:
        raise ValueError(
            f"y_true and y_score must be non-empty and of equal length, got {y.size} and {p.size}"
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold only 0 (stayed) and 1 (churned)")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("y_score must hold churn probabilities in [0, 1] (no NaN)")
    return y, p


def _has_both_classes(y: np.ndarray) -> bool:
    return 0 < y.sum() < y.size


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve (ties count one half)."""
    y, p = _checked(y_true, y_score)
    return float(roc_auc_score(y, p)) if _has_both_classes(y) else math.nan


def pr_auc(y_true, y_score) -> float:
    """Area under the precision-recall curve of the churn class, as average precision (step-wise, no interpolation)."""
    y, p = _checked(y_true, y_score)
    return float(average_precision_score(y, p)) if _has_both_classes(y) else math.nan


def log_loss(y_true, y_score, *, eps: float = LOG_LOSS_EPS) -> float:
    """Mean negative log-likelihood, probabilities clipped to [eps, 1 - eps] so a confident miss costs ~34.5, not inf."""
    y, p = _checked(y_true, y_score)
    q = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def brier(y_true, y_score) -> float:
    """Mean squared difference between the churn probability and the outcome."""
    y, p = _checked(y_true, y_score)
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y_true, y_score, *, n_bins: int = 10) -> float:
    """Bin-size-weighted mean |churn rate - mean probability| over equal-width probability bins.

    Bin j holds probabilities in [j/n_bins, (j+1)/n_bins); the last bin also holds 1.0. Empty bins weigh nothing.
    """
    y, p = _checked(y_true, y_score)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins)
    )
    # sum_j (n_j / n) * |sum_y_j / n_j - sum_p_j / n_j| = sum_j |sum_y_j - sum_p_j| / n
    return float(gap.sum() / count.sum())


def _top_count(n: int, k: float) -> int:
    if not 0 < k <= 1:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    # Round first so that k * n = 3.0000000000000004 still means 3 customers.
    return max(1, math.ceil(round(k * n, 9)))


def _top_sum(weight: np.ndarray, rank_score: np.ndarray, k: float) -> float:
    """Sum of ``weight`` over the top ceil(k * n) rows by ``rank_score``.

    Rows tied at the boundary share the remaining places pro rata: the expected sum under a random order of ties,
    so the result never depends on the row order.
    """
    n = rank_score.size
    m = _top_count(n, k)
    boundary = np.partition(rank_score, n - m)[n - m]
    above = rank_score > boundary
    tied = rank_score == boundary
    places_left = m - above.sum()
    return float(weight[above].sum() + weight[tied].sum() * places_left / tied.sum())


def churners_captured_at_k(y_true, y_score, k: float = 0.10) -> float:
    """Share of all churners found in the top k fraction of customers by churn probability."""
    y, p = _checked(y_true, y_score)
    return float(_top_sum(y, p, k) / y.sum()) if y.sum() > 0 else math.nan


def lift_at_k(y_true, y_score, k: float = 0.10) -> float:
    """Churn rate in the top k fraction by churn probability divided by the overall churn rate."""
    y, p = _checked(y_true, y_score)
    if y.sum() == 0:
        return math.nan
    top_rate = _top_sum(y, p, k) / _top_count(y.size, k)
    return float(top_rate / y.mean())


def value_at_risk_captured_at_k(y_true, y_score, customer_value, k: float = 0.10) -> float:
    """Share of the value of the actual churners, sum(value * churned), held by the top k fraction.

    Customers are ranked by expected value lost, churn probability * customer value: the order of the win-back list,
    so this measures what the retention team would reach by working down that list.
    """
    y, p = _checked(y_true, y_score)
    value = np.asarray(customer_value, dtype=float).ravel()
    if value.size != y.size or not np.isfinite(value).all():
        raise ValueError("customer_value must be finite and as long as y_true")
    lost = (value * y).sum()
    return float(_top_sum(value * y, p * value, k) / lost) if lost != 0 else math.nan


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) when targeting every customer scored >= each distinct score."""
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    last_of_tie = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = np.cumsum(1 - y_sorted)[last_of_tie]
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def _roc_convex_hull(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the ROC convex hull from (0, 0) to (1, 1), by increasing false positive rate."""
    # Adding the corner (1, 0) closes the region under the curve; the hull's vertices on or above the diagonal are
    # then exactly the upper chain (the corner and the bottom and right edges lie below it).
    points = np.column_stack([np.r_[fpr, 1.0], np.r_[tpr, 0.0]])
    vertices = points[ConvexHull(points).vertices]
    upper = vertices[vertices[:, 1] >= vertices[:, 0]]
    upper = upper[np.lexsort((upper[:, 1], upper[:, 0]))]
    return upper[:, 0], upper[:, 1]


def emp(
    y_true,
    y_score,
    *,
    alpha: float = 6.0,
    beta: float = 14.0,
    incentive_cost: float = 10.0,
    contact_cost: float = 1.0,
    clv: float = 200.0,
) -> EmpResult:
    """Expected maximum profit for customer churn (Verbraken, Verbeke & Baesens 2013, IEEE TKDE 25(5)).

    Targeting the customers scored above threshold t earns per customer
        P(t; gamma) = CLV * (gamma * (1 - delta) - phi) * pi0 * F0(t) - CLV * (delta + phi) * pi1 * F1(t),
    with delta = incentive_cost / CLV, phi = contact_cost / CLV, pi0 / pi1 the churner / non-churner shares and
    F0 / F1 the shares of churners / non-churners targeted. The paper's class 0 (churners, scored low) is our
    y_true == 1 scored high, so F0 is our true positive rate and F1 our false positive rate.
    The acceptance rate gamma of a targeted churner is Beta(alpha, beta). P is linear in (F1, F0), so for each
    gamma the best threshold is a vertex of the ROC convex hull; vertex i is optimal for gamma between the
    breakpoints gamma_i = ((delta + phi) * pi1 * dF1 + phi * pi0 * dF0) / ((1 - delta) * pi0 * dF0) of its two
    segments. EMP integrates P at the optimal vertex over gamma in closed form with the regularised incomplete
    beta function: int_a^b gamma h(gamma) dgamma = alpha / (alpha + beta) * [I_b(alpha + 1, beta) - I_a(alpha + 1, beta)].
    The targeting fraction is the same integral of the optimal vertex's share targeted, pi0 * F0 + pi1 * F1.
    """
    y, p = _checked(y_true, y_score)
    if clv <= 0 or not 0 <= incentive_cost < clv or contact_cost < 0 or alpha <= 0 or beta <= 0:
        raise ValueError("EMP needs clv > incentive_cost >= 0, contact_cost >= 0 and alpha, beta > 0")
    if not _has_both_classes(y):
        return EmpResult(math.nan, math.nan)
    delta, phi = incentive_cost / clv, contact_cost / clv
    pi0 = y.mean()
    pi1 = 1 - pi0
    f1, f0 = _roc_convex_hull(*_roc_points(y, p))
    d_f1, d_f0 = np.diff(f1), np.diff(f0)
    with np.errstate(divide="ignore"):
        # A flat segment (d_f0 == 0) adds only non-churners: never worth it, breakpoint +inf.
        breakpoints = ((delta + phi) * pi1 * d_f1 + phi * pi0 * d_f0) / ((1 - delta) * pi0 * d_f0)
    # Convexity makes the breakpoints increase; the running maximum only absorbs rounding.
    edges = np.clip(np.r_[0.0, np.maximum.accumulate(breakpoints), np.inf], 0.0, 1.0)
    prob = np.diff(betainc(alpha, beta, edges))
    mean_gamma = alpha / (alpha + beta) * np.diff(betainc(alpha + 1, beta, edges))
    profit = clv * ((1 - delta) * pi0 * f0 * mean_gamma - (phi * pi0 * f0 + (delta + phi) * pi1 * f1) * prob)
    fraction = (pi0 * f0 + pi1 * f1) * prob
    return EmpResult(float(profit.sum()), float(fraction.sum()))


def _percent_label(k: float) -> str:
    return f"{k * 100:g}"


def evaluate(
    y_true, y_score, customer_value=None, *, k: float = 0.10, emp_params: EmpParams = EmpParams()
) -> dict[str, float]:
    """Every metric of one set of churn probabilities, under stable keys (``_at_10`` for k = 0.10).

    Without ``customer_value`` the value-captured share is NaN; ``emp_params.clv=None`` takes the mean customer value.
    """
    y, p = _checked(y_true, y_score)
    clv = emp_params.clv
    if clv is None:
        if customer_value is None:
            raise ValueError("emp_params.clv=None means the mean customer value: pass customer_value")
        clv = float(np.mean(customer_value))
    profit = emp(
        y,
        p,
        alpha=emp_params.alpha,
        beta=emp_params.beta,
        incentive_cost=emp_params.incentive_cost,
        contact_cost=emp_params.contact_cost,
        clv=clv,
    )
    at = _percent_label(k)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p),
        f"lift_at_{at}": lift_at_k(y, p, k),
        f"churners_captured_at_{at}": churners_captured_at_k(y, p, k),
        f"value_captured_at_{at}": (
            math.nan if customer_value is None else value_at_risk_captured_at_k(y, p, customer_value, k)
        ),
        "emp": profit.emp,
        "emp_fraction": profit.targeting_fraction,
        "n": float(y.size),
        "churn_rate": float(y.mean()),
    }
