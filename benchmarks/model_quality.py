"""Model quality against the generator's truth: backtest ROC-AUC of the model and baselines vs the oracles.

Usage: python -m benchmarks.model_quality [--customers 50000] [--seed 7] [--data DIR] [--config FILE]
                                          [--replications 200]
Generates the sample world (unless --data is given), runs the rolling-origin backtest exactly as
`churn train` does (no MLflow), and at each evaluation cutoff compares ROC-AUC with three oracles:
- full: the truth's latent probability, which also knows whether a silent customer has already left
  and the latent paths through the window (unobservable: an upper bound no model can reach);
- posterior: given the latent paths (also through the window, so it still knows some of the future:
  complaints, manager departures and decline onsets after the cutoff) and the observed silence since the
  last purchase;
- as_of: given all that exists at the cutoff (every latent trait, the latent paths and events before it, the
  observed silence), averaged over the futures the generator could draw (Monte Carlo, --replications): the
  true probability at the cutoff. It knows the latent traits, which the data only hint at, so a model of
  the data can at best approach it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks.sample_world import sample_world
from pipeline.config import load_config
from pipeline.generate import TRUTH_FOLDER
from pipeline.io import load_data_dir, load_prepared, read_frame
from pipeline.oracle import (
    as_of_no_purchase_probability,
    posterior_no_purchase_probability,
    true_no_purchase_probability,
)
from pipeline.train import estimate_model, training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--replications", type=int, default=200, help="futures drawn by the as-of oracle")
    args = parser.parse_args()
    cfg = load_config(args.config)
    with sample_world(args.data, args.customers, args.seed) as data_dir:
        tables, _ = load_prepared(data_dir)  # what churn train reads
        raw, _ = load_data_dir(data_dir)  # every column: the oracles read complaint severities, visit channels...
        truth = {n: read_frame(data_dir / TRUTH_FOLDER / f"{n}.csv") for n in ("customers", "paths", "calendar")}
        started = time.perf_counter()
        data = training_data(tables, cfg)
        estimate = estimate_model(data, cfg)
        backtest, method = estimate.backtest, estimate.calibration
        seconds = time.perf_counter() - started
    rows = []
    for cutoff, group in backtest.predictions.groupby("eval_cutoff"):
        ids = group["customer_id"].to_numpy()
        y = group["churned"].to_numpy()
        full = true_no_purchase_probability(truth, cutoff, cfg.churn.horizon_days).reindex(ids).to_numpy()
        posterior = posterior_no_purchase_probability(
            truth, raw.transactions, cutoff, cfg.churn.horizon_days
        ).reindex(ids).to_numpy()
        as_of = as_of_no_purchase_probability(
            truth, raw, cutoff, cfg.churn.horizon_days, customer_ids=ids, replications=args.replications
        ).reindex(ids).to_numpy()
        model = roc_auc_score(y, group[f"model_{method}"])
        oracles = {"as_of": as_of, "posterior": posterior, "full": full}
        auc = {name: roc_auc_score(y, probability) for name, probability in oracles.items()}
        rows.append({
            "eval_cutoff": str(pd.Timestamp(cutoff).date()), "customers": len(y), "churn_rate": y.mean(),
            "model": model, "recency": roc_auc_score(y, group["baseline_recency"]),
            "bgnbd": roc_auc_score(y, group["baseline_bgnbd"]),
            **{f"oracle_{name}": value for name, value in auc.items()},
            **{f"model/{name}": model / value for name, value in auc.items()},
        })
    table = pd.DataFrame(rows)
    shipped = backtest.metrics[backtest.metrics["candidate"] == f"model_{method}"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"calibration {method}; ECE per cutoff: {', '.join(f'{v:.4f}' for v in shipped['ece'])}")
    print(f"snapshots + backtest: {seconds:.0f} s")


if __name__ == "__main__":
    main()
