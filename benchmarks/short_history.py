"""Does the shipped model beat the baselines on the estimate `churn train` reports, and by more than noise?

Builds the training snapshots and runs the estimate exactly as `churn train` does (the rolling-origin backtest the
history has room for, else the cross-fitted estimate; no MLflow), then prints each candidate's mean ROC-AUC, PR-AUC,
log loss and ECE over the evaluation cutoffs, and a paired bootstrap of the shipped model against BG/NBD: customers
drawn with replacement (all their evaluation rows together), both scores kept as they are, so it measures the
uncertainty from which customers were evaluated, not from training. Printed: the share of draws in which the
shipped model's mean ROC-AUC (PR-AUC) exceeds BG/NBD's, and the 5% and 95% quantiles of the difference.

    .venv/bin/python -m benchmarks.short_history --data DIR --horizon-days 90
    # e.g. DIR from: churn generate --out DIR --customers 20000 --seed 17 --history-days 365 --transactions-only

Figures: benchmarks/README.md, "Short histories, transactions only".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from pipeline.config import load_config
from pipeline.io import load_prepared
from pipeline.train import estimate_model, training_data

METRICS = ["roc_auc", "pr_auc", "log_loss", "ece"]


def paired_bootstrap(predictions: pd.DataFrame, model: str, baseline: str, draws: int, seed: int) -> dict:
    """Share of customer resamples in which ``model`` beats ``baseline`` on mean ROC-AUC and on mean PR-AUC over
    the evaluation cutoffs, and the 5% and 95% quantiles of the differences."""
    rng = np.random.default_rng(seed)
    customers = predictions["customer_id"].unique()
    by_cutoff = []
    for _, rows in predictions.groupby("eval_cutoff"):
        position = pd.Series(np.arange(len(rows)), index=rows["customer_id"].to_numpy())
        by_cutoff.append((position, rows["churned"].to_numpy(), rows[model].to_numpy(), rows[baseline].to_numpy()))
    differences = {"roc_auc": [], "pr_auc": []}
    for _ in range(draws):
        drawn = rng.choice(customers, len(customers))
        roc, pr = [], []
        for position, y, a, b in by_cutoff:
            take = position.reindex(drawn).dropna().to_numpy(dtype=int)
            roc.append(roc_auc_score(y[take], a[take]) - roc_auc_score(y[take], b[take]))
            pr.append(average_precision_score(y[take], a[take]) - average_precision_score(y[take], b[take]))
        differences["roc_auc"].append(np.mean(roc))
        differences["pr_auc"].append(np.mean(pr))
    return {
        metric: (float(np.mean(np.array(d) > 0)), float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95)))
        for metric, d in differences.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--horizon-days", type=int, help="churn.horizon_days (default: the config's)")
    parser.add_argument("--bootstrap", type=int, default=400, help="customer resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples")
    args = parser.parse_args()
    cfg = load_config(args.config, {"churn.horizon_days": args.horizon_days})
    tables, _ = load_prepared(args.data)
    estimate = estimate_model(training_data(tables, cfg), cfg)
    shipped = f"model_{estimate.calibration}"
    means = estimate.backtest.metrics.groupby("candidate")[METRICS].mean()
    print(f"{estimate.plan.kind} at {', '.join(str(c.date()) for c in estimate.plan.evaluation_cutoffs)}; "
          f"shipped: {shipped}")
    print(means.round(4).to_string())
    for metric, (share, low, high) in paired_bootstrap(
        estimate.backtest.predictions, shipped, "baseline_bgnbd", args.bootstrap, args.seed
    ).items():
        print(f"{shipped} - BG/NBD, {metric}: ahead in {share:.0%} of {args.bootstrap} customer resamples, "
              f"5-95% [{low:+.4f}, {high:+.4f}]")


if __name__ == "__main__":
    main()
