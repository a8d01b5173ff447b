"""Rolling-origin backtest: for each evaluation cutoff, train on earlier label windows, calibrate on a later one.

For an evaluation cutoff E the calibration cutoff C is the latest cutoff whose label window [C, C + horizon)
ends on or before E, and the booster trains on cutoffs whose label windows end on or before C. So the booster
never sees an outcome the calibrator is fitted on, and neither sees an outcome at or after E.

When the history is too short for any such split (:func:`choose_estimate`), the estimate is cross-fitted instead:
customers are split into folds, all rows of a customer in one fold, and each fold is scored by a booster trained
on the other folds' rows at every cutoff; the calibrators are fitted on those out-of-fold scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from models.estimator import (
    BASELINE_COLUMN,
    CALIBRATION_METHODS,
    Calibrator,
    ChurnBooster,
    ChurnClassifier,
    calibration_methods,
    holdout_customers,
    make_booster,
)
from models.metrics import evaluate

LABEL = "churned"


@dataclass(frozen=True)
class CutoffPlan:
    """Which snapshot cutoffs train the booster, which one calibrates, and (in a backtest) which one evaluates."""

    train_cutoffs: tuple[pd.Timestamp, ...]
    calibration_cutoff: pd.Timestamp
    eval_cutoff: pd.Timestamp | None = None


def _ends_by(cutoff: pd.Timestamp, horizon_days: int, limit: pd.Timestamp) -> bool:
    return cutoff + pd.Timedelta(days=horizon_days) <= limit


def plan_for(
    cutoffs: list[pd.Timestamp], limit: pd.Timestamp, horizon_days: int, eval_cutoff=None
) -> CutoffPlan:
    """The training plan for outcomes known before ``limit`` (the evaluation cutoff, or the data's end)."""
    usable = sorted(c for c in cutoffs if _ends_by(c, horizon_days, limit))
    if not usable:
        raise ValueError(
            f"no snapshot cutoff has its label window end by {limit.date()}: "
            "add cutoffs (training.n_cutoffs) or lengthen training.cutoff_step_days"
        )
    calibration = usable[-1]
    train = tuple(c for c in usable if _ends_by(c, horizon_days, calibration))
    if not train:
        raise ValueError(
            f"no snapshot cutoff has its label window end by the calibration cutoff {calibration.date()}: "
            "add cutoffs (training.n_cutoffs) or lengthen training.cutoff_step_days"
        )
    return CutoffPlan(train, calibration, eval_cutoff)


def backtest_plans(cutoffs: list[pd.Timestamp], eval_cutoffs: int, horizon_days: int) -> list[CutoffPlan]:
    """One plan per evaluation cutoff, the latest ``eval_cutoffs`` cutoffs, oldest first."""
    ordered = sorted(cutoffs)
    return [plan_for(ordered, e, horizon_days, eval_cutoff=e) for e in ordered[-eval_cutoffs:]]


def final_plan(cutoffs: list[pd.Timestamp], data_end: pd.Timestamp, horizon_days: int) -> CutoffPlan:
    """The plan for the model that ships: every outcome observed by ``data_end``."""
    return plan_for(sorted(cutoffs), data_end, horizon_days)


BACKTEST = "backtest"
CROSS_FITTED = "cross_fitted"


@dataclass(frozen=True)
class EstimatePlan:
    """How the model's quality is estimated and how the shipped model is trained and calibrated.

    ``backtest``: one rolling-origin plan per evaluation cutoff; the shipped model follows ``final``.
    ``cross_fitted``: no time-ordered split fits the cutoffs; the shipped booster trains on every cutoff and
    is calibrated on out-of-fold scores at the latest evaluation cutoff.
    """

    kind: str
    evaluation_cutoffs: tuple[pd.Timestamp, ...]
    plans: tuple[CutoffPlan, ...] = ()
    final: CutoffPlan | None = None


def _has_plan(cutoffs: list[pd.Timestamp], eval_cutoff: pd.Timestamp, horizon_days: int) -> bool:
    try:
        plan_for(cutoffs, eval_cutoff, horizon_days, eval_cutoff=eval_cutoff)
    except ValueError:
        return False
    return True


def choose_estimate(
    cutoffs: list[pd.Timestamp], data_end: pd.Timestamp, horizon_days: int, eval_cutoffs: int
) -> EstimatePlan:
    """The rolling-origin backtest at the latest ``eval_cutoffs`` cutoffs that have a plan (fewer when fewer
    have one), else the cross-fitted estimate at the latest ``eval_cutoffs`` cutoffs.

    A later cutoff has every plan an earlier one has and more, so the cutoffs with a plan are the latest ones.
    """
    ordered = sorted(cutoffs)
    if not ordered:
        raise ValueError("no snapshot cutoffs: nothing to train on")
    with_plan = [e for e in ordered if _has_plan(ordered, e, horizon_days)][-eval_cutoffs:]
    if with_plan:
        plans = tuple(plan_for(ordered, e, horizon_days, eval_cutoff=e) for e in with_plan)
        return EstimatePlan(BACKTEST, tuple(with_plan), plans, final_plan(ordered, data_end, horizon_days))
    return EstimatePlan(CROSS_FITTED, tuple(ordered[-eval_cutoffs:]))


def customer_folds(customer_ids, n_folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. n_folds - 1) of each row: a seeded stable hash of its customer id, so every row of a
    customer is in the same fold, whatever the row order."""
    ids = pd.Series(np.asarray(customer_ids, dtype=object)).astype("str") + f"|cross-fit|{seed}"
    hashes = pd.util.hash_pandas_object(ids, index=False).to_numpy()
    return (hashes % np.uint64(n_folds)).astype(np.int64)


@dataclass
class FittedPlan:
    """A booster trained under a plan, and the booster calibrated on its calibration cutoff by each method."""

    model: ChurnBooster
    calibrated: dict[str, ChurnClassifier]
    recency_baseline: IsotonicRegression


def fit_plan(
    snapshots: pd.DataFrame,
    plan: CutoffPlan,
    feature_columns: list[str],
    lightgbm_settings,
    *,
    seed: int,
    early_stopping_share: float,
    fixed_categories: dict[str, tuple[str, ...]] | None = None,
) -> FittedPlan:
    """Train the booster on the plan's training cutoffs (early stopping on held-out customers), fit calibrators."""
    train = snapshots[snapshots["as_of"].isin(plan.train_cutoffs)]
    booster, recency = fit_uncalibrated(
        train, feature_columns, lightgbm_settings,
        seed=seed, early_stopping_share=early_stopping_share, fixed_categories=fixed_categories,
    )
    calibration = snapshots[snapshots["as_of"] == plan.calibration_cutoff]
    calib_x, calib_y = calibration[feature_columns], calibration[LABEL].to_numpy(dtype=float)
    calibrated = {
        m: ChurnClassifier(FrozenEstimator(booster), method=m).fit(calib_x, calib_y)
        for m in calibration_methods(feature_columns)
    }
    return FittedPlan(booster, calibrated, recency)


def fit_uncalibrated(
    train: pd.DataFrame,
    feature_columns: list[str],
    lightgbm_settings,
    *,
    seed: int,
    early_stopping_share: float,
    fixed_categories: dict[str, tuple[str, ...]] | None = None,
) -> tuple[ChurnBooster, IsotonicRegression]:
    """A booster on ``train``'s rows (early stopping on held-out customers) and the recency rule fitted there."""
    held_out = holdout_customers(train["customer_id"], early_stopping_share, seed)
    x, y = train[feature_columns], train[LABEL].to_numpy(dtype=float)
    booster = make_booster(lightgbm_settings, seed, fixed_categories).fit(
        x[~held_out], y[~held_out], eval_set=(x[held_out], y[held_out])
    )
    recency = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(
        train["days_since_last_purchase"].to_numpy(), y
    )
    return booster, recency


def score_candidates(
    fitted: FittedPlan, rows: pd.DataFrame, feature_columns: list[str]
) -> dict[str, np.ndarray]:
    """Churn probabilities of the model (raw and each calibration) and of the baselines on ``rows``."""
    raw = fitted.model.predict_proba(rows[feature_columns])[:, 1]
    scores = {"model_uncalibrated": np.clip(raw, 1e-4, 1 - 1e-4)}
    for method, model in fitted.calibrated.items():
        scores[f"model_{method}"] = model.calibrate(raw, rows)  # the raw probabilities computed once
    scores["baseline_recency"] = np.clip(
        fitted.recency_baseline.predict(rows["days_since_last_purchase"].to_numpy()), 1e-4, 1 - 1e-4
    )
    scores["baseline_bgnbd"] = np.clip(rows[BASELINE_COLUMN].to_numpy(), 1e-4, 1 - 1e-4)
    return scores


@dataclass(frozen=True)
class BacktestResult:
    """Metrics per (eval cutoff, candidate) and every candidate's predictions per evaluation row."""

    metrics: pd.DataFrame
    predictions: pd.DataFrame


def run_backtest(
    snapshots: pd.DataFrame,
    plans: list[CutoffPlan],
    feature_columns: list[str],
    lightgbm_settings,
    value_of: Callable[[pd.DataFrame], np.ndarray],
    *,
    seed: int,
    early_stopping_share: float,
    metric_options: dict,
    fixed_categories: dict[str, tuple[str, ...]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> BacktestResult:
    """Evaluate the model (raw and calibrated) and both baselines at each plan's evaluation cutoff."""
    metric_rows, predictions = [], []
    for plan in plans:
        progress(f"backtest cutoff {plan.eval_cutoff.date()}")
        fitted = fit_plan(
            snapshots,
            plan,
            feature_columns,
            lightgbm_settings,
            seed=seed,
            early_stopping_share=early_stopping_share,
            fixed_categories=fixed_categories,
        )
        evaluation = snapshots[snapshots["as_of"] == plan.eval_cutoff]
        y = evaluation[LABEL].to_numpy(dtype=int)
        value = value_of(evaluation)
        scores = score_candidates(fitted, evaluation, feature_columns)
        for candidate, p in scores.items():
            metric_rows.append(
                {
                    "eval_cutoff": plan.eval_cutoff,
                    "candidate": candidate,
                    **evaluate(y, p, value, **metric_options),
                }
            )
        predictions.append(
            pd.DataFrame(
                {
                    "eval_cutoff": plan.eval_cutoff,
                    "customer_id": evaluation["customer_id"].to_numpy(),
                    LABEL: y,
                    "customer_value": value,
                    **scores,
                }
            )
        )
    return BacktestResult(pd.DataFrame(metric_rows), pd.concat(predictions, ignore_index=True))


class TooFewOutcomes(ValueError):
    """A fold's calibration rows hold customers of one outcome only."""


@dataclass(frozen=True)
class CrossFitResult:
    """The cross-fitted metrics and predictions, and calibrators fitted on every customer's out-of-fold score at
    the latest evaluation cutoff (for the booster trained on all customers)."""

    backtest: BacktestResult
    calibrators: dict[str, Calibrator]


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, 1e-4, 1 - 1e-4)


def run_cross_fit(
    snapshots: pd.DataFrame,
    evaluation_cutoffs: tuple[pd.Timestamp, ...],
    feature_columns: list[str],
    lightgbm_settings,
    value_of: Callable[[pd.DataFrame], np.ndarray],
    *,
    n_folds: int,
    seed: int,
    early_stopping_share: float,
    metric_options: dict,
    fixed_categories: dict[str, tuple[str, ...]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> CrossFitResult:
    """The model (raw and calibrated) and both baselines, scored out of fold at each evaluation cutoff.

    Fold k's rows are scored by a booster and a recency rule fitted on the other folds' rows at every cutoff;
    its calibrated scores come from calibrators fitted on the other folds' out-of-fold scores at the same
    cutoff. So no customer's outcome enters its own score (the other folds' scores come from boosters that did
    train on fold k: its outcomes reach its calibration only through them), but the folds share the period:
    the estimate does not measure how the model holds up as time moves on.
    """
    folds = customer_folds(snapshots["customer_id"], n_folds, seed)
    at_eval = snapshots["as_of"].isin(evaluation_cutoffs).to_numpy()
    raw, recency = np.full(len(snapshots), np.nan), np.full(len(snapshots), np.nan)
    for fold in range(n_folds):
        scored = at_eval & (folds == fold)
        if not scored.any():
            continue
        progress(f"cross-fitting fold {fold + 1} of {n_folds}")
        booster, recency_rule = fit_uncalibrated(
            snapshots[folds != fold], feature_columns, lightgbm_settings,
            seed=seed, early_stopping_share=early_stopping_share, fixed_categories=fixed_categories,
        )
        rows = snapshots[scored]
        raw[scored] = booster.predict_proba(rows[feature_columns])[:, 1]
        recency[scored] = recency_rule.predict(rows["days_since_last_purchase"].to_numpy())

    metric_rows, predictions, calibrators = [], [], {}
    for cutoff in sorted(evaluation_cutoffs):
        at = (snapshots["as_of"] == cutoff).to_numpy()
        rows, fold, cutoff_raw = snapshots[at], folds[at], raw[at]
        baseline = rows[BASELINE_COLUMN].to_numpy(dtype=float)
        y = rows[LABEL].to_numpy(dtype=int)
        scores = {"model_uncalibrated": _clip(cutoff_raw)}
        for method in calibration_methods(feature_columns):
            calibrated = np.empty(len(rows))
            for k in np.unique(fold):
                others = fold != k
                if len(np.unique(y[others])) < 2:
                    raise TooFewOutcomes(
                        f"at {cutoff.date()} the customers outside fold {k + 1} all have one outcome"
                    )
                calibrator = Calibrator.fit(method, cutoff_raw[others], y[others], baseline[others])
                calibrated[~others] = calibrator.transform(cutoff_raw[~others], baseline[~others])
            scores[f"model_{method}"] = calibrated
            calibrators[method] = Calibrator.fit(method, cutoff_raw, y, baseline)  # the latest cutoff's stays
        scores["baseline_recency"] = _clip(recency[at])
        scores["baseline_bgnbd"] = _clip(baseline)
        value = value_of(rows)
        for candidate, p in scores.items():
            metric_rows.append({"eval_cutoff": cutoff, "candidate": candidate, **evaluate(y, p, value, **metric_options)})
        predictions.append(
            pd.DataFrame(
                {
                    "eval_cutoff": cutoff,
                    "customer_id": rows["customer_id"].to_numpy(),
                    LABEL: y,
                    "customer_value": value,
                    **scores,
                }
            )
        )
    backtest = BacktestResult(pd.DataFrame(metric_rows), pd.concat(predictions, ignore_index=True))
    return CrossFitResult(backtest, calibrators)


def choose_calibration(backtest: pd.DataFrame, configured: str) -> str:
    """The configured method, or under "auto" the one with the lowest mean log loss over the backtest (of those
    it holds: "stacked" only when the baseline is a model input)."""
    if configured != "auto":
        return configured
    held = set(backtest["candidate"])
    methods = [m for m in CALIBRATION_METHODS if f"model_{m}" in held]
    mean_loss = {m: backtest.loc[backtest["candidate"] == f"model_{m}", "log_loss"].mean() for m in methods}
    return min(methods, key=lambda m: (mean_loss[m], m))
