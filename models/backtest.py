"""Rolling-origin backtest: for each evaluation cutoff, train on earlier label windows, calibrate on a later one.

For an evaluation cutoff E the calibration cutoff C is the latest cutoff whose label window [C, C + horizon)
ends on or before E, and the booster trains on cutoffs whose label windows end on or before C. So the booster
never sees an outcome the calibrator is fitted on, and neither sees an outcome at or after E.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from models.estimator import ChurnBooster, ChurnClassifier, holdout_customers, make_booster
from models.metrics import evaluate

LABEL = "churned"
KEYS = ("customer_id", "as_of")
CALIBRATION_METHODS = ("isotonic", "sigmoid")


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
    held_out = holdout_customers(train["customer_id"], early_stopping_share, seed)
    x, y = train[feature_columns], train[LABEL].to_numpy(dtype=float)
    booster = make_booster(lightgbm_settings, seed, fixed_categories).fit(
        x[~held_out], y[~held_out], eval_set=(x[held_out], y[held_out])
    )

    calibration = snapshots[snapshots["as_of"] == plan.calibration_cutoff]
    calib_x, calib_y = calibration[feature_columns], calibration[LABEL].to_numpy(dtype=float)
    calibrated = {
        m: ChurnClassifier(FrozenEstimator(booster), method=m).fit(calib_x, calib_y) for m in CALIBRATION_METHODS
    }
    recency = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(
        train["days_since_last_purchase"].to_numpy(), y
    )
    return FittedPlan(booster, calibrated, recency)


def score_candidates(
    fitted: FittedPlan, rows: pd.DataFrame, feature_columns: list[str]
) -> dict[str, np.ndarray]:
    """Churn probabilities of the model (raw and each calibration) and of the baselines on ``rows``."""
    raw = fitted.model.predict_proba(rows[feature_columns])[:, 1]
    scores = {"model_uncalibrated": np.clip(raw, 1e-4, 1 - 1e-4)}
    for method, model in fitted.calibrated.items():
        scores[f"model_{method}"] = model.calibrator_.transform(raw)  # the raw probabilities computed once
    scores["baseline_recency"] = np.clip(
        fitted.recency_baseline.predict(rows["days_since_last_purchase"].to_numpy()), 1e-4, 1 - 1e-4
    )
    scores["baseline_bgnbd"] = np.clip(rows["bgnbd_p_no_purchase"].to_numpy(), 1e-4, 1 - 1e-4)
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


def choose_calibration(backtest: pd.DataFrame, configured: str) -> str:
    """The configured method, or under "auto" the one with the lower mean log loss over the backtest."""
    if configured != "auto":
        return configured
    mean_loss = {
        m: backtest.loc[backtest["candidate"] == f"model_{m}", "log_loss"].mean() for m in CALIBRATION_METHODS
    }
    return min(CALIBRATION_METHODS, key=lambda m: (mean_loss[m], m))
