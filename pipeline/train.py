"""Step `churn train`: snapshots -> rolling-origin backtest -> final model -> MLflow run -> champion alias."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features import Tables
from models.backtest import (
    LABEL,
    BacktestResult,
    CutoffPlan,
    backtest_plans,
    choose_calibration,
    final_plan,
    fit_plan,
    run_backtest,
)
from models.backtest_summary import backtest_paragraph, mean_by_candidate
from models.drift import reference_distributions
from models.estimator import ChurnClassifier
from models.metrics import EmpParams
from models.modelframe import fixed_categories, model_feature_columns, model_frames
from models.snapshots import snapshot_cutoffs
from models.value import customer_value
from pipeline import plots
from pipeline.bucket_store import is_url
from pipeline.config import Config
from pipeline.engine import (
    Buckets,
    Engine,
    LocalEngine,
    global_stats,
    load_buckets,
    open_engine,
    split_buckets,
)
from pipeline.errors import ChurnError, Interrupted
from pipeline.io import data_fingerprint
from pipeline.outputs import signals_held
from pipeline.tracking import ModelBundle, RunOutcome, RunRecord, log_training_run

COMPARISON_METRIC = "latest_cutoff_roc_auc"  # the version tag the champion decision compares
# Metric name prefixes: sorted by name (and in the UI's chart sections, by prefix) the shipped model comes first.
SHIPPED, SHIPPED_LATEST, PER_CUTOFF, OTHERS = "model/", "model_at_latest_cutoff/", "per_cutoff/", "vs/"


@dataclass(frozen=True)
class TrainingResult:
    backtest: BacktestResult
    calibration: str
    outcome: RunOutcome
    n_snapshot_rows: int


@dataclass(frozen=True)
class TrainingData:
    """Snapshots (features, BG/NBD outputs, labels) at every cutoff, and where the data ends."""

    snapshots: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    end: pd.Timestamp
    columns: list[str]


def training_data(tables: Tables, cfg: Config, progress: Callable[[str], None] = lambda m: None) -> TrainingData:
    """:func:`snapshot_data` of ``tables`` in this process, as one bucket."""
    engine = LocalEngine()
    return snapshot_data(engine, split_buckets(engine, tables, 1), cfg, progress)


def snapshot_data(
    engine: Engine, buckets: Buckets, cfg: Config, progress: Callable[[str], None] = lambda m: None
) -> TrainingData:
    """Snapshots at the configured cutoffs, the latest with its label window ending by the data's last day.

    Built where the buckets are, with the statistics of every customer, for the customers of the training
    sample (``engine.snapshot_customer_share``); rows sorted by cutoff, then customer, whatever the bucketing.
    """
    cutoffs = snapshot_cutoffs(
        buckets.end - pd.Timedelta(days=1), cfg.churn.horizon_days, cfg.training.cutoff_step_days,
        cfg.training.n_cutoffs,
    )
    progress(f"features at {len(cutoffs)} cutoffs in {len(buckets)} bucket(s)")
    stats = global_stats(engine, buckets, cutoffs, cfg.features)
    parts = engine.gather(
        engine.map(
            model_frames, buckets.handles, cutoffs=cutoffs, settings=cfg.features, churn=cfg.churn, stats=stats,
            customer_share=cfg.engine.snapshot_customer_share,
        )
    )
    snapshots = pd.concat(parts, ignore_index=True)
    if len(parts) > 1:
        snapshots = snapshots.sort_values(["as_of", "customer_id"], kind="stable", ignore_index=True)
    return TrainingData(snapshots, cutoffs, buckets.end, model_feature_columns(snapshots))


def _fit_options(cfg: Config) -> dict:
    return {
        "seed": cfg.training.seed,
        "early_stopping_share": cfg.training.early_stopping_customer_share,
        "fixed_categories": fixed_categories(cfg.features),
    }


def backtest_model(
    data: TrainingData, cfg: Config, progress: Callable[[str], None] = lambda m: None
) -> tuple[BacktestResult, str]:
    """The rolling-origin backtest of the model and the baselines, and the calibration method it picks."""

    def value_of(rows: pd.DataFrame):
        return customer_value(
            rows, window_days=cfg.scoring.value_window_days, horizon_days=cfg.churn.horizon_days,
            margin_rate=cfg.scoring.margin_rate,
        )

    emp = cfg.evaluation.emp
    metric_options = {
        "k": cfg.evaluation.top_fraction,
        "emp_params": EmpParams(emp.alpha, emp.beta, emp.incentive_cost, emp.contact_cost, emp.clv),
    }
    with _plan_errors_explained(data):
        plans = backtest_plans(data.cutoffs, cfg.training.eval_cutoffs, cfg.churn.horizon_days)
    backtest = run_backtest(
        data.snapshots, plans, data.columns, cfg.model.lightgbm, value_of,
        metric_options=metric_options, progress=progress, **_fit_options(cfg),
    )
    return backtest, choose_calibration(backtest.metrics, cfg.training.calibration)


@contextmanager
def _plan_errors_explained(data: TrainingData):
    """A cutoff grid too short for a train/calibrate/evaluate split becomes a ChurnError the CLI can show."""
    try:
        yield
    except ValueError as error:
        span = f"{min(data.cutoffs).date()} to {max(data.cutoffs).date()}" if data.cutoffs else "none"
        raise ChurnError(
            f"cannot split the snapshots into training, calibration and evaluation: {error} "
            f"(snapshot cutoffs: {span})",
            hint="give more history in the data, or change training.n_cutoffs / training.cutoff_step_days "
            "/ training.eval_cutoffs in the config",
        ) from error


def fit_final_model(data: TrainingData, cfg: Config, method: str) -> tuple[ChurnClassifier, CutoffPlan]:
    """The model that ships: trained on every outcome observed by the data's end, calibrated with ``method``."""
    with _plan_errors_explained(data):
        plan = final_plan(data.cutoffs, data.end, cfg.churn.horizon_days)
    fitted = fit_plan(data.snapshots, plan, data.columns, cfg.model.lightgbm, **_fit_options(cfg))
    return fitted.calibrated[method].set_params(contribution_method=cfg.model.contributions), plan


