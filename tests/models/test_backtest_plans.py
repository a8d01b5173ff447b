"""Rolling-origin plans: which cutoffs train, which calibrates, for each evaluation cutoff; the calibration choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import backtest
from models.backtest import (
    CutoffPlan,
    backtest_plans,
    choose_calibration,
    choose_estimate,
    customer_folds,
    final_plan,
    plan_for,
)
from models.estimator import Calibrator, ChurnBooster
from tests.models.small_model import SmallLightGBM

# Twelve cutoffs 30 days apart from 2023-01-01 (the default config: n_cutoffs 12, step 30, horizon 90).
# By hand: Jan 1 + 30 = Jan 31; + 30 = Mar 2 (28 days of February); then Apr 1, May 1, May 31, Jun 30, Jul 30,
# Aug 29, Sep 28, Oct 28, Nov 27.
C = [
    pd.Timestamp(d)
    for d in (
        "2023-01-01",
        "2023-01-31",
        "2023-03-02",
        "2023-04-01",
        "2023-05-01",
        "2023-05-31",
        "2023-06-30",
        "2023-07-30",
        "2023-08-29",
        "2023-09-28",
        "2023-10-28",
        "2023-11-27",
    )
]
HORIZON = 90


def test_the_default_grid_by_hand():
    plans = backtest_plans(list(reversed(C)), eval_cutoffs=3, horizon_days=HORIZON)
    # E = Sep 28: label windows [c, c + 90) must end by Sep 28 -> c <= Sep 28 - 90 days = Jun 30 (c6, which
    #   ends exactly at E: allowed, the window is half-open). Calibrate on c6 = Jun 30; train on c + 90 <= Jun 30
    #   -> c <= Apr 1 -> c0..c3 (c3 ends exactly at Jun 30).
    # E = Oct 28: c <= Jul 30 -> calibrate on c7; train on c <= Jul 30 - 90 = May 1 -> c0..c4.
    # E = Nov 27: c <= Aug 29 -> calibrate on c8; train on c <= Aug 29 - 90 = May 31 -> c0..c5.
    assert plans == [
        CutoffPlan(tuple(C[:4]), C[6], C[9]),
        CutoffPlan(tuple(C[:5]), C[7], C[10]),
        CutoffPlan(tuple(C[:6]), C[8], C[11]),
    ]


def test_final_plan_uses_every_outcome_observed_by_the_data_end():
    # Nov 27 + 90 days = 2024-02-25 (Nov 30 +3, Dec 31 +34, Jan 31 +65, Feb 25 +90): c11's window is observed
    # when the data ends (exclusive) on Feb 25. Calibrate on c11, train on c <= Nov 27 - 90 = Aug 29 -> c0..c8.
    assert final_plan(C, pd.Timestamp("2024-02-25"), HORIZON) == CutoffPlan(tuple(C[:9]), C[11])
    # one day less and c11's window is not complete: calibrate on c10, train on c <= Jul 30 -> c0..c7.
    assert final_plan(C, pd.Timestamp("2024-02-24"), HORIZON) == CutoffPlan(tuple(C[:8]), C[10])


def test_plan_for_a_single_evaluation_cutoff():
    plan = plan_for(C, C[9], HORIZON, eval_cutoff=C[9])
    assert plan.eval_cutoff == C[9]
    assert plan.calibration_cutoff == C[6]
    assert plan.train_cutoffs == tuple(C[:4])


def test_too_few_cutoffs_to_train_before_the_calibration_cutoff():
    # four cutoffs, E = c3 = Apr 1: only c0 (Jan 1 + 90 = Apr 1) is usable and calibrates; nothing ends by Jan 1.
    with pytest.raises(ValueError, match="2023-01-01") as caught:
        backtest_plans(C[:4], eval_cutoffs=1, horizon_days=HORIZON)
    assert "n_cutoffs" in str(caught.value)


def test_the_advice_for_too_few_cutoffs_points_the_step_the_right_way():
    # A plan needs the grid to span two horizons (train c + 90 <= C, C + 90 <= E). Four cutoffs 30 days apart
    # span 90 days and fail; four cutoffs 90 days apart (0, 90, 180, 270) work: E = 270 calibrates on 180 and
    # trains on 0 and 90; 15 days apart they fail too. So a LONGER step (or more cutoffs) is the remedy.
    start = pd.Timestamp("2023-01-01")

    def grid(step):
        return [start + pd.Timedelta(days=step * i) for i in range(4)]

    assert backtest_plans(grid(90), 1, HORIZON) == [
        CutoffPlan((grid(90)[0], grid(90)[1]), grid(90)[2], grid(90)[3])
    ]
    with pytest.raises(ValueError) as caught:
        backtest_plans(grid(15), 1, HORIZON)
    with pytest.raises(ValueError) as caught_30:
        backtest_plans(grid(30), 1, HORIZON)
    for error in (caught.value, caught_30.value):
        assert "shorten training.cutoff_step_days" not in str(error)


def test_too_few_cutoffs_to_calibrate_says_what_to_change():
    # three cutoffs, E = c2 = Mar 2: no label window [c, c + 90) ends by Mar 2 at all. The message must name the
    # date and, like the other case, what to change in the configuration.
    with pytest.raises(ValueError, match="2023-03-02") as caught:
        backtest_plans(C[:3], eval_cutoffs=1, horizon_days=HORIZON)
    assert "n_cutoffs" in str(caught.value)


def test_too_many_evaluation_cutoffs_for_the_grid():
    # eight cutoffs, three evaluation cutoffs: the first, E = c5 = May 31, calibrates on c2 = Mar 2 and then
    # nothing ends by Mar 2.
    with pytest.raises(ValueError, match="2023-03-02"):
        backtest_plans(C[:8], eval_cutoffs=3, horizon_days=HORIZON)


# ---------------------------------------------------------------------------------------------- property

DAY0 = pd.Timestamp("2022-01-03")


@settings(max_examples=150, deadline=None)
@given(
    offsets=st.sets(st.integers(min_value=0, max_value=720), min_size=1, max_size=20),
    horizon=st.integers(min_value=1, max_value=200),
    n_eval=st.integers(min_value=1, max_value=4),
)
def test_no_label_window_reaches_past_its_evaluation_or_calibration_cutoff(offsets, horizon, n_eval):
    days = sorted(offsets)
    cutoffs = [DAY0 + pd.Timedelta(days=d) for d in days]
    evals = days[-n_eval:]

    # Independent statement of the rule, in whole days: calibrate on the latest cutoff whose window ends by E,
    # train on every cutoff whose window ends by the calibration cutoff; impossible when either set is empty.
    def expected(e):
        usable = [d for d in days if d + horizon <= e]
        if not usable:
            return None
        train = [d for d in days if d + horizon <= usable[-1]]
        return (train, usable[-1]) if train else None

    wanted = [expected(e) for e in evals]
    if any(w is None for w in wanted):
        with pytest.raises(ValueError):
            backtest_plans(cutoffs, n_eval, horizon)
        return

    plans = backtest_plans(cutoffs, n_eval, horizon)
    assert [p.eval_cutoff for p in plans] == [DAY0 + pd.Timedelta(days=e) for e in evals]
    for plan, (train, calibration) in zip(plans, wanted, strict=True):
        window = pd.Timedelta(days=horizon)
        # the leakage guard itself
        assert plan.calibration_cutoff + window <= plan.eval_cutoff
        assert all(c + window <= plan.calibration_cutoff for c in plan.train_cutoffs)
        assert all(c + window <= plan.eval_cutoff for c in plan.train_cutoffs)
        # and nothing usable is thrown away
        assert plan.calibration_cutoff == DAY0 + pd.Timedelta(days=calibration)
        assert plan.train_cutoffs == tuple(DAY0 + pd.Timedelta(days=d) for d in train)


# ---------------------------------------------------------------------------------------------- calibration choice


def _metrics() -> pd.DataFrame:
    e1, e2 = pd.Timestamp("2023-10-28"), pd.Timestamp("2023-11-27")
    return pd.DataFrame(
        {
            "eval_cutoff": [e1, e1, e1, e2, e2, e2],
            "candidate": ["model_uncalibrated", "model_isotonic", "model_sigmoid"] * 2,
            # mean log loss: isotonic (0.25 + 0.5) / 2 = 0.375; sigmoid (0.375 + 0.3125) / 2 = 0.34375;
            # uncalibrated 0.1, the lowest, but not a calibration method.
            "log_loss": [0.1, 0.25, 0.375, 0.1, 0.5, 0.3125],
        }
    )


def test_auto_picks_the_calibration_with_the_lower_mean_log_loss():
    assert choose_calibration(_metrics(), "auto") == "sigmoid"
    flipped = _metrics().assign(
        log_loss=[0.1, 0.25, 0.5, 0.1, 0.25, 0.5]  # isotonic 0.25 < sigmoid 0.5
    )
    assert choose_calibration(flipped, "auto") == "isotonic"


def test_auto_weighs_the_stacked_calibration_when_the_backtest_holds_it():
    e1, e2 = pd.Timestamp("2023-10-28"), pd.Timestamp("2023-11-27")
    stacked = pd.DataFrame(
        {"eval_cutoff": [e1, e2], "candidate": "model_stacked", "log_loss": [0.3, 0.375]}  # mean 0.3375
    )
    assert choose_calibration(pd.concat([_metrics(), stacked]), "auto") == "stacked"  # < sigmoid's 0.34375
    worse = stacked.assign(log_loss=[0.4, 0.3])  # mean 0.35
    assert choose_calibration(pd.concat([_metrics(), worse]), "auto") == "sigmoid"


def test_a_configured_calibration_is_kept():
    assert choose_calibration(_metrics(), "isotonic") == "isotonic"
    assert choose_calibration(_metrics(), "sigmoid") == "sigmoid"


# ---------------------------------------------------------------------------------------------- run_backtest wiring


def _snapshots(cutoffs: list[pd.Timestamp], n_customers: int = 150) -> pd.DataFrame:
    """Stacked snapshots with one numeric feature, one text category, the two baselines' inputs and a label."""
    rng = np.random.default_rng(4)
    frames = []
    for cutoff in cutoffs:
        quiet = rng.integers(0, 120, n_customers).astype(float)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": pd.Series([f"k{i:03d}" for i in range(n_customers)], dtype="str"),
                    "as_of": cutoff,
                    "days_since_last_purchase": quiet,
                    "plan": pd.Series(rng.choice(np.array(["basic", "plus"]), n_customers), dtype="str"),
                    "bgnbd_p_no_purchase": rng.uniform(0.05, 0.95, n_customers),
                    "churned": rng.random(n_customers) < quiet / 120,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_run_backtest_fits_with_the_fixed_categories_it_is_given(monkeypatch):
    # The shipped model (fit_final_model -> fit_plan) codes categoricals with the configured fixed categories;
    # the backtest must evaluate the same kind of model, so run_backtest has to hand them on to fit_plan.
    cutoffs = [pd.Timestamp("2023-01-01") + pd.Timedelta(days=30 * i) for i in range(5)]
    # horizon 30, E = c4: calibrate on c3, train on c0..c2.
    plans = backtest_plans(cutoffs, eval_cutoffs=1, horizon_days=30)
    fixed = {"plan": ("basic", "plus", "pro")}  # "pro" never occurs in the snapshots
    schemas = []
    real_fit_plan = backtest.fit_plan

    def recording_fit_plan(*args, **kwargs):
        fitted = real_fit_plan(*args, **kwargs)
        schemas.append(fitted.model.schema_)
        return fitted

    monkeypatch.setattr(backtest, "fit_plan", recording_fit_plan)

    result = backtest.run_backtest(
        _snapshots(cutoffs),
        plans,
        ["days_since_last_purchase", "plan"],
        SmallLightGBM(),
        lambda rows: np.full(len(rows), 100.0),
        seed=1,
        early_stopping_share=0.2,
        metric_options={"k": 0.1},
        fixed_categories=fixed,
    )
    assert set(result.metrics["candidate"]) >= {"model_isotonic", "model_sigmoid", "baseline_recency"}
    assert len(schemas) == 1
    assert schemas[0].categories == {"plan": ("basic", "plus", "pro")}


