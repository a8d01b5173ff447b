"""Where the gap to the oracle comes from: the model retrained with one latent truth column added at a time.

Usage: python -m benchmarks.oracle_gap [--data DIR] [--customers 50000] [--seed 7] [--config FILE]

Builds the training snapshots exactly as `churn train` does, takes the latest backtest evaluation cutoff E, trains
the booster (the configured LightGBM settings, early stopping on held-out customers) on every cutoff whose label
window ends by E, and reports ROC-AUC at E: with the model's inputs alone, then with latent columns of the
generator's truth added (each known at E: traits, days since the decline phase began, whether the customer has
already left). A latent column that lifts ROC-AUC a lot carries information the data does not reveal; it is
what separates the model from an oracle that knows it. No calibration: ranking only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks.sample_world import sample_world
from models.backtest import LABEL
from models.estimator import holdout_customers, make_booster
from pipeline.config import load_config
from pipeline.generate import TRUTH_FOLDER
from pipeline.io import load_prepared, read_frame
from pipeline.train import training_data

TRAITS = ("frailty", "base_rate", "share_of_wallet", "wallet", "browse_propensity", "promo_propensity")
VARIANTS = (
    (),
    ("latent_frailty",),
    ("latent_base_rate",),
    ("latent_share_of_wallet", "latent_wallet"),
    ("latent_days_in_decline",),
    ("latent_already_left",),
    tuple(f"latent_{t}" for t in TRAITS) + ("latent_days_in_decline",),
    tuple(f"latent_{t}" for t in TRAITS) + ("latent_days_in_decline", "latent_already_left"),
)


def with_latent_columns(snapshots: pd.DataFrame, truth_customers: pd.DataFrame) -> pd.DataFrame:
    """The snapshots plus, per row, the customer's latent traits and latent state at the row's as_of."""
    truth = truth_customers.set_index("customer_id")
    ids, as_of = snapshots["customer_id"].to_numpy(), snapshots["as_of"].to_numpy()
    latent = {f"latent_{t}": truth[t].reindex(ids).to_numpy(dtype=float) for t in TRAITS}
    decline = pd.to_datetime(truth["decline_start"]).reindex(ids).to_numpy()
    left = pd.to_datetime(truth["death_date"]).reindex(ids).to_numpy()
    days_in = (as_of - decline) / np.timedelta64(1, "D")
    latent["latent_days_in_decline"] = np.where(decline < as_of, days_in, -1.0)
    latent["latent_already_left"] = (left <= as_of).astype(float)
    return snapshots.assign(**latent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    cfg = load_config(args.config)
    with sample_world(args.data, args.customers, args.seed) as data_dir:
        tables, _ = load_prepared(data_dir)
        truth = read_frame(data_dir / TRUTH_FOLDER / "customers.csv")
    data = training_data(tables, cfg)
    snapshots = with_latent_columns(data.snapshots, truth)
    evaluation_cutoff = max(data.cutoffs)
    horizon = pd.Timedelta(days=cfg.churn.horizon_days)
    train = snapshots[snapshots["as_of"] + horizon <= evaluation_cutoff]
    evaluation = snapshots[snapshots["as_of"] == evaluation_cutoff]
    held_out = holdout_customers(train["customer_id"], cfg.training.early_stopping_customer_share, cfg.training.seed)
    print(f"evaluation cutoff {evaluation_cutoff.date()}: {len(evaluation):,} customers, "
          f"churn rate {evaluation[LABEL].mean():.3f}; training rows {len(train):,}")
    for extra in VARIANTS:
        columns = [*data.columns, *extra]
        x, y = train[columns], train[LABEL].to_numpy(dtype=float)
        booster = make_booster(cfg.model.lightgbm, cfg.training.seed).fit(
            x[~held_out], y[~held_out], eval_set=(x[held_out], y[held_out])
        )
        auc = roc_auc_score(evaluation[LABEL], booster.predict_proba(evaluation[columns])[:, 1])
        print(f"{'model inputs' + (' + ' + ', '.join(extra) if extra else ''):<60} ROC-AUC {auc:.4f}")


if __name__ == "__main__":
    main()
