"""Out of time, as a user meets it: train on the data up to a date T, score at T, judge against what came after.

The rolling-origin backtest of `churn train` evaluates at cutoffs that see as little history as its training
cutoffs; a user trains on all the history there is and scores the day after it, with more history than any
training cutoff saw. This benchmark does what the user does. For each cut date T of a world whose future is known:

1. the world's events before T are written as a data directory (``<scratch>/cut-<T>/``; events at or after T
   dropped, and what was only known later blanked: complaints resolved at or after T, managers departed at or
   after T);
2. `churn train` on it and `churn score --as-of T` run as subprocesses, as a user runs them, with
   MLFLOW_TRACKING_URI on a sqlite file in the scratch folder (and ``--config`` when given);
3. the scored table (``<out>_scored/``: ``churn_probability`` and BG/NBD's ``bgnbd_p_no_purchase`` per customer
   active at T) is judged against the truth from the FULL data: churned = no purchase in [T, T + horizon_days).

Printed per cut: active customers and churn rate, ROC-AUC, PR-AUC, log loss and ECE of the model and of BG/NBD,
and a paired bootstrap over customers of the model's ROC-AUC (and PR-AUC) minus BG/NBD's (5% and 95% quantiles).
Cut dates are given as months after the first transaction (``--cut-months 12 15``), so the horizon after T must
lie inside the data.

    .venv/bin/python -m benchmarks.out_of_time --data DIR --scratch data/scratch/oot-run --cut-months 12 15
    # DIR from: churn generate --out DIR --customers 20000 --seed 17 --history-days 548 --transactions-only
    #       or: python -m benchmarks.independent_world --out DIR --kind retail --customers 20000 --seed 1

Figures: benchmarks/README.md, "Out of time".
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.metrics import expected_calibration_error, log_loss, pr_auc, roc_auc
from pipeline.config import load_config

# The event time of each table that has one; rows at or after the cut are the future.
EVENT_COLUMN = {"transactions": "timestamp", "complaints": "opened_at", "visits": "timestamp",
                "contacts": "contacted_at"}
# Columns known only once an event happened: blanked when it happened at or after the cut.
LATER_COLUMNS = {"complaints": ("resolved_at", ["resolved_at", "satisfaction"]),
                 "account_managers": ("departed_at", ["departed_at"])}
SCORES = {"model": "churn_probability", "bgnbd": "bgnbd_p_no_purchase"}


def _read(path: Path) -> pd.DataFrame:
    """A table as text (CSV) or as stored (Parquet), so that what is kept is written back unchanged."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_parquet(path)


def _times(column: pd.Series) -> pd.Series:
    """Event times as tz-naive UTC, the contract's reading (offsets converted, none = UTC); empty = NaT."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz is not None else column
    text = column.astype("string").replace("", pd.NA)
    return pd.to_datetime(text, utc=True, format="ISO8601").dt.tz_localize(None)


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def table_files(data: Path) -> dict[str, Path]:
    """The data directory's tables by name (``_truth`` and other folders left out)."""
    return {path.name.split(".")[0]: path for path in sorted(data.iterdir())
            if path.is_file() and path.suffix in (".csv", ".parquet")}


def cut_world(data: Path, cut: pd.Timestamp, out: Path) -> None:
    """Write the tables of ``data`` as they stood just before ``cut`` into ``out``."""
    out.mkdir(parents=True)
    for name, path in table_files(data).items():
        frame = _read(path)
        if name in EVENT_COLUMN:
            frame = frame[(_times(frame[EVENT_COLUMN[name]]) < cut).to_numpy()]
        if name in LATER_COLUMNS:
            when, blanked = LATER_COLUMNS[name]
            later = (_times(frame[when]) >= cut).to_numpy()
            frame = frame.copy()
            for column in blanked:
                frame.loc[later, column] = "" if frame[column].dtype == object else None
        _write(frame.reset_index(drop=True), out / path.name)


def purchases(data: Path) -> pd.DataFrame:
    """customer_id (text) and timestamp of every transaction of the full data."""
    frame = _read(table_files(data)["transactions"])
    return pd.DataFrame({"customer_id": frame["customer_id"].astype(str), "timestamp": _times(frame["timestamp"])})


def churned(events: pd.DataFrame, customers: pd.Series, cut: pd.Timestamp, horizon_days: int) -> np.ndarray:
    """1 where the customer made no purchase in [cut, cut + horizon_days), from the full data."""
    inside = events["timestamp"].between(cut, cut + pd.Timedelta(days=horizon_days), inclusive="left")
    bought = set(events.loc[inside, "customer_id"])
    return (~customers.isin(bought)).to_numpy(dtype=float)


