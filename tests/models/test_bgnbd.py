import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import hyp2f1

from models.bgnbd import (
    FALLBACK_PARAMS,
    BgNbdParams,
    bgnbd_features,
    expected_purchases,
    fit_bgnbd,
    fit_sample,
    log_likelihood,
    p_alive,
    p_no_purchase,
    rfm_summary,
)

# The paper's CDNOW estimates (Fader, Hardie & Lee 2005, section 5), time in weeks.
CDNOW = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
TRUE = BgNbdParams(r=0.8, alpha=4.0, a=1.2, b=4.0)
HORIZON = 13.0


def summary_of(x, t_x, T):
    return pd.DataFrame(
        {"frequency": np.asarray(x, float), "recency": np.asarray(t_x, float), "T": np.asarray(T, float)},
        index=pd.Index([f"c{i}" for i in range(len(x))], dtype="str", name="customer_id"),
    )


def simulate(params, n, rng, horizon):
    """The BG/NBD process itself: summaries over (0, T] and the purchase count in (T, T + horizon]."""
    lam = rng.gamma(params.r, 1 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    T = rng.uniform(30, 90, n)
    # Dropout happens right after repeat purchase number N ~ Geometric(p); K = arrivals of the Poisson process
    # in (0, T] had the customer never left. Observed x = min(N, K); given K, arrival times are uniform order
    # statistics on (0, T], so t_x = T * Beta(x, K - x + 1) (the x-th of K).
    N = rng.geometric(p)
    K = rng.poisson(lam * T)
    x = np.minimum(N, K)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), K - x + 1), 0.0)
    alive = N > K
    # Memoryless arrivals after T; an alive customer can still make N - K purchases.
    future = np.where(alive, np.minimum(N - K, rng.poisson(lam * horizon)), 0)
    return summary_of(x, t_x, T), future


@pytest.fixture(scope="module")
def simulated():
    return simulate(TRUE, 6000, np.random.default_rng(0), HORIZON)


def test_rfm_summary_counts_purchase_days_before_as_of():
    transactions = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "a", "a", "a", "a", "b", "c", "d"], dtype="str"),
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-01 15:00",  # same day: one purchase day
                    "2024-01-15 09:00",
                    "2024-01-20 12:00",  # refund: not a purchase
                    "2024-02-01 00:00",  # at as_of: future
                    "2024-02-03 00:00",  # after as_of
                    "2024-01-25 18:00",
                    "2024-01-10 08:00",  # refund only
                    "2024-02-01 00:00",  # only at as_of
                ]
            ),
            "amount": [20.0, 5.0, 30.0, -10.0, 40.0, 50.0, 12.0, -3.0, 9.0],
        }
    )
    summary = rfm_summary(transactions, "2024-02-01")
    # a: purchase days Jan 1 and Jan 15 -> x = 1, t_x = 14 days = 2 weeks, T = 31 days; b: one day, T = 7 days.
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a"].tolist() == pytest.approx([1.0, 2.0, 31 / 7])
    assert summary.loc["b"].tolist() == pytest.approx([0.0, 0.0, 1.0])
    in_days = rfm_summary(transactions, "2024-02-01", time_unit_days=1.0)
    assert in_days.loc["a"].tolist() == pytest.approx([1.0, 14.0, 31.0])


def test_log_likelihood_of_one_customer_by_hand():
    # Eq. 6 directly, in products:
    # L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
    #   + B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    x, t_x, T = 2, 30.43, 38.86

    def B(u, v):
        return math.gamma(u) * math.gamma(v) / math.gamma(u + v)

    poisson_part = math.gamma(r + x) * alpha**r / math.gamma(r)
    by_hand = B(a, b + x) / B(a, b) * poisson_part / (alpha + T) ** (r + x) + B(a + 1, b + x - 1) / B(
        a, b
    ) * poisson_part / (alpha + t_x) ** (r + x)
    got = log_likelihood(CDNOW, summary_of([x, 0], [t_x, 0], [T, T]))
    assert got[0] == pytest.approx(math.log(by_hand), rel=1e-12)
    # x = 0: only the first term survives, and B(a, b)/B(a, b) * G(r)/G(r) leave (alpha / (alpha + T))^r.
    assert got[1] == pytest.approx(r * math.log(alpha / (alpha + T)), rel=1e-12)