# ---------------------------------------------------------------------------------------------- the estimate


def test_the_full_backtest_when_every_evaluation_cutoff_has_a_plan():
    estimate = choose_estimate(C, pd.Timestamp("2024-02-25"), HORIZON, eval_cutoffs=3)
    assert estimate.kind == "backtest"
    assert estimate.evaluation_cutoffs == tuple(C[9:])
    assert list(estimate.plans) == backtest_plans(C, 3, HORIZON)  # as before: the sample world's backtest
    assert estimate.final == CutoffPlan(tuple(C[:9]), C[11])


def test_fewer_evaluation_cutoffs_when_only_the_latest_have_a_plan():
    # Eight cutoffs, Jan 1 .. Jul 30. E = c6 = Jun 30: windows ending by Jun 30 start by Apr 1 (c3), which
    # calibrates; c0 = Jan 1 ends exactly on Apr 1 and trains. E = c5 = May 31: calibrate on c2 = Mar 2, and
    # nothing ends by Mar 2. So only c6 and c7 have a plan: two evaluation cutoffs instead of three.
    estimate = choose_estimate(C[:8], C[7] + pd.Timedelta(days=HORIZON), HORIZON, eval_cutoffs=3)
    assert estimate.kind == "backtest"
    assert estimate.evaluation_cutoffs == (C[6], C[7])
    assert [p.calibration_cutoff for p in estimate.plans] == [C[3], C[4]]
    assert [p.train_cutoffs for p in estimate.plans] == [(C[0],), (C[0], C[1])]


