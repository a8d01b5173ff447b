"""Calibration under base-rate drift: the shipped calibrators vs survival nowcasts from partly observed windows.

Usage: python -m benchmarks.calibration_drift --data DIR [--config FILE] [--cutoffs 24] [--eval-cutoffs 16]
                                              [--interval-days 10] [--period-days 30]

Runs the rolling-origin backtest of `churn train` (same plans, same booster and calibrators) at --eval-cutoffs
evaluation cutoffs E, and compares on E's rows:
- sigmoid / isotonic: the shipped calibrators, fitted on the calibration cutoff C (the latest whose label window
  [C, C + horizon) ends by E);
- survival nowcasts: a discrete-time hazard model of the days to the next purchase, in intervals of
  --interval-days, fitted on every cutoff from C up to E. A cutoff whose window is only partly observed before E
  contributes the intervals it observed (right-censored at E), so the newest behaviour enters. Churn =
  prod_j (1 - h_j); logit h_j = a_j + b * logit(raw booster probability) + a drift term, and E is predicted
  with the drift term of the newest data:
    nowcast_cutoff: one offset per cutoff, E takes the newest cutoff's (C + 60 days in the default grid);
    nowcast_period: one offset per calendar period of --period-days counted back from E, E takes the last
                    period's, [E - period_days, E);
    nowcast_life_table: a_j per (interval, period) with a shared slope b, E takes the last period's a_j
                    (a period life table, as demographers build one from the latest calendar year);
- seasonal_naive: the sigmoid shifted by the change of the (model-free) churn rate from C to E a year earlier;
- oracle_offset: the sigmoid shifted by the one logit offset that matches E's observed churn rate. It reads
  E's own labels: a bound on what any correction of the base rate alone can reach, not a method.
No label at or after E enters any method: each interval must end by E (checked).
Prints ECE, log loss and ROC-AUC per evaluation cutoff and, per candidate, the mean over cutoffs of ECE, log loss, Brier and ROC-AUC;
then the churn rate of the active customers every cutoff_step_days over the whole history.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

from features import active_customers, churn_labels
from models.backtest import LABEL, backtest_plans, fit_plan
from models.metrics import brier, expected_calibration_error, log_loss, roc_auc
from models.modelframe import fixed_categories
from pipeline.config import load_config
from pipeline.io import load_prepared
from pipeline.train import training_data

FLOOR = 1e-4
NOWCASTS = ("cutoff", "period", "life_table")


def days_to_purchase(transactions: pd.DataFrame, snapshots: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Per snapshot row, days from as_of to the first purchase in [as_of, as_of + horizon), NaN if none.

    A label, like features/labels.py: it reads events from as_of on, so it never becomes a model input.
    """
    purchases = transactions.loc[transactions["amount"] > 0, ["customer_id", "timestamp"]]
    purchases = purchases.assign(customer_id=purchases["customer_id"].astype("str"))
    days = np.full(len(snapshots), np.nan)
    for cutoff in snapshots["as_of"].unique():
        cutoff = pd.Timestamp(cutoff)
        window = purchases[(purchases["timestamp"] >= cutoff)
                           & (purchases["timestamp"] < cutoff + pd.Timedelta(days=horizon_days))]
        first = window.groupby("customer_id")["timestamp"].min()
        rows = (snapshots["as_of"] == cutoff).to_numpy()
        when = snapshots.loc[rows, "customer_id"].astype("str").map(first)
        days[rows] = ((when - cutoff) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return days


def person_periods(
    rows: pd.DataFrame, eval_cutoff: pd.Timestamp, horizon_days: int, interval_days: int, period_days: int
) -> pd.DataFrame:
    """One row per (snapshot row, interval) at risk and fully observed before ``eval_cutoff``.

    Columns: interval j, calendar period (0 = [E - period_days, E)), as_of, score (logit of the raw booster
    probability) and event (first purchase in the interval). A purchase at or after E is not seen (censoring).
    """
    seen_days = np.minimum((eval_cutoff - rows["as_of"]).dt.days.to_numpy(), horizon_days)
    n_seen = seen_days // interval_days
    days = rows["days_to_purchase"].to_numpy()
    event_interval = np.floor(np.where(days < seen_days, days, np.inf) / interval_days)
    score = logit(np.clip(rows["raw"].to_numpy(), 1e-6, 1 - 1e-6))
    to_eval = (eval_cutoff - rows["as_of"]).dt.days.to_numpy()
    parts = []
    for j in range(horizon_days // interval_days):
        at_risk = np.flatnonzero((j < n_seen) & (event_interval >= j))
        start_to_eval = to_eval[at_risk] - j * interval_days
        if (start_to_eval < interval_days).any():  # leakage guard: every interval used ends by E
            raise AssertionError(f"an interval of {interval_days} days reaches past {eval_cutoff.date()}")
        parts.append(pd.DataFrame({
            "interval": j,
            "period": (start_to_eval - 1) // period_days,
            "as_of": rows["as_of"].to_numpy()[at_risk],
            "score": score[at_risk],
            "event": (event_interval[at_risk] == j).astype(float),
        }))
    return pd.concat(parts, ignore_index=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-6, max_steps: int = 100) -> np.ndarray:
    """Maximum-likelihood logistic coefficients by Newton's method (a tiny ridge keeps empty cells finite)."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_steps):
        p = expit(x @ beta)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, x.T @ (y - p) - ridge * beta)
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def _indicators(values: np.ndarray, levels) -> np.ndarray:
    columns = [(values == level).astype(float) for level in levels]
    return np.column_stack(columns) if columns else np.empty((len(values), 0))


def nowcast(periods: pd.DataFrame, score: np.ndarray, n_intervals: int, drift: str) -> np.ndarray:
    """P(no purchase in the horizon) at E for rows with booster logit ``score``, under one drift term."""
    interval = periods["interval"].to_numpy()
    period = periods["period"].to_numpy()
    if drift == "life_table":
        # (interval, period) cells; the latest period's cells come first, so a_j = beta[j].
        cells = sorted(set(zip(interval, period, strict=True)), key=lambda c: (c[1] != 0, c))
        base = _indicators(interval * 10_000 + period, [j * 10_000 + p for j, p in cells])
        if cells[:n_intervals] != [(j, 0) for j in range(n_intervals)]:
            raise ValueError("the latest period does not observe every interval: widen --period-days")
        extra = np.empty((len(periods), 0))
        n_base = len(cells)
    else:
        base = _indicators(interval, range(n_intervals))
        n_base = n_intervals
        if drift == "cutoff":
            newest = periods["as_of"].max()
            extra = _indicators(periods["as_of"].to_numpy(), sorted(set(periods["as_of"]) - {newest}))
        else:
            extra = _indicators(period, sorted(set(period) - {0}))
    beta = fit_logistic(np.column_stack([base, periods["score"].to_numpy(), extra]), periods["event"].to_numpy())
    hazard = expit(beta[:n_intervals][None, :] + beta[n_base] * score[:, None])
    return np.clip(np.prod(1 - hazard, axis=1), FLOOR, 1 - FLOOR)


def churn_rate(transactions: pd.DataFrame, cutoff: pd.Timestamp, churn) -> float:
    """Share of the customers active at ``cutoff`` with no purchase in [cutoff, cutoff + horizon)."""
    active = active_customers(transactions, cutoff, churn.active_window_days)
    return float(churn_labels(transactions, active, cutoff, churn.horizon_days).mean())


def history_churn_rates(transactions: pd.DataFrame, latest: pd.Timestamp, step_days: int, churn) -> pd.Series:
    """Churn rate at cutoffs ``step_days`` apart, from ``latest`` back to the first cutoff whose activity window
    the data covers: how the base rate moves through the seasons."""
    first_day = transactions["timestamp"].min().normalize() + pd.Timedelta(days=churn.active_window_days)
    cutoffs = []
    cutoff = latest
    while cutoff >= first_day:
        cutoffs.append(cutoff)
        cutoff -= pd.Timedelta(days=step_days)
    return pd.Series({c.date(): churn_rate(transactions, c, churn) for c in reversed(cutoffs)}, name="churn_rate")


def seasonal_naive(calibrated: np.ndarray, transactions: pd.DataFrame, plan, churn) -> np.ndarray | None:
    """``calibrated`` shifted by the logit change of the base rate from C to E one year (52 weeks) earlier;
    None when the data does not reach back that far. Those labels end 40 weeks before E."""
    year = pd.Timedelta(weeks=52)
    first_day = transactions["timestamp"].min().normalize() + pd.Timedelta(days=churn.active_window_days)
    if plan.calibration_cutoff - year < first_day:
        return None
    before, after = (churn_rate(transactions, c - year, churn) for c in (plan.calibration_cutoff, plan.eval_cutoff))
    shifted = expit(logit(calibrated) + logit(after) - logit(before))
    return np.clip(shifted, FLOOR, 1 - FLOOR)


def oracle_offset(calibrated: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``calibrated`` shifted by the logit offset that makes its mean E's churn rate (reads E's labels)."""
    z = logit(calibrated)
    offset = brentq(lambda o: expit(z + o).mean() - y.mean(), -10, 10)
    return expit(z + offset)


def candidates_at(snapshots, transactions, plan, columns, cfg, args) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """E's labels and every candidate's churn probabilities at E, under one backtest plan."""
    fitted = fit_plan(
        snapshots, plan, columns, cfg.model.lightgbm, seed=cfg.training.seed,
        early_stopping_share=cfg.training.early_stopping_customer_share,
        fixed_categories=fixed_categories(cfg.features),
    )
    e = plan.eval_cutoff
    recent = snapshots[(snapshots["as_of"] >= plan.calibration_cutoff) & (snapshots["as_of"] <= e)]
    recent = recent.assign(raw=fitted.model.predict_proba(recent[columns])[:, 1])
    evaluation = recent[recent["as_of"] == e]
    y = evaluation[LABEL].to_numpy(dtype=float)
    raw = evaluation["raw"].to_numpy()
    scores = {f"model_{m}": c.calibrate(raw, evaluation) for m, c in fitted.calibrated.items()}
    horizon = cfg.churn.horizon_days
    periods = person_periods(recent[recent["as_of"] < e], e, horizon, args.interval_days, args.period_days)
    score = logit(np.clip(raw, 1e-6, 1 - 1e-6))
    for drift in NOWCASTS:
        scores[f"nowcast_{drift}"] = nowcast(periods, score, horizon // args.interval_days, drift)
    seasonal = seasonal_naive(scores["model_sigmoid"], transactions, plan, cfg.churn)
    if seasonal is not None:
        scores["seasonal_naive"] = seasonal
    scores["oracle_offset"] = oracle_offset(scores["model_sigmoid"], y)
    return y, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--cutoffs", type=int, default=24, help="snapshot cutoffs (training.n_cutoffs)")
    parser.add_argument("--eval-cutoffs", type=int, default=16, help="backtest evaluation cutoffs")
    parser.add_argument("--interval-days", type=int, default=10)
    parser.add_argument("--period-days", type=int, default=30)
    args = parser.parse_args()
    cfg = load_config(args.config, {"training.n_cutoffs": args.cutoffs, "training.eval_cutoffs": args.eval_cutoffs})
    if cfg.churn.horizon_days % args.interval_days:
        parser.error(f"--interval-days must divide churn.horizon_days ({cfg.churn.horizon_days})")
    started = time.perf_counter()
    tables, _ = load_prepared(args.data)
    data = training_data(tables, cfg)
    snapshots = data.snapshots.assign(
        days_to_purchase=days_to_purchase(tables.transactions, data.snapshots, cfg.churn.horizon_days)
    )
    rows = []
    for plan in backtest_plans(data.cutoffs, args.eval_cutoffs, cfg.churn.horizon_days):
        y, scores = candidates_at(snapshots, tables.transactions, plan, data.columns, cfg, args)
        for name, p in scores.items():
            rows.append({
                "eval_cutoff": str(plan.eval_cutoff.date()), "candidate": name, "churn_rate": y.mean(),
                "ece": expected_calibration_error(y, p), "log_loss": log_loss(y, p), "brier": brier(y, p),
                "roc_auc": roc_auc(y, p), "bias": p.mean() - y.mean(),
            })
    table = pd.DataFrame(rows)
    order = list(dict.fromkeys(table["candidate"]))
    with pd.option_context("display.width", 200):
        for metric in ("ece", "log_loss", "roc_auc"):
            print(f"{metric} per evaluation cutoff")
            per_cutoff = table.pivot(index="eval_cutoff", columns="candidate", values=metric)[order]
            per_cutoff.insert(0, "churn_rate", table.groupby("eval_cutoff")["churn_rate"].first())
            print(per_cutoff.round(4).to_string(), end="\n\n")
        print("Mean over evaluation cutoffs (max_ece: the worst cutoff)")
        summary = table.groupby("candidate")[["ece", "log_loss", "brier", "roc_auc"]].mean()
        summary["max_ece"] = table.groupby("candidate")["ece"].max()
        print(summary.loc[order].round(4).to_string())
    rates = history_churn_rates(tables.transactions, max(data.cutoffs), cfg.training.cutoff_step_days, cfg.churn)
    print("\nChurn rate of the active customers over the whole history")
    print(", ".join(f"{day}: {rate:.3f}" for day, rate in rates.items()))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
