"""BG/NBD baseline (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): fit and per-customer predictions.

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); right after each repeat purchase
they drop out for good with probability p ~ Beta(a, b). A summary row per customer holds x (repeat purchases),
t_x (time of the last purchase) and T (time observed), both counted from the customer's first purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln

from features.aggregate import customer_key, epoch_days
from features.cutoff import NS_PER_DAY, window_rows
from features.kernels import distinct_day_spans
from features.tables import as_timestamp

SUMMARY_COLUMNS = ("frequency", "recency", "T")
# Log-parameter box: keeps the optimiser finite on degenerate data (e.g. nobody ever repeats).
LOG_PARAM_BOUND = 20.0
# Gauss nodes for the expectation over the dropout probability's posterior (see expected_purchases).
GAUSS_NODES = 32
# Customers the parameters are fitted on (a stable hash sample beyond that); their standard errors are then ~1%.
FIT_MAX_CUSTOMERS = 100_000


@dataclass(frozen=True)
class BgNbdParams:
    """Purchase rate lambda ~ Gamma(shape r, rate alpha); dropout probability p ~ Beta(a, b). Time in summary units."""

    r: float
    alpha: float
    a: float
    b: float


# Where the fit starts, and what it returns when there is nothing to fit (no customer with a purchase before the
# as-of date, so no active customer to score either) or the optimiser ends on a non-finite likelihood: finite
# predictions for any summary, so training and scoring never stop on the baseline.
FALLBACK_PARAMS = BgNbdParams(1.0, 1.0, 1.0, 1.0)


def rfm_summary(transactions: pd.DataFrame, as_of, *, time_unit_days: float = 7.0) -> pd.DataFrame:
    """frequency x, recency t_x and age T per customer, in time units, from purchases strictly before ``as_of``.

    A purchase is a row with amount > 0; several on one day count once (x = distinct purchase days - 1). Times are
    measured between purchase days (midnight) and ``as_of``. Customers without such a purchase are absent; the
    index is the customer ids (str), sorted.
    """
    as_of = as_timestamp(as_of)
    before = window_rows(transactions, "timestamp", end=as_of)
    bought = (before["amount"] > 0).to_numpy(dtype=bool)
    key = customer_key(before["customer_id"])
    day = epoch_days(before["timestamp"])[bought].astype("int64")
    first_day, last_day, n_days = distinct_day_spans(key.codes[bought], day, key.n)
    present = np.flatnonzero(n_days > 0)
    unit = time_unit_days
    as_of_day = as_of.value / NS_PER_DAY
    return pd.DataFrame(
        {
            "frequency": (n_days[present] - 1).astype("float64"),
            "recency": (last_day[present] - first_day[present]) / unit,
            "T": (as_of_day - first_day[present]) / unit,
        },
        index=pd.Index(key.index(present).astype("str"), dtype="str", name="customer_id"),
    )


class _Repeats(NamedTuple):
    """Repeat purchases x per customer, and their few distinct values: the special functions of x (most of a
    likelihood evaluation) are computed once per distinct value, giving the very same numbers."""

    x: np.ndarray
    distinct: np.ndarray
    which: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> _Repeats:
        return cls(x, *np.unique(x, return_inverse=True))

    def map(self, function) -> np.ndarray:
        """``function(x)`` for every customer, evaluated on the distinct values."""
        return function(self.distinct)[self.which]


def _columns(summary: pd.DataFrame) -> tuple[_Repeats, np.ndarray, np.ndarray]:
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in SUMMARY_COLUMNS)
    return _Repeats.of(x), t_x, T


def _branches(params: BgNbdParams, repeats: _Repeats, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood = shared + logaddexp(alive, dropped): still alive at T, or dropped out right after t_x."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = repeats.x
    shared = repeats.map(lambda x: gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b))
    alive = -(r + x) * np.log(alpha + T)
    # B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1); nobody drops out before a repeat purchase (x = 0).
    log_dropout_odds = repeats.map(lambda x: np.log(a) - np.log(b + np.maximum(x, 1) - 1))
    dropped = np.where(x > 0, log_dropout_odds - (r + x) * np.log(alpha + t_x), -np.inf)
    return shared, alive, dropped


def log_likelihood(params: BgNbdParams, summary: pd.DataFrame) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (eq. 6 of the paper), computed in logs so large x and T stay finite."""
    shared, alive, dropped = _branches(params, *_columns(summary))
    return shared + np.logaddexp(alive, dropped)


