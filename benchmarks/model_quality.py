"""Model quality against the generator's truth: backtest ROC-AUC of the model and baselines vs the oracles.

Usage: python -m benchmarks.model_quality [--customers 50000] [--seed 7] [--data DIR] [--config FILE]
Generates the sample world (unless --data is given), runs the rolling-origin backtest exactly as
`churn train` does (no MLflow), and at each evaluation cutoff compares ROC-AUC with two oracles:
- full: the truth's latent probability, which also knows whether a silent customer has already left
  (unobservable: an upper bound no model can reach);
- posterior: the true probability given the latent paths and the observed silence since the last purchase
  (what a model that knew every customer's latent parameters could achieve).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import load_config
from pipeline.generate import TRUTH_FOLDER, write_world
from pipeline.io import load_data_dir, read_frame
from pipeline.oracle import posterior_no_purchase_probability, true_no_purchase_probability
from pipeline.train import backtest_model, training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data or Path(scratch) / "world"
        if args.data is None:
            write_world(data_dir, args.customers, args.seed)
        tables, _ = load_data_dir(data_dir)
        truth = {n: read_frame(data_dir / TRUTH_FOLDER / f"{n}.csv") for n in ("customers", "paths", "calendar")}
        started = time.perf_counter()
        data = training_data(tables, cfg)
        backtest, method = backtest_model(data, cfg)
        seconds = time.perf_counter() - started
    rows = []
    for cutoff, group in backtest.predictions.groupby("eval_cutoff"):
        ids = group["customer_id"].to_numpy()
        y = group["churned"].to_numpy()
        full = true_no_purchase_probability(truth, cutoff, cfg.churn.horizon_days).reindex(ids).to_numpy()
        posterior = posterior_no_purchase_probability(
            truth, tables.transactions, cutoff, cfg.churn.horizon_days
        ).reindex(ids).to_numpy()
        model = roc_auc_score(y, group[f"model_{method}"])
        rows.append({
            "eval_cutoff": str(pd.Timestamp(cutoff).date()), "customers": len(y), "churn_rate": y.mean(),
            "model": model, "recency": roc_auc_score(y, group["baseline_recency"]),
            "bgnbd": roc_auc_score(y, group["baseline_bgnbd"]),
            "oracle_posterior": roc_auc_score(y, posterior), "oracle_full": roc_auc_score(y, full),
            "model/posterior": model / roc_auc_score(y, posterior), "model/full": model / roc_auc_score(y, full),
        })
    table = pd.DataFrame(rows)
    shipped = backtest.metrics[backtest.metrics["candidate"] == f"model_{method}"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"calibration {method}; ECE per cutoff: {', '.join(f'{v:.4f}' for v in shipped['ece'])}")
    print(f"snapshots + backtest: {seconds:.0f} s")


if __name__ == "__main__":
    main()
