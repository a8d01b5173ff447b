"""`churn score` as a user runs it: one whole process from the files of the benchmark world to the written
worklist, lapsed list, report and scored table, timed (wall clock) with its peak memory.

The world is ``benchmarks.world`` at --scale (default 1: 1,000,000 customers, 10,000,000 transactions, 300,000
complaints, 20,000,000 visits; about 485,000 active at 2025-07-01). The model is the champion of the scratch store
``benchmarks.train`` writes (trained once on a smaller world of the same generator if the store has none).

    .venv/bin/python -m benchmarks.score [--scale 1] [--train-scale 0.05] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile

from benchmarks.features import AS_OF, world
from benchmarks.measure import CHURN, machine, run
from benchmarks.train import STORE, store_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--train-scale", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = world(args.scale, "parquet")
    if not (STORE / "mlflow.db").exists():
        trained = run("churn train", [CHURN, "train", "--data", str(world(args.train_scale, "parquet"))],
                      env=store_env())
        print(f"model: {trained.line()}", flush=True)
    print(machine())
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.runs):
            measured = run("churn score", [CHURN, "score", "--data", str(data), "--as-of", AS_OF,
                                           "--out", f"{scratch}/winback.csv"], env=store_env())
            print(f"run {k + 1}: {measured.line()}", flush=True)
    print("\n".join(line for line in measured.output.splitlines() if line.startswith("Scored")))


if __name__ == "__main__":
    main()