def _objective(log_theta: np.ndarray, repeats: _Repeats, t_x, T, penalizer: float) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood plus penalizer * sum(theta^2), and its gradient in log-parameters."""
    theta = np.exp(log_theta)
    r, alpha, a, b = theta
    x = repeats.x
    shared, alive, dropped = _branches(BgNbdParams(*theta), repeats, t_x, T)
    both = np.logaddexp(alive, dropped)
    w = np.exp(dropped - both)  # posterior probability of having dropped out
    log_rate_exposure = (1 - w) * np.log(alpha + T) + w * np.log(alpha + t_x)
    rate_exposure = (1 - w) / (alpha + T) + w / (alpha + t_x)
    beta_shift = repeats.map(lambda x: digamma(a + b) - digamma(a + b + x))
    grad = np.stack(
        [
            repeats.map(lambda x: digamma(r + x) - digamma(r) + np.log(alpha)) - log_rate_exposure,
            r / alpha - (r + x) * rate_exposure,
            beta_shift + w / a,
            beta_shift + repeats.map(lambda x: digamma(b + x)) - digamma(b)
            - w / repeats.map(lambda x: b + np.maximum(x, 1) - 1),
        ]
    ).mean(axis=1)
    value = -np.mean(shared + both) + penalizer * np.sum(theta**2)
    return value, -grad * theta + 2 * penalizer * theta**2


def fit_sample(summary: pd.DataFrame, max_customers: int) -> pd.DataFrame:
    """At most ``max_customers`` rows of ``summary``: those whose customer id hashes lowest (pandas' fixed SipHash),
    so the sample depends on neither the row order nor how customers were split into buckets."""
    if len(summary) <= max_customers:
        return summary
    hashes = pd.util.hash_pandas_object(pd.Series(summary.index.astype("str")), index=False).to_numpy()
    chosen = np.sort(np.argsort(hashes, kind="stable")[:max_customers])
    return summary.iloc[chosen]


def fit_bgnbd(
    summary: pd.DataFrame, *, penalizer: float = 0.0, max_customers: int = FIT_MAX_CUSTOMERS
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters (L-BFGS-B on log-parameters from r = alpha = a = b = 1; deterministic);
    :data:`FALLBACK_PARAMS` when no customer has a purchase or the fit does not end finite.

    ``penalizer`` adds penalizer * (r^2 + alpha^2 + a^2 + b^2) to the mean negative log-likelihood (as lifetimes
    does), which shrinks the parameters when few customers repeat. Four parameters need no more than
    ``max_customers`` customers (a stable hash sample, :func:`fit_sample`): each likelihood evaluation costs a pass
    over the rows, and a fit takes about a hundred.
    """
    repeats, t_x, T = _columns(fit_sample(summary, max_customers))
    if repeats.x.size == 0:
        return FALLBACK_PARAMS
    result = minimize(
        _objective,
        np.log([FALLBACK_PARAMS.r, FALLBACK_PARAMS.alpha, FALLBACK_PARAMS.a, FALLBACK_PARAMS.b]),
        args=(repeats, t_x, T, penalizer),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * 4,
        options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9},
    )
    if not np.isfinite(result.fun) or not np.all(np.isfinite(result.x)):
        return FALLBACK_PARAMS
    return BgNbdParams(*(float(v) for v in np.exp(result.x)))


def _p_alive(params: BgNbdParams, repeats: _Repeats, t_x, T) -> np.ndarray:
    _, alive, dropped = _branches(params, repeats, t_x, T)
    return expit(alive - dropped)


def p_alive(params: BgNbdParams, summary: pd.DataFrame) -> pd.Series:
    """P(still alive at T | x, t_x, T); exactly 1 without repeat purchases, since dropout follows a purchase."""
    return pd.Series(_p_alive(params, *_columns(summary)), index=summary.index, name="p_alive")