def test_cross_fitted_when_no_cutoff_has_a_plan():
    # Five cutoffs, Jan 1 .. May 1: E = May 1 calibrates on Jan 31 (c1) and nothing ends by Jan 31.
    estimate = choose_estimate(C[:5], C[4] + pd.Timedelta(days=HORIZON), HORIZON, eval_cutoffs=3)
    assert estimate.kind == "cross_fitted"
    assert estimate.evaluation_cutoffs == tuple(C[2:5])
    assert estimate.plans == () and estimate.final is None
    one = choose_estimate(C[:1], C[0] + pd.Timedelta(days=HORIZON), HORIZON, eval_cutoffs=3)
    assert (one.kind, one.evaluation_cutoffs) == ("cross_fitted", (C[0],))


def test_customer_folds_keep_every_row_of_a_customer_together():
    rng = np.random.default_rng(2)
    ids = pd.Series([f"c{i:04d}" for i in rng.integers(0, 1000, 5000)])
    folds = customer_folds(ids, 5, seed=42)
    assert set(np.unique(folds)) == {0, 1, 2, 3, 4}
    assert (pd.Series(folds).groupby(ids.to_numpy()).nunique() == 1).all()
    per_fold = pd.Series(folds).groupby(folds).apply(lambda f: ids[f.index].nunique())
    assert per_fold.between(150, 250).all()  # 1000 customers, about 200 each
    # the same customer, the same fold, whatever the order; another seed, other folds
    shuffled = ids.sample(frac=1.0, random_state=0)
    assert (customer_folds(shuffled, 5, seed=42) == folds[shuffled.index]).all()
    assert (customer_folds(ids, 5, seed=43) != folds).any()