def model_metadata(
    model: ChurnClassifier, data: TrainingData, plan: CutoffPlan, backtest: BacktestResult, method: str, cfg: Config
) -> dict:
    """What travels with a shipped model: schema, training distributions, backtest figures (the baselines' too),
    config."""
    training_rows = data.snapshots.loc[data.snapshots["as_of"].isin(plan.train_cutoffs), data.columns]
    metrics = backtest.metrics
    latest = metrics[metrics["eval_cutoff"] == metrics["eval_cutoff"].max()]
    chosen = latest.set_index("candidate").loc[f"model_{method}"]
    return {
        "feature_schema": model.schema.to_dict(),
        "feature_schema_hash": model.schema.fingerprint,
        "training_distributions": reference_distributions(training_rows),
        "config": cfg.as_dict(),
        "calibration": method,
        "latest_backtest_metrics": {k: float(v) for k, v in chosen.drop("eval_cutoff").items()},
        # The baselines at the same cutoff, so the scoring report can compare the model with them in words.
        "latest_backtest_baselines": {
            candidate: {k: float(v) for k, v in row.drop("eval_cutoff").items()}
            for candidate, row in latest.set_index("candidate").iterrows() if candidate.startswith("baseline_")
        },
        "latest_backtest_cutoff": str(pd.Timestamp(chosen["eval_cutoff"]).date()),
        "emp_targeting_fraction": float(chosen["emp_fraction"]),
        "train_cutoffs": [str(c.date()) for c in plan.train_cutoffs],
        "calibration_cutoff": str(plan.calibration_cutoff.date()),
    }


