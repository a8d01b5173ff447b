"""Does `churn evaluate` recover the truth? Interval coverage over seeds of simulated campaigns.

Usage: python -m benchmarks.campaign_coverage [--seeds 20] [--first-seed 1] [--customers 50000] [--config FILE]

For each seed: a world with its retention campaign, written as `churn generate --campaigns` writes it
(pipeline.generate.write_world) to data/scratch/coverage/<seed>/, and evaluated as `churn evaluate` does
(pipeline.evaluate.write_evaluation; MLflow into data/scratch/coverage/mlflow.db). The truth is the campaign's
pooled rows of _truth/campaign_effects.csv. Reports, per seed and over the seeds: whether the overall 95% interval
(plain and adjusted) covers the true overall uplift, the share of per-action intervals (actions with both arms)
covering their true uplift, the widths of the plain and adjusted overall intervals, and whether the interval of the
effect on the contacted covers the true one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from models.uplift import MIN_CELL
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.evaluate import write_evaluation
from pipeline.generate import TRUTH_FOLDER, campaign_simulation, write_world

SCRATCH = PROJECT_ROOT / "data" / "scratch" / "coverage"


def covers(low: float, high: float, value: float) -> bool:
    return bool(low <= value <= high)


def one_seed(seed: int, customers: int, cfg) -> tuple[dict, pd.DataFrame]:
    """The overall readout against the truth for one seed, and the per-action cells with their truth."""
    folder = SCRATCH / str(seed)
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    write_world(folder / "data", customers, seed, campaign=campaign_simulation(cfg), history=str(folder / "history"))
    result = write_evaluation(folder / "data", folder / "history", folder / "out" / "evaluation.csv", cfg)
    seconds = time.perf_counter() - started
    truth = pd.read_csv(folder / "data" / TRUTH_FOLDER / "campaign_effects.csv")
    truth = truth[truth["as_of"] == "all"].set_index(["group", "level"])
    cells = result.cells.set_index(["group", "level"])
    overall, true = cells.loc[("overall", "all")], truth.loc[("overall", "all")]
    actions = cells.loc["action"].join(truth.loc["action"][["customers", "true_uplift"]], how="inner")
    actions = actions[(actions["treated_n"] > 0) & (actions["control_n"] > 0)].assign(
        covered=lambda f: (f["uplift_ci_low"] <= f["true_uplift"]) & (f["true_uplift"] <= f["uplift_ci_high"]),
        large=lambda f: (f[["treated_n", "control_n"]].min(axis=1) >= MIN_CELL), seed=seed)
    row = {
        "seed": seed, "customers": int(overall["treated_n"] + overall["control_n"]),
        "control": int(overall["control_n"]), "true_uplift": true["true_uplift"], "uplift": overall["uplift"],
        "covered": covers(overall["uplift_ci_low"], overall["uplift_ci_high"], true["true_uplift"]),
        "width": overall["uplift_ci_high"] - overall["uplift_ci_low"],
        "adjusted": overall["adjusted_uplift"],
        "adjusted_covered": covers(overall["adjusted_ci_low"], overall["adjusted_ci_high"], true["true_uplift"]),
        "adjusted_width": overall["adjusted_ci_high"] - overall["adjusted_ci_low"],
        "contacted_covered": covers(overall["effect_on_contacted_ci_low"], overall["effect_on_contacted_ci_high"],
                                    true["true_effect_on_contacted"]),
        "actions": len(actions), "actions_covered": int(actions["covered"].sum()), "seconds": round(seconds, 1),
    }
    return row, actions.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{SCRATCH / 'mlflow.db'}"
    cfg = load_config(args.config)
    rows, cells = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        row, actions = one_seed(seed, args.customers, cfg)
        rows.append(row)
        cells.append(actions)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    seeds, actions = pd.DataFrame(rows), pd.concat(cells, ignore_index=True)
    large = actions[actions["large"]]
    print(f"\n{len(seeds)} seeds of {args.customers:,} customers")
    print(f"overall interval covers the truth: {seeds['covered'].sum()}/{len(seeds)} plain, "
          f"{seeds['adjusted_covered'].sum()}/{len(seeds)} adjusted; effect on the contacted "
          f"{seeds['contacted_covered'].sum()}/{len(seeds)}")
    print(f"per-action intervals covering the truth: {actions['covered'].mean():.1%} of {len(actions)} "
          f"({large['covered'].mean():.1%} of the {len(large)} with {MIN_CELL}+ customers in each arm)")
    print(f"overall interval width (points): plain {100 * seeds['width'].mean():.2f}, adjusted "
          f"{100 * seeds['adjusted_width'].mean():.2f} (adjusted narrower in "
          f"{(seeds['adjusted_width'] < seeds['width']).sum()}/{len(seeds)} seeds)")
    print(f"true overall uplift: mean {100 * seeds['true_uplift'].mean():.2f} points; customers per campaign "
          f"{seeds['customers'].mean():,.0f} ({seeds['control'].mean():,.0f} in control); "
          f"{seeds['seconds'].mean():.0f} s per seed")
    seeds.to_csv(SCRATCH / "seeds.csv", index=False)
    actions.to_csv(SCRATCH / "actions.csv", index=False)


if __name__ == "__main__":
    main()