def test_with_the_baseline_as_an_input_the_backtest_also_scores_the_stacked_calibration():
    cutoffs = [pd.Timestamp("2023-01-01") + pd.Timedelta(days=30 * i) for i in range(5)]
    plans = backtest_plans(cutoffs, eval_cutoffs=1, horizon_days=30)  # E = c4, calibrated on c3
    snapshots = _snapshots(cutoffs)
    columns = ["days_since_last_purchase", "plan", "bgnbd_p_no_purchase"]
    options = {"seed": 1, "early_stopping_share": 0.2}
    result = backtest.run_backtest(
        snapshots, plans, columns, SmallLightGBM(), lambda rows: np.full(len(rows), 100.0),
        metric_options={"k": 0.1}, **options,
    )
    assert "model_stacked" in set(result.metrics["candidate"])
    # the scores are the plan's stacked classifier's, which reads the baseline from the evaluation rows
    fitted = backtest.fit_plan(snapshots, plans[0], columns, SmallLightGBM(), **options)
    evaluation = snapshots[snapshots["as_of"] == cutoffs[4]]
    np.testing.assert_allclose(
        result.predictions["model_stacked"], fitted.calibrated["stacked"].predict_proba(evaluation[columns])[:, 1],
        rtol=0, atol=1e-12,
    )
    calibration = snapshots[snapshots["as_of"] == cutoffs[3]]
    by_hand = Calibrator.fit(
        "stacked", fitted.model.predict_proba(calibration[columns])[:, 1], calibration["churned"].to_numpy(float),
        calibration["bgnbd_p_no_purchase"].to_numpy(),
    )
    np.testing.assert_allclose(fitted.calibrated["stacked"].calibrator_.fitted.coef_, by_hand.fitted.coef_)

    cross = backtest.run_cross_fit(
        snapshots, tuple(cutoffs[3:]), columns, SmallLightGBM(), lambda rows: np.full(len(rows), 100.0),
        n_folds=3, metric_options={"k": 0.1}, **options,
    )
    assert set(cross.calibrators) == {"isotonic", "sigmoid", "stacked"}
    latest = cross.backtest.predictions[cross.backtest.predictions["eval_cutoff"] == cutoffs[4]]
    # the shipped calibrator: fitted on every customer's out-of-fold score at the latest cutoff, beside BG/NBD's
    refitted = Calibrator.fit(
        "stacked", latest["model_uncalibrated"].to_numpy(), latest["churned"].to_numpy(float),
        latest["baseline_bgnbd"].to_numpy(),
    )
    np.testing.assert_allclose(cross.calibrators["stacked"].fitted.coef_, refitted.fitted.coef_, rtol=1e-6)


