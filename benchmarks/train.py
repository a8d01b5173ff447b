"""Speed and memory of training the shipped model on about 1,000,000 snapshot rows with every model input.

Generates the numpy world of ``benchmarks.features``, builds snapshots (bucketed feature table, BG/NBD outputs,
churn labels) at the calibration cutoff (the latest whose 90-day label window the world covers) and at training
cutoffs going back 30 days at a time until the training rows reach --rows. Then times the step `churn train`
runs for its final model: ``models.backtest.fit_plan`` with the config's LightGBM settings (early stopping on
held-out customers, isotonic, sigmoid and stacked calibrators). Building the data is timed apart from training.

    .venv/bin/python -m benchmarks.train [--scale 1.05] [--rows 1000000] [--set model.lightgbm.KEY=VALUE ...]
                                         [--save data/scratch/benchmark_model.pkl]

--set overrides a config key for this run only (e.g. another num_leaves or thread count);
--save pickles the isotonic-calibrated model and the training medians for ``benchmarks.score``.
Peak memory is VmHWM, reset once the data is built, so it counts the world and the snapshots (printed).
"""

from __future__ import annotations

import argparse
import pickle
import platform
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml

from benchmarks.features_inner_old import _memory_mb, _reset_peak, generate, timed
from features import build_feature_table_bucketed, churn_labels
from features.aggregate import prepare_tables
from models.backtest import LABEL, final_plan, fit_plan
from models.bgnbd import bgnbd_features
from models.modelframe import data_end, fixed_categories, model_feature_columns
from pipeline.config import Config, load_config

WORLD_SIZES = (1_000_000, 10_000_000, 300_000, 5_000_000)  # customers, transactions, complaints, visits at scale 1
STEP_DAYS = 30


def snapshot(tables, prepared, cutoff: pd.Timestamp, cfg: Config, buckets: int) -> pd.DataFrame:
    """One cutoff's rows as `churn train` builds them: features, BG/NBD outputs, then the label last."""
    frame = build_feature_table_bucketed(prepared, cutoff, cfg.features, cfg.churn, buckets)
    frame.insert(1, "as_of", pd.Series(cutoff, index=frame.index, dtype="datetime64[ns]"))
    bgnbd = bgnbd_features(tables.transactions, frame["customer_id"], cutoff, cfg.churn.horizon_days)
    frame = frame.join(bgnbd, on="customer_id")
    labels = churn_labels(prepared.transactions, frame["customer_id"], cutoff, cfg.churn.horizon_days)
    return frame.assign(**{LABEL: labels.to_numpy()})


def build_snapshots(tables, cfg: Config, rows: int, buckets: int) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """Snapshots at the calibration cutoff and at training cutoffs (oldest added last) until ``rows`` train rows."""
    horizon = pd.Timedelta(days=cfg.churn.horizon_days)
    calibration = data_end(tables) - horizon
    prepared = prepare_tables(tables)
    parts, cutoffs, train_rows = [], [calibration], 0
    parts.append(snapshot(tables, prepared, calibration, cfg, buckets))
    cutoff = calibration - horizon
    while train_rows < rows:
        part = snapshot(tables, prepared, cutoff, cfg, buckets)
        parts.append(part)
        cutoffs.append(cutoff)
        train_rows += len(part)
        print(f"  snapshot {cutoff.date()}: {len(part):,} rows, churn rate {part[LABEL].mean():.3f}")
        cutoff -= pd.Timedelta(days=STEP_DAYS)
    return pd.concat(parts, ignore_index=True), sorted(cutoffs)


def _override(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.05)
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows to reach at least")
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], type=_override, metavar="KEY=VALUE")
    parser.add_argument("--save", type=Path, help="pickle the calibrated model and medians here")
    args = parser.parse_args()
    cfg = load_config(overrides=dict(args.set))

    start = time.perf_counter()
    tables = generate(*[int(n * args.scale) for n in WORLD_SIZES])
    print(f"generated the world (scale {args.scale}) in {time.perf_counter() - start:.1f}s")
    start = time.perf_counter()
    snapshots, cutoffs = build_snapshots(tables, cfg, args.rows, args.buckets)
    plan = final_plan(cutoffs, data_end(tables), cfg.churn.horizon_days)
    columns = model_feature_columns(snapshots)
    n_train = int(snapshots["as_of"].isin(plan.train_cutoffs).sum())
    print(
        f"snapshots: {len(snapshots):,} rows x {len(columns)} model inputs in {time.perf_counter() - start:.1f}s; "
        f"train {n_train:,} rows at {[str(c.date()) for c in plan.train_cutoffs]}, "
        f"calibrate {len(snapshots) - n_train:,} at {plan.calibration_cutoff.date()}"
    )
    _reset_peak()
    print(f"resident before training (world + snapshots): {_memory_mb('VmRSS'):.0f} MB")

    lightgbm = cfg.model.lightgbm
    fitted, seconds, peak = timed(
        lambda: fit_plan(
            snapshots, plan, columns, lightgbm,
            seed=cfg.training.seed,
            early_stopping_share=cfg.training.early_stopping_customer_share,
            fixed_categories=fixed_categories(cfg.features),
        )
    )
    booster = fitted.model.booster
    print(
        f"training (fit_plan: booster with early stopping + calibrators): {seconds:.1f}s, peak {peak:.0f} MB; "
        f"{booster.num_trees()} trees, best iteration {booster.best_iteration} "
        f"(n_estimators {lightgbm.n_estimators}, early stopping {lightgbm.early_stopping_rounds} rounds), "
        f"{seconds / booster.num_trees() * 1000:.0f} ms per tree incl. setup"
    )
    print(f"lightgbm settings: {lightgbm.model_dump()}")
    if args.save:
        training_rows = snapshots.loc[snapshots["as_of"].isin(plan.train_cutoffs), columns]
        bundle = {
            "model": fitted.calibrated["isotonic"],
            "medians": training_rows.median(numeric_only=True).to_dict(),
        }
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_bytes(pickle.dumps(bundle))
        print(f"saved the model to {args.save}")
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, lightgbm {lgb.__version__}"
    )


if __name__ == "__main__":
    main()
