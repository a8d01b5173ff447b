"""`churn train` as a user runs it: one whole process from the files of the benchmark world to the registered
model, timed (wall clock) with its peak memory.

The world is ``benchmarks.world`` at --scale (default 0.05: 50,000 customers, 500,000 transactions, 15,000
complaints, 1,000,000 visits); the model goes to a scratch MLflow store under data/scratch/ (never data/mlflow),
where `benchmarks.score` finds it.

    .venv/bin/python -m benchmarks.train [--scale 0.05] [--runs 1]
"""

from __future__ import annotations

import argparse

from benchmarks.features import world
from benchmarks.measure import CHURN, ROOT, machine, run

STORE = ROOT / "data" / "scratch" / "bench-mlflow"


def store_env() -> dict[str, str]:
    STORE.mkdir(parents=True, exist_ok=True)
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{STORE / 'mlflow.db'}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    data = world(args.scale, "parquet")
    print(machine())
    for k in range(args.runs):
        measured = run("churn train", [CHURN, "train", "--data", str(data)], env=store_env())
        print(f"run {k + 1}: {measured.line()}", flush=True)
    print(measured.output.strip().splitlines()[-4])


if __name__ == "__main__":
    main()
