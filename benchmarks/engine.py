"""The local engine against Dask, as users run them: `churn features` and `churn score` on the benchmark world
(the plain Parquet folder, one process) and on its bucketed copy (`churn partition`; a LocalCluster of
--workers worker processes), each a whole process timed with its peak memory (the Dask workers' memory is
theirs, not counted). The outputs must agree: equal feature tables, byte-identical worklists.

    .venv/bin/python -m benchmarks.engine [--scale 1] [--buckets 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.features import AS_OF, world
from benchmarks.measure import CHURN, machine, run
from benchmarks.train import STORE, store_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    plain = world(args.scale, "parquet")
    bucketed = plain.with_name(plain.name + f"-{args.buckets}-buckets")
    if not bucketed.exists():
        print(run("churn partition", [CHURN, "partition", "--data", str(plain), "--out", str(bucketed),
                                      "--buckets", str(args.buckets)]).line())
    if not (STORE / "mlflow.db").exists():
        raise SystemExit("no model: run `python -m benchmarks.train` first")
    print(machine())
    dask = ["--engine", "dask"]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        for label, data, extra in (("local", plain, []), ("dask", bucketed, dask)):
            features = run(f"features {label}", [CHURN, "features", "--data", str(data), "--as-of", AS_OF,
                                                  "--out", str(out / f"{label}.parquet"), *extra])
            score = run(f"score {label}", [CHURN, "score", "--data", str(data), "--as-of", AS_OF,
                                           "--out", str(out / label / "winback.csv"), *extra], env=store_env())
            print(f"{features.line()}; {score.line()}", flush=True)
        pd.testing.assert_frame_equal(pd.read_parquet(out / "local.parquet"), pd.read_parquet(out / "dask.parquet"))
        same = (out / "local" / "winback.csv").read_bytes() == (out / "dask" / "winback.csv").read_bytes()
        print(f"feature tables equal; worklists byte-identical: {same}")


if __name__ == "__main__":
    main()
