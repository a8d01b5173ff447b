"""Does seeing the time of year help the model's calibration? The rolling-origin backtest of `churn train` with
and without cyclic time-of-year features of the as-of date, on cutoffs that reach back more than a year.

Three variants on the same snapshots (the grid 30 days apart is the same, so 12 cutoffs are the latest 12 of the
longer grid):
- ``12 cutoffs``: the grid before (training.n_cutoffs was 12);
- ``longer grid``: --cutoffs cutoffs, so that each evaluation cutoff has training cutoffs from a year before it;
- ``longer grid + time of year``: the same plus sin and cos of the as-of date's day of the year as inputs,
  as `churn train` now adds them whenever its cutoffs span a year.

    .venv/bin/python -m benchmarks.seasonality --data data/scratch/seasonal    # e.g. churn generate --seasonal-churn 0.5
    .venv/bin/python -m benchmarks.seasonality --data data/scratch/seasonal --cutoffs 30 --eval-cutoffs 12

With ``--eval-cutoffs`` (a year of evaluation cutoffs) only the two longer-grid variants run: the default grid
has no plan for most of them.

Prints ROC-AUC, PR-AUC, log loss, Brier and ECE of the shipped calibration and of BG/NBD per evaluation cutoff
and their means (figures: benchmarks/README.md, "Seasonality").
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pandas as pd

from models.modelframe import TIME_OF_YEAR_COLUMNS
from pipeline.config import load_config
from pipeline.io import load_prepared
from pipeline.train import estimate_model, training_data

METRICS = ["roc_auc", "pr_auc", "log_loss", "brier", "ece"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--cutoffs", type=int, default=24, help="cutoffs of the longer grid")
    parser.add_argument("--eval-cutoffs", type=int, help="evaluation cutoffs (default: the config's)")
    args = parser.parse_args()
    base = load_config(args.config, {"training.n_cutoffs": 12, "training.eval_cutoffs": args.eval_cutoffs})
    longer = load_config(args.config, {"training.n_cutoffs": args.cutoffs})
    tables, _ = load_prepared(args.data)
    data = training_data(tables, longer)  # cutoffs a year apart: with the time-of-year inputs, as churn train
    if not data.time_of_year:
        raise SystemExit("the longer grid spans less than a year: give more history or more --cutoffs")
    without = [c for c in data.columns if c not in TIME_OF_YEAR_COLUMNS]
    default_cutoffs = data.cutoffs[-base.training.n_cutoffs:]
    variants = {
        "12 cutoffs": replace(
            data, snapshots=data.snapshots[data.snapshots["as_of"].isin(default_cutoffs)], cutoffs=default_cutoffs,
            columns=without,
        ),
        "longer grid": replace(data, columns=without),
        "longer grid + time of year": data,
    }
    if args.eval_cutoffs:
        del variants["12 cutoffs"]
    rows = []
    for name, variant in variants.items():
        estimate = estimate_model(variant, base)
        metrics = estimate.backtest.metrics
        for candidate, label in ((f"model_{estimate.calibration}", name), ("baseline_bgnbd", "BG/NBD")):
            chosen = metrics[metrics["candidate"] == candidate]
            for _, row in chosen.iterrows():
                rows.append({"variant": label, "eval_cutoff": str(row["eval_cutoff"].date()), **row[METRICS]})
    table = pd.DataFrame(rows).drop_duplicates(["variant", "eval_cutoff"])
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False))
    print(table.groupby("variant", sort=False)[METRICS].mean().round(4).to_string())


if __name__ == "__main__":
    main()