def test_log_likelihood_stays_finite_for_heavy_buyers():
    ll = log_likelihood(CDNOW, summary_of([2000], [519.9], [520.0]))
    assert np.isfinite(ll).all()


def test_fit_recovers_simulated_parameters(simulated):
    summary, _ = simulated
    fitted = fit_bgnbd(summary)
    # Tolerances = 4 standard deviations of each estimate, measured over 100 replications of this very design
    # (6,000 customers, T ~ U(30, 90) weeks): relative SD 2.2% (r), 2.9% (alpha), 6.4% (a), 8.2% (b).
    # a and b are weaker because dropout is seen only through the silence that follows the last purchase.
    assert fitted.r == pytest.approx(TRUE.r, rel=0.09)
    assert fitted.alpha == pytest.approx(TRUE.alpha, rel=0.12)
    assert fitted.a == pytest.approx(TRUE.a, rel=0.26)
    assert fitted.b == pytest.approx(TRUE.b, rel=0.33)
    # The MLE must beat the truth (or the optimiser stopped early), but by a likelihood ratio that is
    # plausible for 4 parameters: 2 * (LL_hat - LL_true) ~ chi2(4), whose 99.9% quantile is 18.47.
    ratio = 2 * (log_likelihood(fitted, summary).sum() - log_likelihood(TRUE, summary).sum())
    assert 0 <= ratio < stats.chi2(4).ppf(0.999)
    assert fit_bgnbd(summary) == fitted  # deterministic


def test_p_alive_is_one_without_repeat_purchases_and_matches_the_paper_formula():
    summary = summary_of([0, 0, 2], [0.0, 0.0, 30.43], [38.86, 2.0, 38.86])
    got = p_alive(CDNOW, summary)
    # x = 0: nobody drops out before a repeat purchase. x > 0: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)).
    odds = CDNOW.a / (CDNOW.b + 1) * ((CDNOW.alpha + 38.86) / (CDNOW.alpha + 30.43)) ** (CDNOW.r + 2)
    assert got.tolist() == pytest.approx([1.0, 1.0, 1 / (1 + odds)])


def test_expected_purchases_matches_the_paper():
    # Section 5 of the paper: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    got = expected_purchases(CDNOW, summary_of([2], [30.43], [38.86]), 39.0)
    assert got.iloc[0] == pytest.approx(1.226, abs=5e-4)


# The last parameters are those of a fit where dropout is barely identified: p's posterior is a spike at ~0.085.
@pytest.mark.parametrize("params", [CDNOW, TRUE, BgNbdParams(r=1.9, alpha=16.0, a=8.4e5, b=9.8e6)])
def test_expected_purchases_agrees_with_direct_integration(params):
    # Independent route: given alive, p ~ Beta(a, b+x), lambda ~ Gamma(r+x, alpha+T) and
    # E[Y(t) | p, lambda] = (1 - exp(-lambda p t)) / p, so E[Y | alive] = E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p].
    summary = summary_of([0, 0, 3, 150], [0.0, 0.0, 20.0, 51.0], [0.0, 40.0, 40.0, 52.0])
    t = 26.0
    alive = p_alive(params, summary).to_numpy()
    expected = []
    for (x, _, T), pa in zip(summary.to_numpy(), alive):
        posterior = stats.beta(params.a, params.b + x)
        # Integrate over the posterior's bulk (+-40 sd, or all of [0, 1]) so quad cannot miss a narrow spike.
        lo = max(0.0, posterior.mean() - 40 * posterior.std())
        hi = min(1.0, posterior.mean() + 40 * posterior.std())

        def integrand(q, x=x, T=T, density=posterior.pdf):
            return (1 - (1 + q * t / (params.alpha + T)) ** -(params.r + x)) / q * density(q)

        expected.append(pa * integrate.quad(integrand, lo, hi, limit=200, epsrel=1e-10)[0])
    assert expected_purchases(params, summary, t).to_numpy() == pytest.approx(expected, rel=1e-7)