def train_and_register(
    data_dir: str | os.PathLike, cfg: Config, progress: Callable[[str], None] = lambda m: None
) -> TrainingResult:
    """Train on every fully observed snapshot of ``data_dir``, backtest, log to MLflow and register.

    The snapshots are built on the configured engine; the model is trained here, on one machine. The MLflow run
    spans the whole training: it starts now, though it is written only once the model is trained.
    """
    started_at = time.time()
    with open_engine(cfg.engine) as engine:
        progress(f"loading the data ({engine.name} engine)")
        data = snapshot_data(engine, load_buckets(engine, data_dir, cfg.engine, cfg.input.limits()), cfg, progress)
    backtest, method = backtest_model(data, cfg, progress)
    progress("final model")
    model, plan = fit_final_model(data, cfg, method)
    metadata = model_metadata(model, data, plan, backtest, method, cfg)
    bundle = ModelBundle(model, metadata)
    training_rows = data.snapshots.loc[data.snapshots["as_of"].isin(plan.train_cutoffs), [*data.columns, LABEL]]
    fingerprint = data_fingerprint(data_dir)
    source = str(data_dir) if is_url(data_dir) else str(Path(data_dir).resolve())
    record = RunRecord(
        name=f"train h{cfg.churn.horizon_days} as of {data.end.date()}",
        description=run_description(data, plan, backtest, method, cfg, source, fingerprint),
        started_at=started_at,
        data_source=source,
        data_fingerprint=fingerprint,
        training_rows=training_rows,
        target=LABEL,
    )
    progress("logging to MLflow")
    outcome = None
    try:
        with signals_held():  # Ctrl-C waits for the run to be logged and registered whole
            outcome = log_training_run(
                cfg,
                bundle,
                record,
                metrics=_summary_metrics(backtest.metrics, method),
                metric_steps=_per_cutoff_metrics(backtest.metrics),
                tables={"backtest.csv": backtest.metrics},
                figures=_figures(backtest, method, model, training_rows[data.columns]),
                comparison_metric=COMPARISON_METRIC,
                comparison_value=metadata["latest_backtest_metrics"]["roc_auc"],
            )
    except KeyboardInterrupt:
        if outcome is None:
            raise
        raise Interrupted(
            f"stopped after training finished: MLflow run {outcome.run_id} was logged and {outcome.decision}."
        ) from None
    return TrainingResult(backtest, method, outcome, len(data.snapshots))


def run_description(
    data: TrainingData, plan: CutoffPlan, backtest: BacktestResult, method: str, cfg: Config, source: str,
    fingerprint: str,
) -> str:
    """One paragraph on what was trained on what, and how it did against the baselines."""
    train = plan.train_cutoffs
    n_rows = int(data.snapshots["as_of"].isin(train).sum())
    return (
        f"Churn = no purchase in the {cfg.churn.horizon_days} days after a cutoff, for customers who bought in "
        f"the {cfg.churn.active_window_days} days before it. LightGBM trained on {n_rows:,} snapshot rows at "
        f"{len(train)} cutoff(s) from {min(train).date()} to {max(train).date()}, calibrated ({method}) on "
        f"{plan.calibration_cutoff.date()}; data {source} up to {(data.end - pd.Timedelta(days=1)).date()} "
        f"(fingerprint {fingerprint}). {backtest_paragraph(backtest.metrics, f'model_{method}')}"
    )


def _summary_metrics(metrics: pd.DataFrame, method: str) -> dict[str, float]:
    """The shipped model's means over the evaluation cutoffs and its latest-cutoff values, then the other
    candidates' means."""
    shipped = f"model_{method}"
    means = mean_by_candidate(metrics)
    latest = metrics[metrics["eval_cutoff"] == metrics["eval_cutoff"].max()].set_index("candidate")
    summary = {f"{SHIPPED}{col}": float(v) for col, v in means.loc[shipped].items()}
    summary.update({f"{SHIPPED_LATEST}{c}": float(v) for c, v in latest.loc[shipped].drop("eval_cutoff").items()})
    for candidate, row in means.drop(index=shipped).iterrows():
        summary.update({f"{OTHERS}{candidate}/{col}": float(v) for col, v in row.items()})
    return summary


def _per_cutoff_metrics(metrics: pd.DataFrame) -> dict[str, list[tuple[int, float]]]:
    steps: dict[str, list[tuple[int, float]]] = {}
    cutoffs = sorted(metrics["eval_cutoff"].unique())
    for _, row in metrics.iterrows():
        step = cutoffs.index(row["eval_cutoff"])
        for column in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "emp"):
            steps.setdefault(f"{PER_CUTOFF}{row['candidate']}/{column}", []).append((step, float(row[column])))
    return steps


def _figures(backtest: BacktestResult, method: str, model, training_features: pd.DataFrame) -> dict[str, bytes]:
    latest = backtest.predictions[backtest.predictions["eval_cutoff"] == backtest.predictions["eval_cutoff"].max()]
    y = latest[LABEL].to_numpy()
    ranked = {c: latest[c].to_numpy() for c in (f"model_{method}", "baseline_recency", "baseline_bgnbd")}
    calibration = {c: latest[c].to_numpy() for c in ("model_uncalibrated", f"model_{method}")}
    importance = pd.Series(
        model.booster.feature_importance(importance_type="gain"), index=list(model.schema.names)
    )
    return {
        "roc.png": plots.roc_plot(y, ranked),
        "gains.png": plots.gains_plot(y, ranked),
        "reliability.png": plots.reliability_plot(y, calibration),
        "feature_importance.png": plots.importance_plot(importance),
    }
