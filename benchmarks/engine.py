"""Local engine vs Dask (2 workers): `churn features` and `churn score` on about 1,000,000 customers.

Generates the numpy world of ``benchmarks.features`` (--scale 1: 1,000,000 customers, 10,000,000 transactions,
300,000 complaints, 5,000,000 visits; about 485,000 active at as_of), writes it as a plain Parquet directory and
as a bucketed one (``partition_data_dir``, what `churn partition` runs), then runs the two steps unchanged,
``pipeline.featurize.write_features`` and ``pipeline.score.write_winback``, three ways:

- local, plain: the plain directory in this machine's memory as one bucket (the default of `churn ... `);
- local, bucketed: the bucketed directory, bucket after bucket in one process;
- dask, bucketed: the bucketed directory on a LocalCluster of --workers worker processes, one thread each.

Each run is a fresh process (spawned), so its peak resident memory (VmHWM, Linux) is its own; worker peaks are
read from the workers, which are restarted before each run and warmed (the pipeline imported, as on a
long-running cluster); the cluster's start-up is timed apart. "before" is the resident memory a run starts
from (imported libraries). Scoring uses
the model of ``benchmarks.train --save`` (MLflow is left out: the model is handed to the step as the registry
would, and the scoring run is not logged). The outputs of the three ways are compared: equal feature tables,
byte-identical win-back lists.

    .venv/bin/python -m benchmarks.train --save data/scratch/benchmark_model.pkl   # once: the model
    .venv/bin/python -m benchmarks.engine [--scale 1.0] [--buckets 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import multiprocessing
import os
import pickle
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

# Kept light: the Dask workers import this module for the two memory probes below.
DEFAULT_MODEL = Path("data/scratch/benchmark_model.pkl")
WAYS = (("local", "plain"), ("local", "bucketed"), ("dask", "bucketed"))


def reset_peak() -> None:
    """Start this process's peak resident memory (VmHWM) afresh from what it holds now (Linux)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    with open("/proc/self/status") as handle:
        return int(next(line for line in handle if line.startswith(field)).split()[1]) / 1024


def warm_worker() -> float:
    """Import what the bucket functions need, as on a long-running cluster; returns resident memory after it."""
    for module in ("pipeline.featurize", "pipeline.scoring"):
        importlib.import_module(module)
    reset_peak()
    return memory_mb("VmRSS")


def _bundle(model_path: Path, features: Path):
    """The benchmark model as scoring loads a registered one: a training reference for drift, a target."""
    from models.drift import reference_distributions
    from pipeline.io import read_frame
    from pipeline.tracking import ModelBundle

    saved = pickle.loads(model_path.read_bytes())
    sample = read_frame(features).sample(n=50_000, random_state=0, replace=True)
    reference = reference_distributions(sample.drop(columns="customer_id"))
    metadata = {"training_distributions": reference,
                "emp_targeting_fraction": 0.2, "latest_backtest_metrics": {}}
    return ModelBundle(saved["model"], metadata, version="benchmark")


def run_step(step: str, engine: str, scheduler: str | None, data: str, out: str, model: str, features: str):
    """One step in this (fresh) process: its wall time, peak resident memory and rows written."""
    import pipeline.score
    from benchmarks.features_inner_old import AS_OF
    from pipeline.config import load_config
    from pipeline.featurize import write_features

    cfg = load_config(overrides={"engine.kind": engine, "engine.scheduler": scheduler})
    if step == "score":
        bundle = _bundle(Path(model), Path(features))
        pipeline.score.load_bundle = lambda cfg, uri: bundle  # instead of the MLflow registry
        pipeline.score.log_scoring_run = lambda *args, **kwargs: None
    gc.collect()
    reset_peak()
    before = memory_mb("VmRSS")
    start = time.perf_counter()
    if step == "features":
        rows = write_features(data, AS_OF.date(), Path(out), cfg)
    else:
        rows = pipeline.score.write_winback(data, Path(out), AS_OF.date(), None, cfg).n_customers
    return time.perf_counter() - start, before, memory_mb("VmHWM"), rows