def test_p_no_purchase_is_a_probability_decreasing_in_the_horizon(simulated):
    summary, _ = simulated
    horizons = [0.0, 1.0, 4.0, 13.0, 52.0, 1e6]
    curves = np.column_stack([p_no_purchase(TRUE, summary, h).to_numpy() for h in horizons])
    assert ((curves >= 0) & (curves <= 1)).all()
    assert (np.diff(curves, axis=1) <= 1e-15).all()
    assert (np.diff(curves[:, 1:5], axis=1) < 0).all()  # strictly while a purchase is possible
    # Ends: nobody buys in no time; over an endless horizon only the already-dead stay silent.
    assert curves[:, 0] == pytest.approx(1.0)
    assert curves[:, -1] == pytest.approx(1 - p_alive(TRUE, summary).to_numpy(), abs=1e-3)


def test_predictions_match_the_simulated_future(simulated):
    summary, future = simulated
    # Given each history, "no purchase in the horizon" is Bernoulli(p_i) under the true model, so the
    # simulated share of silent customers has standard error sqrt(sum p_i (1 - p_i)) / n; allow 4 of them.
    p = p_no_purchase(TRUE, summary, HORIZON).to_numpy()
    z = ((future == 0).mean() - p.mean()) / (np.sqrt((p * (1 - p)).sum()) / p.size)
    assert abs(z) < 4
    e = expected_purchases(TRUE, summary, HORIZON).to_numpy()
    z = (future.mean() - e.mean()) / ((future - e).std() / np.sqrt(e.size))
    assert abs(z) < 4
    # With fitted instead of true parameters the share of silent customers is still within a point.
    fitted = p_no_purchase(fit_bgnbd(summary), summary, HORIZON).to_numpy()
    assert fitted.mean() == pytest.approx((future == 0).mean(), abs=0.01)


def test_bgnbd_features_by_hand_with_given_params():
    transactions = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b"], dtype="str"),
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-25"]),
            "amount": [20.0, 30.0, 12.0],
        }
    )
    features = bgnbd_features(transactions, ["b", "a", "new"], "2024-02-01", 28, CDNOW)
    assert list(features.index) == ["b", "a", "new"]
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    h = 4.0  # 28 days in weeks
    # a: x = 1, t_x = 2, T = 31/7.
    T = 31 / 7
    alive_a = 1 / (1 + a / b * ((alpha + T) / (alpha + 2)) ** (r + 1))
    assert features.loc["a", "bgnbd_p_alive"] == pytest.approx(alive_a)
    assert features.loc["a", "bgnbd_p_no_purchase"] == pytest.approx(
        1 - alive_a + alive_a * ((alpha + T) / (alpha + T + h)) ** (r + 1)
    )
    # new (no purchase before as_of): acquired at as_of, x = t_x = T = 0. P(alive) = 1, P(0 in h) = (alpha/(alpha+h))^r,
    # and the expectation is the paper's unconditional eq. 9, E[X(h)], in its original hypergeometric form.
    prior_mean = (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + h)) ** r * hyp2f1(r, b, a + b - 1, h / (alpha + h)))
    )
    assert features.loc["new"].tolist() == pytest.approx([1.0, prior_mean, (alpha / (alpha + h)) ** r])
    assert features.loc["b", "bgnbd_p_alive"] == 1.0


def test_bgnbd_features_fit_on_everyone_so_a_subset_scores_the_same():
    # 400 purchases of 40 customers on random days of the year before as_of.
    rng = np.random.default_rng(3)
    as_of = pd.Timestamp("2024-06-01")
    transactions = pd.DataFrame(
        {
            "customer_id": pd.array([f"c{i}" for i in rng.integers(0, 40, 400)], dtype="str"),
            "timestamp": as_of - pd.to_timedelta(rng.integers(1, 366, 400), unit="D"),
            "amount": rng.uniform(5, 50, 400),
        }
    )
    ids = sorted(set(transactions["customer_id"]))
    everyone = bgnbd_features(transactions, ids, as_of, 28)
    some = bgnbd_features(transactions, ids[:5], as_of, 28)
    pd.testing.assert_frame_equal(some, everyone.iloc[:5])
    params = fit_bgnbd(rfm_summary(transactions, as_of))
    pd.testing.assert_frame_equal(everyone, bgnbd_features(transactions, ids, as_of, 28, params))
    # ... and the fit is not one of a single customer: the five scored alone would fit different parameters.
    assert fit_bgnbd(rfm_summary(transactions[transactions["customer_id"].isin(ids[:5])], as_of)) != params