def _run(command: list[str], env: dict[str, str], log: Path) -> float:
    began = time.perf_counter()
    with log.open("w") as sink:
        done = subprocess.run(command, env=env, stdout=sink, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - began


def train_and_score(cut_data: Path, cut: pd.Timestamp, scratch: Path, config: Path | None) -> pd.DataFrame:
    """Run `churn train` and `churn score --as-of cut` as a user does; the scored table."""
    churn = str(Path(sys.executable).with_name("churn"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{(scratch / 'mlflow.db').resolve()}"}
    options = ["--config", str(config)] if config else []
    trained = _run([churn, "train", "--data", str(cut_data), *options], env, scratch / "train.log")
    out = scratch / "out" / "list.csv"
    scored = _run([churn, "score", "--data", str(cut_data), "--out", str(out), "--as-of", str(cut.date()),
                   *options], env, scratch / "score.log")
    print(f"  train {trained:.0f} s, score {scored:.0f} s (logs in {scratch})", flush=True)
    table = pd.read_parquet(out.with_name("list_scored"), columns=["customer_id", *SCORES.values()])
    return table.assign(customer_id=table["customer_id"].astype(str))


def judge(y: np.ndarray, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """ROC-AUC, PR-AUC, log loss and ECE of each score."""
    return pd.DataFrame({
        name: {"roc_auc": roc_auc(y, p), "pr_auc": pr_auc(y, p), "log_loss": log_loss(y, p),
               "ece": expected_calibration_error(y, p)}
        for name, p in scores.items()
    }).T


def paired_bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray, draws: int, seed: int) -> dict:
    """5% and 95% quantiles of ROC-AUC(a) - ROC-AUC(b) and of the PR-AUC difference over customer resamples."""
    rng = np.random.default_rng(seed)
    roc, pr = [], []
    for _ in range(draws):
        take = rng.integers(0, len(y), len(y))
        roc.append(roc_auc_score(y[take], a[take]) - roc_auc_score(y[take], b[take]))
        pr.append(average_precision_score(y[take], a[take]) - average_precision_score(y[take], b[take]))
    return {name: (float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95))) for name, d in
            (("roc_auc", roc), ("pr_auc", pr))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a world with its future (the full data)")
    parser.add_argument("--scratch", type=Path, required=True, help="an empty or absent folder for the runs")
    parser.add_argument("--cut-months", type=int, nargs="+", default=[12, 15],
                        help="cut dates as months after the first transaction's day")
    parser.add_argument("--config", type=Path, help="passed to churn train and churn score")
    parser.add_argument("--bootstrap", type=int, default=400, help="customer resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples")
    args = parser.parse_args()
    if args.scratch.exists() and any(args.scratch.iterdir()):
        sys.exit(f"{args.scratch} is not empty")
    horizon = load_config(args.config).churn.horizon_days
    events = purchases(args.data)
    first_day = events["timestamp"].min().normalize()
    for months in args.cut_months:
        cut = first_day + pd.DateOffset(months=months)
        if cut + pd.Timedelta(days=horizon) > events["timestamp"].max():
            sys.exit(f"cut {cut.date()} + {horizon} days lies beyond the data (last event "
                     f"{events['timestamp'].max()}): the truth is not observed")
        scratch = args.scratch / f"cut-{cut.date()}"
        print(f"{args.data}: cut at {cut.date()} ({months} months of history)", flush=True)
        cut_world(args.data, cut, scratch / "data")
        scored = train_and_score(scratch / "data", cut, scratch, args.config)
        y = churned(events, scored["customer_id"], cut, horizon)
        scores = {name: scored[column].to_numpy(dtype=float) for name, column in SCORES.items()}
        print(f"  {len(y):,} active customers, churn rate {y.mean():.4f}")
        print(judge(y, scores).round(4).to_string())
        for metric, (low, high) in paired_bootstrap(y, scores["model"], scores["bgnbd"], args.bootstrap,
                                                    args.seed).items():
            print(f"  model - BG/NBD, {metric} 5-95% over {args.bootstrap} customer resamples: "
                  f"[{low:+.4f}, {high:+.4f}]")
        shutil.rmtree(scratch / "data")  # a copy of the world: the logs and the scored table stay


if __name__ == "__main__":
    main()
