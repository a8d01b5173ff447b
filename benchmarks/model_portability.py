"""Does a registered churn model load and predict where only MLflow and its logged requirements are installed?

1. Runs `churn score` on --data with the model (as a user would) and, in this process, the same scoring
   functions on the same data with the same model, which give each customer's features (the model's inputs)
   and unrounded churn probability; checks that these round to the written list's churn_probability.
2. Builds a fresh virtual environment (`python -m venv`) and pip-installs the model's logged requirements.txt
   into it: not this repository, not churn-pipeline.
3. In that environment, in a subprocess started outside the repository with `python -I` (no PYTHONPATH, no
   script folder on the path), checks that neither `pipeline` nor `models` can be imported, then loads the
   model with `mlflow.pyfunc.load_model` and predicts the feature rows.
4. Compares its churn probabilities with `churn score`'s: the check passes when the largest absolute
   difference is at most 1e-9.

    .venv/bin/python -m benchmarks.model_portability [--data data/sample] [--model models:/churn-model@champion]

The MLflow store is the configuration's (MLFLOW_TRACKING_URI wins). tests/pipeline/test_model_portability.py
runs this on the test suite's model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PROJECT_ROOT, load_config
from pipeline.engine import LocalEngine, load_buckets
from pipeline.scoring import score_buckets
from pipeline.tracking import connect, load_bundle, tracking_uri

TOLERANCE = 1e-9
CLEAN_PREDICT = """
import importlib.util, json, sys
import mlflow, numpy as np, pandas as pd

uri, rows_path, out_path = sys.argv[1:4]
before = {name: importlib.util.find_spec(name) is not None for name in ("pipeline", "models", "features")}
model = mlflow.pyfunc.load_model(uri)
rows = pd.read_parquet(rows_path)
churn = np.asarray(model.predict(rows))[:, 1]
pd.DataFrame({"churn_probability": churn}).to_parquet(out_path)
import models.estimator
print(json.dumps({"importable_before_loading": before, "models_from": models.estimator.__file__,
                  "mlflow": mlflow.__version__, "python": sys.version.split()[0]}))
"""


def churn_score_list(data: str, model_uri: str, config: str | None, folder: Path) -> pd.DataFrame:
    """`churn score` as a user runs it: the written list's customer ids and churn probabilities."""
    out = folder / "winback.csv"
    command = [sys.executable, "-c", "from pipeline.cli import app; app(prog_name='churn')",
               "score", "--data", data, "--out", str(out), "--model", model_uri]
    if config:
        command += ["--config", config]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)
    listed = pd.read_csv(out, dtype={"customer_id": str}, keep_default_na=False)
    return listed.set_index("customer_id")["churn_probability"]


def scored_rows(data: str, model_uri: str, cfg) -> tuple[pd.DataFrame, pd.Series]:
    """The features and unrounded churn probabilities that `churn score` computes (local engine, default
    as-of date), by customer."""
    bundle = load_bundle(cfg, model_uri)
    engine = LocalEngine()
    buckets = load_buckets(engine, data, cfg.engine, cfg.input.limits())
    scores = score_buckets(engine, buckets, buckets.end, bundle.model, bundle.metadata, cfg)
    ids = pd.concat([part.customers["customer_id"] for part in scores.handles], ignore_index=True)
    features = pd.concat([part.features for part in scores.handles], ignore_index=True)
    churn = pd.concat([part.customers["churn_probability"] for part in scores.handles], ignore_index=True)
    return features.set_axis(ids.array), pd.Series(churn.to_numpy(), index=ids.array, name="churn_probability")


def clean_environment(folder: Path, requirements: str) -> tuple[Path, float]:
    """A new virtual environment with only ``requirements`` installed; its python and the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run(  # --no-compile: byte-compiling every installed module would double the install time
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "-r", requirements],
        check=True, capture_output=True, text=True,
    )
    return python, time.perf_counter() - start


def check(data: str, model_uri: str | None, config: str | None, venv: Path | None = None) -> dict:
    """Run the whole check; returns its figures (``passed``: the largest difference is within TOLERANCE)."""
    cfg = load_config(config)
    mlflow, _client = connect(cfg)
    uri = model_uri or f"models:/{cfg.tracking.registered_model}@{cfg.tracking.alias}"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        listed = churn_score_list(data, uri, config, scratch)
        features, churn = scored_rows(data, uri, cfg)
        if not churn.round(4).reindex(listed.index).equals(listed.astype(float)):
            raise AssertionError("the in-process scores do not round to `churn score`'s list")
        rows = scratch / "rows.parquet"
        features.reset_index(drop=True).to_parquet(rows)
        requirements = mlflow.pyfunc.get_model_dependencies(uri)
        python, install_seconds = clean_environment(venv or scratch / "venv", requirements)
        started = time.perf_counter()
        completed = subprocess.run(
            [str(python), "-I", "-c", CLEAN_PREDICT, uri, str(rows), str(scratch / "clean.parquet")],
            capture_output=True, text=True, cwd=scratch, check=False,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(scratch)),
                 "PYTHONDONTWRITEBYTECODE": "1",  # leaves the model's folder in the store as it was
                 "MLFLOW_TRACKING_URI": tracking_uri(cfg), "MLFLOW_DISABLE_TELEMETRY": "true"},
        )
        if completed.returncode != 0:
            raise AssertionError(f"the clean environment could not load and predict:\n{completed.stderr[-3000:]}")
        clean = pd.read_parquet(scratch / "clean.parquet")["churn_probability"].to_numpy()
        difference = np.abs(clean - churn.to_numpy())
        return {
            "model": uri,
            "rows": len(features),
            "list_rows": len(listed),
            "requirements": Path(requirements).read_text().split(),
            "install_seconds": round(install_seconds, 1),
            "load_and_predict_seconds": round(time.perf_counter() - started, 1),
            **json.loads(completed.stdout.strip().splitlines()[-1]),
            "max_abs_difference": float(difference.max()),
            "max_abs_difference_to_the_list": float(np.abs(clean - listed.reindex(churn.index).to_numpy()).max()),
            "passed": bool(difference.max() <= TOLERANCE),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(PROJECT_ROOT / "data" / "sample"))
    parser.add_argument("--model", default=None, help="MLflow model URI (default: the registered champion)")
    parser.add_argument("--config", default=None)
    parser.add_argument("--venv", type=Path, default=None, help="where to build the clean environment (default: temp)")
    args = parser.parse_args()
    result = check(args.data, args.model, args.config, args.venv)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