def _beta_gauss_rule(a: float, b: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (one row per b_i) of the n-point Gauss rule for Beta(a, b_i), by Golub-Welsch.

    The Jacobi matrix is that of the Jacobi polynomials with t = 2p - 1, weight (1 - t)^(b-1) (1 + t)^(a-1); its
    eigenvalues are the nodes and the squared first components of its eigenvectors the weights (they sum to 1).
    """
    ja, jb = a - 1.0, b[:, None] - 1.0
    k = np.arange(n_nodes)
    two_k = 2 * k + ja + jb
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = np.where(k == 0, (ja - jb) / (ja + jb + 2), (ja - jb) * (ja + jb) / (two_k * (two_k + 2)))
        j = k[1:]
        two_j = 2 * j + ja + jb
        # For j = 1 the factor (1 + ja + jb) cancels; written out so that ja + jb = -1 is no 0/0.
        off_squared = np.where(
            j == 1,
            4 * (1 + ja) * (1 + jb) / ((2 + ja + jb) ** 2 * (3 + ja + jb)),
            4 * j * (j + ja) * (j + jb) * (j + ja + jb) / (two_j**2 * (two_j + 1) * (two_j - 1)),
        )
    matrix = np.zeros((b.size, n_nodes, n_nodes))
    i = np.arange(n_nodes)
    matrix[:, i, i] = (1 + diag) / 2
    matrix[:, i[1:], i[:-1]] = matrix[:, i[:-1], i[1:]] = np.sqrt(off_squared) / 2
    nodes, vectors = np.linalg.eigh(matrix)
    return nodes, vectors[:, 0, :] ** 2


def expected_purchases(params: BgNbdParams, summary: pd.DataFrame, horizon: float) -> pd.Series:
    """Expected number of purchases in (T, T + horizon] given the history (eq. 10 of the paper).

    Eq. 10 is P(alive) * E[Y | alive] with E[Y | alive] = E_p[(1 - ((alpha+T)/(alpha+T+p*horizon))^(r+x)) / p],
    p ~ Beta(a, b + x) the posterior dropout probability (lambda already integrated out). The paper writes that
    expectation with a Gauss hypergeometric 2F1, whose evaluation returns NaN or wrong digits once a or b is large,
    which is what the fit returns when dropout is weakly identified. So the expectation is taken with a Gauss rule
    for the Beta posterior: exact up to ~1e-7 for horizon / (alpha + T) up to ~30, for any a, b > 0.
    """
    r, alpha = params.r, params.alpha
    repeats, t_x, T = _columns(summary)
    x, which = repeats.x, repeats.which
    nodes, weights = _beta_gauss_rule(params.a, params.b + repeats.distinct, GAUSS_NODES)
    # Rounding can put a node a hair below 0; the integrand tends to (r + x) * s there anyway.
    p = np.clip(nodes[which], 1e-300, 1.0)
    s = (horizon / (alpha + T))[:, None]
    per_node = -np.expm1(-(r + x)[:, None] * np.log1p(p * s)) / p
    given_alive = (weights[which] * per_node).sum(axis=1)
    return pd.Series(
        _p_alive(params, repeats, t_x, T) * given_alive, index=summary.index, name="expected_purchases"
    )


def p_no_purchase(params: BgNbdParams, summary: pd.DataFrame, horizon: float) -> pd.Series:
    """P(no purchase in (T, T + horizon]) = (1 - P(alive)) + P(alive) * ((alpha+T) / (alpha+T+horizon))^(r+x).

    Given alive, lambda | history ~ Gamma(r + x, alpha + T). A customer alive at T can drop out only right after a
    purchase, so "no purchase in the horizon" never involves a dropout inside it: the Poisson zero term, integrated
    over that posterior, is exact.
    """
    r, alpha = params.r, params.alpha
    repeats, t_x, T = _columns(summary)
    alive = _p_alive(params, repeats, t_x, T)
    silent_if_alive = np.exp(-(r + repeats.x) * np.log1p(horizon / (alpha + T)))
    return pd.Series(1 - alive + alive * silent_if_alive, index=summary.index, name="p_no_purchase")


def bgnbd_features(
    transactions: pd.DataFrame,
    population_ids,
    as_of,
    horizon_days: float,
    params: BgNbdParams | None = None,
    *,
    time_unit_days: float = 7.0,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """BG/NBD P(alive), expected purchases and P(no purchase) over the horizon, for each id of ``population_ids``.

    ``params=None`` fits them on every customer's purchases before ``as_of`` (pass fitted params to score a subset
    of customers exactly as the whole). A customer without a purchase before ``as_of`` is treated as acquired at
    ``as_of`` (x = t_x = T = 0): P(alive) = 1 and the other two are the model's prior for a new customer.
    ``summary``: ``rfm_summary(transactions, as_of, time_unit_days=...)`` when the caller already has it.
    """
    if summary is None:
        summary = rfm_summary(transactions, as_of, time_unit_days=time_unit_days)
    if params is None:
        params = fit_bgnbd(summary)
    ids = pd.Index(population_ids, dtype="str", name="customer_id")
    population = summary.reindex(ids, fill_value=0.0)
    horizon = horizon_days / time_unit_days
    return pd.DataFrame(
        {
            "bgnbd_p_alive": p_alive(params, population),
            "bgnbd_expected_purchases": expected_purchases(params, population, horizon),
            "bgnbd_p_no_purchase": p_no_purchase(params, population, horizon),
        }
    )