def in_fresh_process(*args):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_step, *args).result()


def prepare(scale: float, buckets: int, folder: Path) -> tuple[Path, Path]:
    """The world as a plain Parquet directory and as a bucketed one (timed: what `churn partition` costs)."""
    from benchmarks.features_inner_old import generate
    from benchmarks.train import WORLD_SIZES
    from pipeline.io import write_tables
    from pipeline.partition import partition_data_dir

    start = time.perf_counter()
    tables = generate(*[int(n * scale) for n in WORLD_SIZES])
    print(f"generated the world (scale {scale}): {len(tables.customers):,} customers, "
          f"{len(tables.transactions):,} transactions in {time.perf_counter() - start:.1f}s")
    plain, bucketed = folder / "plain", folder / "bucketed"
    shutil.rmtree(folder, ignore_errors=True)
    write_tables(dict(tables.items()), plain, "parquet")
    del tables
    start = time.perf_counter()
    partition_data_dir(plain, bucketed, buckets)
    print(f"partition into {buckets} buckets (read, check, write): {time.perf_counter() - start:.1f}s")
    return plain, bucketed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--work-dir", type=Path, default=Path("data/scratch/engine-benchmark"))
    args = parser.parse_args()
    if not args.model.exists():
        parser.error(f"{args.model} does not exist: run `python -m benchmarks.train --save {args.model}` first")
    from distributed import Client, LocalCluster

    from pipeline.io import read_frame

    plain, bucketed = prepare(args.scale, args.buckets, args.work_dir)
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    print(f"Dask LocalCluster of {args.workers} workers x 1 thread started in {time.perf_counter() - start:.1f}s")

    rows, outputs = [], {}
    for step in ("features", "score"):
        for engine, layout in WAYS:
            data = plain if layout == "plain" else bucketed
            name = "features.parquet" if step == "features" else "winback.csv"
            out = args.work_dir / f"{step}-{engine}-{layout}" / name
            scheduler = cluster.scheduler_address if engine == "dask" else None
            client.restart()  # workers hold nothing from the run before: their peaks are this run's
            warm = sorted(client.run(warm_worker).values())
            reference = args.work_dir / "features-local-plain" / "features.parquet"  # drift reference for scoring
            seconds, before, driver, n_rows = in_fresh_process(
                step, engine, scheduler, str(data), str(out), str(args.model), str(reference)
            )
            workers = sorted(client.run(memory_mb, "VmHWM").values()) if engine == "dask" else []
            outputs[(step, engine, layout)] = out
            rows.append((step, engine, layout, n_rows, seconds, before, driver, workers, warm))
            shown = ", ".join(f"{w:,.0f}" for w in workers) or "-"
            print(f"{step:<8} {engine:<5} {layout:<8} {n_rows:>9,} rows {seconds:7.1f}s  driver peak "
                  f"{driver:7,.0f} MB (from {before:,.0f})  worker peaks {shown} MB")
    client.close()
    cluster.close()

    reference = read_frame(outputs[("features", "local", "plain")])
    for engine, layout in WAYS[1:]:
        same = read_frame(outputs[("features", engine, layout)]).equals(reference)
        listed = outputs[("score", engine, layout)].read_bytes()
        identical = listed == outputs[("score", "local", "plain")].read_bytes()
        print(f"{engine}/{layout} vs local/plain: feature tables equal {same}, "
              f"win-back lists byte-identical {identical}")
    print("\n| step | engine | data | rows | wall time | driver peak (before) | worker peaks (before) |")
    print("|---|---|---|---|---|---|---|")
    for step, engine, layout, n_rows, seconds, before, driver, workers, warm in rows:
        shown = " + ".join(f"{w:,.0f}" for w in workers) if workers else "-"
        if workers:
            shown += f" MB ({' + '.join(f'{w:,.0f}' for w in warm)})"
        print(f"| {step} | {engine} | {layout} | {n_rows:,} | {seconds:.1f} s | {driver:,.0f} MB ({before:,.0f}) "
              f"| {shown} |")
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; scale {args.scale}, "
          f"{args.buckets} buckets; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
