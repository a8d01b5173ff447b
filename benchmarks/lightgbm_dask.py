"""Is LightGBM's own Dask training (lightgbm.dask, from PyPI alone) usable for `churn train`? The measurements
behind the answer in docs/scale-out.md.

On a LocalCluster of --workers processes, fits ``DaskLGBMClassifier`` --repeats times with the config's LightGBM
settings (``deterministic: true``, a fixed seed, a fixed number of trees) on the same persisted data, and reports:
how many different models the identical fits gave and how far their probabilities are apart; how far they are
from one fit on one machine; and what early stopping on held-out rows does (each worker evaluates its own part
of the validation set). The data are synthetic: a few informative columns plus noise.

    .venv/bin/python -m benchmarks.lightgbm_dask [--rows 20000] [--repeats 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np

from models.estimator import lightgbm_params
from pipeline.config import load_config


def data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 12))
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
    return x, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trees", type=int, default=50)
    args = parser.parse_args()

    import dask.array as da
    import lightgbm as lgb
    from distributed import Client, LocalCluster, wait
    from lightgbm.dask import DaskLGBMClassifier

    settings = load_config().model.lightgbm
    params = {k: v for k, v in lightgbm_params(settings, seed=42).items() if k != "num_threads"}  # Dask sets it
    params.update(n_estimators=args.trees)
    x, y = data(args.rows)
    chunk = args.rows // (2 * args.workers)
    warnings.simplefilter("ignore")  # "Parameter num_threads will be ignored" and the like, once per fit
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster):
        dx, dy = da.from_array(x, chunks=(chunk, x.shape[1])).persist(), da.from_array(y, chunks=chunk).persist()
        wait([dx, dy])  # same partitions on the same workers for every fit
        probabilities, seconds = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model = DaskLGBMClassifier(**params).fit(dx, dy)
            seconds.append(time.perf_counter() - start)
            probabilities.append(model.to_local().predict_proba(x)[:, 1])
        distinct = len({p.tobytes() for p in probabilities})
        spread = max(float(np.abs(p - probabilities[0]).max()) for p in probabilities)
        print(f"{args.repeats} identical fits on {args.workers} workers (deterministic=true, seed 42): "
              f"{distinct} different model(s); probabilities up to {spread:.3f} apart; "
              f"{np.mean(seconds):.1f}s per fit")

        one_machine = lgb.LGBMClassifier(**params).fit(x, y).predict_proba(x)[:, 1]
        print(f"one machine vs the Dask fits: probabilities up to "
              f"{max(float(np.abs(p - one_machine).max()) for p in probabilities):.3f} apart")

        vx, vy = data(args.rows // 4, seed=1)
        vx = da.from_array(vx, chunks=(chunk // 4, vx.shape[1])).persist()
        vy = da.from_array(vy, chunks=chunk // 4).persist()
        stopping = lgb.early_stopping(settings.early_stopping_rounds, verbose=True)
        try:
            fitted = DaskLGBMClassifier(**{**params, "n_estimators": 2000}).fit(
                dx, dy, eval_set=[(vx, vy)], callbacks=[stopping]
            )
            print(f"early stopping on held-out rows: best iteration {fitted.best_iteration_}")
        except Exception as error:  # noqa: BLE001 - what the fit raises is the finding
            print(f"early stopping on held-out rows: the fit failed, {type(error).__name__}: {error} (each worker "
                  "judges only the validation rows it holds; one stopped while the others went on)")
    print(f"lightgbm {lgb.__version__}")


if __name__ == "__main__":
    main()