def test_penalizer_shrinks_the_parameters(simulated):
    # The penalised optimum cannot carry a larger penalty than the unpenalised one (which minimises the NLL alone).
    summary, _ = simulated
    plain, shrunk = fit_bgnbd(summary), fit_bgnbd(summary, penalizer=0.01)
    assert sum(v**2 for v in vars(shrunk).values()) < sum(v**2 for v in vars(plain).values())


def test_the_fit_uses_a_stable_hash_sample_of_customers_beyond_the_cap():
    rng = np.random.default_rng(3)
    n = 400
    summary = pd.DataFrame(
        {"frequency": rng.poisson(3, n).astype(float), "recency": rng.uniform(0, 20, n), "T": np.full(n, 30.0)},
        index=pd.Index([f"c{i:04d}" for i in range(n)], dtype="str", name="customer_id"),
    )
    summary["recency"] = np.where(summary["frequency"] > 0, summary["recency"], 0.0)
    sample = fit_sample(summary, 150)
    assert len(sample) == 150 and sample.index.is_unique and sample.index.isin(summary.index).all()
    # the same customers whatever the row order, and the fit is the fit of exactly those customers
    shuffled = summary.sample(frac=1.0, random_state=1)
    assert set(fit_sample(shuffled, 150).index) == set(sample.index)
    assert fit_bgnbd(shuffled.sort_index(), max_customers=150) == fit_bgnbd(sample, max_customers=10**9)
    assert fit_bgnbd(summary, max_customers=150) != fit_bgnbd(summary, max_customers=10**9)


# ---------------------------------------------------------------------------------------------- degenerate data
# BG/NBD is a baseline and a feature: it must never stop training or scoring.


def _transactions(ids, days, amounts, start="2024-01-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array(ids, dtype="str"),
            "timestamp": pd.Timestamp(start) + pd.to_timedelta(days, unit="D"),
            "amount": np.asarray(amounts, float),
        }
    )


def test_no_purchase_before_the_as_of_date_gives_the_fallback_parameters():
    transactions = _transactions(["a", "b"], [10, 20], [30.0, 15.0])
    # as_of before the data: nothing to fit, and no active customer either
    assert fit_bgnbd(rfm_summary(transactions, "2023-06-01")) == FALLBACK_PARAMS
    features = bgnbd_features(transactions, ["a"], "2023-06-01", 28)
    # "a" has no purchase before as_of: the prior of a new customer under the fallback (r = alpha = 1, in
    # weeks): P(alive) = 1 and P(no purchase in 4 weeks) = (alpha / (alpha + 4))^r = 1/5.
    assert features.loc["a", "bgnbd_p_alive"] == 1.0
    assert features.loc["a", "bgnbd_p_no_purchase"] == pytest.approx(0.2)
    assert np.isfinite(features.to_numpy()).all()


def test_only_returns_give_the_fallback_parameters():
    transactions = _transactions(["a", "a", "b"], [1, 5, 9], [-10.0, -5.0, -2.5])
    assert rfm_summary(transactions, "2024-03-01").empty
    assert fit_bgnbd(rfm_summary(transactions, "2024-03-01")) == FALLBACK_PARAMS


def test_a_world_of_one_customer_fits_finite_parameters_and_probabilities():
    transactions = _transactions(["a"] * 4, [0, 14, 30, 41], [10.0, 12.0, 9.0, 11.0])
    summary = rfm_summary(transactions, "2024-03-01")
    params = fit_bgnbd(summary)
    assert all(np.isfinite(v) and v > 0 for v in vars(params).values())
    features = bgnbd_features(transactions, ["a"], "2024-03-01", 28, params)
    assert features.loc["a"].between(0, np.inf).all() and features.loc["a", "bgnbd_p_no_purchase"] <= 1


def test_a_fit_that_ends_non_finite_gives_the_fallback_parameters(monkeypatch):
    import models.bgnbd

    class NonFinite:
        fun, x, message = np.nan, np.zeros(4), "made up"

    monkeypatch.setattr(models.bgnbd, "minimize", lambda *args, **kwargs: NonFinite())
    assert fit_bgnbd(summary_of([1, 2], [3.0, 4.0], [10.0, 10.0])) == FALLBACK_PARAMS
