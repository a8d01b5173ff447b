"""How does the pipeline do on worlds it was not built on? The estimate `churn train` reports, per world kind.

For each kind of `benchmarks.independent_world` (retail transactions only, a B2B distributor with every table, monthly
subscriptions), generates the world into ``data/scratch/indep-<kind>-<months>m-s<seed>/`` (replacing it), builds the
training snapshots and runs the estimate exactly as `churn train` does (as `benchmarks.short_history` does; no
MLflow), and prints the estimate's kind, the churn rate at its evaluation cutoffs, mean ROC-AUC / PR-AUC / log
loss / ECE of the shipped model, BG/NBD and the recency rule, and the paired bootstrap of the shipped model against
BG/NBD over the evaluated customers.

    .venv/bin/python -m benchmarks.independent_worlds [--kinds retail b2b subscription] [--customers 20000]
        [--seed 1] [--months 18] [--config FILE] [--horizon-days N] [--bootstrap 400]

Figures: benchmarks/README.md, "Independent worlds".
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from benchmarks.independent_world import KINDS, write_independent_world
from benchmarks.short_history import paired_bootstrap
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.io import load_prepared
from pipeline.train import estimate_model, training_data

METRICS = ["roc_auc", "pr_auc", "log_loss", "ece"]
BASELINES = {"baseline_bgnbd": "BG/NBD", "baseline_recency": "recency rule"}


def world_folder(kind: str, months: int, seed: int) -> Path:
    return PROJECT_ROOT / "data" / "scratch" / f"indep-{kind}-{months}m-s{seed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--horizon-days", type=int, help="churn.horizon_days (default: the config's)")
    parser.add_argument("--bootstrap", type=int, default=400, help="customer resamples")
    args = parser.parse_args()
    cfg = load_config(args.config, {"churn.horizon_days": args.horizon_days})
    for kind in args.kinds:
        folder = world_folder(kind, args.months, args.seed)
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        world = write_independent_world(folder, kind, args.customers, args.seed, args.months)
        generated = time.perf_counter()
        tables, _ = load_prepared(folder)
        data = training_data(tables, cfg)
        estimate = estimate_model(data, cfg)
        estimated = time.perf_counter()
        shipped = f"model_{estimate.calibration}"
        predictions = estimate.backtest.predictions
        rows = ", ".join(f"{name} {len(frame):,}" for name, frame in world.tables.items())
        print(f"\n== {kind}, {args.months} months, {args.customers:,} customers, seed {args.seed} ({rows} rows; "
              f"generated in {generated - began:.1f} s, estimated in {estimated - generated:.1f} s)")
        cutoffs = ", ".join(str(c.date()) for c in estimate.plan.evaluation_cutoffs)
        rates = predictions.groupby("eval_cutoff")["churned"].agg(["size", "mean"])
        print(f"estimate: {estimate.plan.kind} at {cutoffs}; shipped: {shipped}; {len(data.cutoffs)} snapshot "
              f"cutoffs, time of year {'in' if data.time_of_year else 'not in'} the inputs; evaluated customers "
              f"per cutoff {', '.join(f'{int(n):,}' for n in rates['size'])}; churn rate "
              f"{', '.join(f'{r:.3f}' for r in rates['mean'])}")
        means = estimate.backtest.metrics.groupby("candidate")[METRICS].mean()
        shown = means.loc[[shipped, *BASELINES]].rename(index=BASELINES)
        print(shown.round(4).to_string())
        per_cutoff = estimate.backtest.metrics.query("candidate == @shipped").set_index("eval_cutoff")[METRICS]
        print(f"{shipped} per evaluation cutoff:\n{per_cutoff.round(4).to_string()}")
        for baseline, name in BASELINES.items():
            for metric, (share, low, high) in paired_bootstrap(
                predictions, shipped, baseline, args.bootstrap, args.seed
            ).items():
                print(f"{shipped} - {name}, {metric}: ahead in {share:.0%} of {args.bootstrap} customer "
                      f"resamples, 5-95% [{low:+.4f}, {high:+.4f}]")


if __name__ == "__main__":
    main()