def test_cross_fitting_scores_each_customer_with_a_booster_that_never_saw_it(monkeypatch):
    cutoffs = [pd.Timestamp("2023-01-01") + pd.Timedelta(days=30 * i) for i in range(3)]
    snapshots = _snapshots(cutoffs)
    trained_on = []
    real_fit = ChurnBooster.fit

    def recording_fit(self, x, y, eval_set=None):
        rows = x.index.append(eval_set[0].index)
        trained_on.append(set(snapshots.loc[rows, "customer_id"]))
        return real_fit(self, x, y, eval_set=eval_set)

    monkeypatch.setattr(ChurnBooster, "fit", recording_fit)
    result = backtest.run_cross_fit(
        snapshots, tuple(cutoffs[1:]), ["days_since_last_purchase", "plan"], SmallLightGBM(),
        lambda rows: np.full(len(rows), 100.0),
        n_folds=3, seed=1, early_stopping_share=0.2, metric_options={"k": 0.1},
    )
    folds = pd.Series(customer_folds(snapshots["customer_id"], 3, seed=1), index=snapshots["customer_id"])
    members = [set(folds.index[folds == k]) for k in range(3)]
    assert len(trained_on) == 3
    for k, seen in enumerate(trained_on):
        assert not seen & members[k]  # the booster scoring fold k never trained on fold k
        assert seen == set().union(*members) - members[k]  # and trained on every other customer
    predictions = result.backtest.predictions
    assert sorted(predictions["eval_cutoff"].unique()) == cutoffs[1:]
    for _, rows in predictions.groupby("eval_cutoff"):
        assert sorted(rows["customer_id"]) == sorted(set(snapshots["customer_id"]))
    assert set(result.calibrators) == {"isotonic", "sigmoid"}
    assert set(result.backtest.metrics["candidate"]) == {
        "model_uncalibrated", "model_isotonic", "model_sigmoid", "baseline_recency", "baseline_bgnbd"
    }
