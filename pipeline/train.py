"""Step `churn train`: snapshots -> rolling-origin backtest -> final model -> MLflow run -> champion alias."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features import PreparedTables
from models.backtest import (
    BACKTEST,
    LABEL,
    BacktestResult,
    EstimatePlan,
    TooFewOutcomes,
    choose_calibration,
    choose_estimate,
    fit_plan,
    fit_uncalibrated,
    run_backtest,
    run_cross_fit,
)
from models.backtest_summary import backtest_paragraph, mean_by_candidate
from models.drift import drift_resolutions, reference_distributions
from models.estimator import Calibrator, ChurnClassifier
from models.lapsed import REACTIVATION_METADATA, ReactivationMap, fit_reactivation, reactivation_outcomes
from models.metrics import EmpParams
from models.modelframe import (
    TIME_OF_YEAR_COLUMNS,
    fixed_categories,
    model_feature_columns,
    model_frames,
    model_specs,
    spans_a_year,
)
from models.snapshots import active_counts, customer_share_within, snapshot_cutoffs
from models.value import customer_value
from pipeline import plots
from pipeline.bucket_store import is_url
from pipeline.config import Config
from pipeline.definition import model_definition
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
from pipeline.scoring import lapsed_settings
from pipeline.tracking import (
    CHURN_TAG,
    DATA_END_TAG,
    ESTIMATE_TAG,
    ModelBundle,
    RunOutcome,
    RunRecord,
    check_reachable,
    churn_definition_tag,
    log_training_run,
)

COMPARISON_METRIC = "latest_cutoff_roc_auc"  # the version tag the champion decision compares
# Metric name prefixes: sorted by name (and in the UI's chart sections, by prefix) the shipped model comes first.
SHIPPED, SHIPPED_LATEST, PER_CUTOFF, OTHERS = "model/", "model_at_latest_cutoff/", "per_cutoff/", "vs/"


# Fewer customers of either outcome than this cannot be split into training, early stopping and calibration;
# and a cutoff that calibrates or evaluates needs a few of each (a calibration or a ROC curve needs both).
MIN_CUSTOMERS_PER_OUTCOME = 10
MIN_CUSTOMERS_PER_OUTCOME_AT_A_CUTOFF = 2


@dataclass(frozen=True)
class TrainingResult:
    backtest: BacktestResult
    calibration: str
    outcome: RunOutcome
    n_snapshot_rows: int
    estimate: dict  # kind, evaluation_cutoffs, summary: which estimate the metrics are, and why
    notes: tuple[str, ...] = ()  # what the user should know about the data trained on


@dataclass(frozen=True)
class TrainingData:
    """Snapshots (features, BG/NBD outputs, labels) at every cutoff, where the data ends and its history starts."""

    snapshots: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    end: pd.Timestamp
    columns: list[str]
    start: pd.Timestamp | None = None
    time_of_year: bool = False  # the snapshots hold the as-of date's time of year (cutoffs a year apart)
    notes: tuple[str, ...] = ()
    customer_share: float = 1.0  # of the customers whose snapshots were kept (a stable hash of customer_id)
    reactivation: ReactivationMap | None = None  # how often lapsed customers came back (models.lapsed)

    @property
    def history_days(self) -> int:
        return (self.end - self.start).days if self.start is not None else 0


def training_data(tables: PreparedTables, cfg: Config, progress: Callable[[str], None] = lambda m: None) -> TrainingData:
    """:func:`snapshot_data` of ``tables`` in this process, as one bucket."""
    engine = LocalEngine()
    return snapshot_data(engine, split_buckets(engine, tables, 1), cfg, progress)


def snapshot_data(
    engine: Engine, buckets: Buckets, cfg: Config, progress: Callable[[str], None] = lambda m: None
) -> TrainingData:
    """Snapshots at the cutoffs the history allows (:func:`models.snapshots.snapshot_cutoffs`), the latest with
    its label window ending by the last transaction's day.

    Built where the buckets are, with the statistics of every customer, for the customers of the training
    sample (``engine.snapshot_customer_share``, lowered to keep within ``engine.max_snapshot_rows``); rows sorted
    by cutoff, then customer, whatever the bucketing.
    """
    if buckets.purchases is None:
        raise _history_too_short(None, None, cfg)
    # Labels come from the transactions: outcomes are observed up to the last one, even where visits or
    # complaints go on after it.
    start, end = buckets.purchases
    cutoffs = snapshot_cutoffs(
        end - pd.Timedelta(days=1), cfg.churn.horizon_days, cfg.training.cutoff_step_days,
        cfg.training.n_cutoffs, history_start=start, min_history_days=cfg.training.min_history_days,
    )
    if not cutoffs:
        raise _history_too_short(start, end, cfg)
    share, share_notes = _customer_share(engine, buckets, cutoffs, cfg, progress)
    progress(f"features at {len(cutoffs)} cutoffs in {len(buckets)} bucket(s)")
    stats = global_stats(engine, buckets, cutoffs, cfg.features)
    seasonal = spans_a_year(cutoffs)
    parts = engine.gather(
        engine.map(
            model_frames, buckets.handles, cutoffs=cutoffs, settings=cfg.features, churn=cfg.churn, stats=stats,
            customer_share=share, with_time_of_year=seasonal,
        )
    )
    snapshots = pd.concat(parts, ignore_index=True)
    if len(parts) > 1:
        snapshots = snapshots.sort_values(["as_of", "customer_id"], kind="stable", ignore_index=True)
    reactivation = _fit_reactivation(engine, buckets, cutoffs, stats, end, cfg)
    data = TrainingData(snapshots, cutoffs, end, model_feature_columns(snapshots), start, seasonal,
                        (*_left_out_note(buckets.first_purchase, start), *share_notes), share, reactivation)
    _check_outcomes(data, cfg)
    return data


def lapsed_outcomes(tables: PreparedTables, cutoffs: list[pd.Timestamp], bgnbd: dict, cfg: Config) -> pd.DataFrame:
    """A bucket's lapsed customers at each cutoff, their P(alive) and whether they came back
    (:func:`models.lapsed.reactivation_outcomes`), with the cutoff."""
    settings = lapsed_settings(cfg)
    return pd.concat([reactivation_outcomes(tables, c, settings, bgnbd[c]).assign(cutoff=c) for c in cutoffs],
                     ignore_index=True)


def _fit_reactivation(engine: Engine, buckets: Buckets, cutoffs: list[pd.Timestamp], stats: dict,
                      end: pd.Timestamp, cfg: Config) -> ReactivationMap | None:
    """The lapsed list's reactivation map from every cutoff whose following horizon lies in the data, with the
    BG/NBD fit of all customers there; rows in (cutoff, customer) order whatever the bucketing."""
    observed = [c for c in cutoffs if c + pd.Timedelta(days=cfg.churn.horizon_days) <= end]
    if not observed:
        return None
    parts = engine.gather(engine.map(lapsed_outcomes, buckets.handles, cutoffs=observed,
                                     bgnbd={c: stats[c].bgnbd for c in observed}, cfg=cfg))
    outcomes = pd.concat(parts, ignore_index=True).sort_values(["cutoff", "customer_id"], kind="stable")
    return fit_reactivation(outcomes, cfg.churn.horizon_days)


def _customer_share(engine: Engine, buckets: Buckets, cutoffs: list[pd.Timestamp], cfg: Config,
                    progress: Callable[[str], None]) -> tuple[float, tuple[str, ...]]:
    """The share of customers whose snapshots are kept, and words when it was lowered to fit
    ``engine.max_snapshot_rows``."""
    configured, cap = cfg.engine.snapshot_customer_share, cfg.engine.max_snapshot_rows
    if cap is None:
        return configured, ()
    counts = engine.gather(engine.map(active_counts, buckets.handles, cutoffs=cutoffs,
                                      active_window_days=cfg.churn.active_window_days))
    rows = int(sum(int(c.sum()) for c in counts))
    share = customer_share_within(rows, configured, cap)
    if share == configured:
        return share, ()
    progress(f"snapshots of a {share:.1%} sample of customers, within engine.max_snapshot_rows")
    basis = "all of them" if configured == 1 else f"engine.snapshot_customer_share = {configured:g}"
    note = (f"Trained on the snapshots of a {share:.1%} sample of customers (a stable hash of customer_id): "
            f"{basis} would give {rows * configured:,.0f} rows over {len(cutoffs)} cutoffs, more than "
            f"engine.max_snapshot_rows = {cap:,} (about 1.6 KB each while training). Statistics across "
            "customers still use every customer; raise the cap, or set it to null, to train on more.")
    return share, (note,)


def _left_out_note(first: pd.Timestamp | None, start: pd.Timestamp) -> tuple[str, ...]:
    """Words for transactions before the history's start: a year without any purchase follows them."""
    if first is None or first >= start:
        return ()
    note = (f"The history is counted from {start.date()}: the transactions before it (the first on {first.date()}) "
            "are followed by a year or more without any purchase (a stray or placeholder date?). They stay in the "
            "data, but no cutoff is placed in that gap.")
    return (note,)


def _history_too_short(start: pd.Timestamp | None, end: pd.Timestamp | None, cfg: Config) -> ChurnError:
    """The refusal when not one cutoff has both its history and its label window inside the data."""
    horizon, minimum = cfg.churn.horizon_days, cfg.training.min_history_days
    held = (
        f"{(end - start).days} days of transactions ({start.date()} to {(end - pd.Timedelta(days=1)).date()})"
        if start is not None else "no transactions"
    )
    return ChurnError(
        f"Too little history to train: the data holds {held}; training needs at least "
        f"churn.horizon_days + training.min_history_days = {horizon} + {minimum} = {horizon + minimum} days "
        "(the history before a cutoff, then a whole label window after it).",
        "give more history, or lower --horizon-days (churn.horizon_days) or training.min_history_days in "
        "the config",
    )


def _check_outcomes(data: TrainingData, cfg: Config) -> None:
    """Refuse snapshots with too few customers who churned or who stayed, overall or at a cutoff (any may
    calibrate or evaluate), to learn and calibrate anything from."""
    snapshots = data.snapshots
    groups = [("the cutoffs together", snapshots, MIN_CUSTOMERS_PER_OUTCOME)] + [
        (f"the cutoff {c.date()}", snapshots[snapshots["as_of"] == c], MIN_CUSTOMERS_PER_OUTCOME_AT_A_CUTOFF)
        for c in data.cutoffs
    ]
    for where, rows, needed in groups:
        churned = rows.loc[rows[LABEL].astype(bool), "customer_id"].nunique()
        stayed = rows.loc[~rows[LABEL].astype(bool), "customer_id"].nunique()
        if min(churned, stayed) < needed:
            raise ChurnError(
                f"Too few customers to train: at {where}, {churned} active customer(s) churned and {stayed} "
                f"stayed (no purchase / a purchase in the {cfg.churn.horizon_days} days after the cutoff); "
                f"training needs at least {needed} customers of each there.",
                "give data with more customers or more history; check that transactions.* holds the purchases "
                "(amount > 0) up to the end of the data",
            )


def _fit_options(cfg: Config) -> dict:
    return {
        "seed": cfg.training.seed,
        "early_stopping_share": cfg.training.early_stopping_customer_share,
        "fixed_categories": fixed_categories(cfg.features),
    }


def _metric_options(cfg: Config) -> dict:
    emp = cfg.evaluation.emp
    return {
        "k": cfg.evaluation.top_fraction,
        "emp_params": EmpParams(emp.alpha, emp.beta, emp.incentive_cost, emp.contact_cost, emp.clv),
    }


def _value_of(cfg: Config) -> Callable[[pd.DataFrame], object]:
    def value_of(rows: pd.DataFrame):
        return customer_value(
            rows, window_days=cfg.scoring.value_window_days, horizon_days=cfg.churn.horizon_days,
            margin_rate=cfg.scoring.margin_rate,
        )

    return value_of


@dataclass(frozen=True)
class ShippedModel:
    """The model that ships, the cutoffs its booster trained on and the one its calibrator was fitted at."""

    model: ChurnClassifier
    train_cutoffs: tuple[pd.Timestamp, ...]
    calibration_cutoff: pd.Timestamp


@dataclass(frozen=True)
class ModelEstimate:
    """The reported estimate (metrics and predictions per evaluation cutoff), which one it is, and the calibration
    method it picks; cross-fitted, also the calibrators the shipped model takes (fitted on out-of-fold scores)."""

    plan: EstimatePlan
    backtest: BacktestResult
    calibration: str
    calibrators: dict[str, Calibrator] | None = None


def estimate_plan(data: TrainingData, cfg: Config) -> EstimatePlan:
    """The rolling-origin backtest when the history has room for it, else the cross-fitted estimate."""
    return choose_estimate(data.cutoffs, data.end, cfg.churn.horizon_days, cfg.training.eval_cutoffs)


def estimate_model(
    data: TrainingData, cfg: Config, progress: Callable[[str], None] = lambda m: None
) -> ModelEstimate:
    """The model's and the baselines' metrics on the estimate :func:`estimate_plan` chooses, and the calibration."""
    plan = estimate_plan(data, cfg)
    if plan.kind == BACKTEST:
        backtest = run_backtest(
            data.snapshots, list(plan.plans), data.columns, cfg.model.lightgbm, _value_of(cfg),
            metric_options=_metric_options(cfg), progress=progress, **_fit_options(cfg),
        )
        return ModelEstimate(plan, backtest, choose_calibration(backtest.metrics, cfg.training.calibration))
    try:
        cross = run_cross_fit(
            data.snapshots, plan.evaluation_cutoffs, data.columns, cfg.model.lightgbm, _value_of(cfg),
            n_folds=cfg.training.cross_fit_folds, metric_options=_metric_options(cfg), progress=progress,
            **_fit_options(cfg),
        )
    except TooFewOutcomes as error:
        raise ChurnError(
            f"Too few customers to cross-fit: {error}.",
            "give data with more customers, or fewer training.cross_fit_folds in the config",
        ) from None
    method = choose_calibration(cross.backtest.metrics, cfg.training.calibration)
    return ModelEstimate(plan, cross.backtest, method, cross.calibrators)


def fit_shipped_model(
    data: TrainingData,
    cfg: Config,
    plan: EstimatePlan,
    method: str,
    calibrators: dict[str, Calibrator] | None = None,
) -> ShippedModel:
    """The model that ships, calibrated with ``method``: after a backtest, trained on every label window that
    ends before the latest observed one and calibrated on that one; cross-fitted, trained on every cutoff and
    calibrated with the out-of-fold ``calibrators``."""
    contributions = {"contribution_method": cfg.model.contributions}
    if plan.kind == BACKTEST:
        fitted = fit_plan(data.snapshots, plan.final, data.columns, cfg.model.lightgbm, **_fit_options(cfg))
        model = fitted.calibrated[method].set_params(**contributions)
        return ShippedModel(model, plan.final.train_cutoffs, plan.final.calibration_cutoff)
    booster, _recency = fit_uncalibrated(data.snapshots, data.columns, cfg.model.lightgbm, **_fit_options(cfg))
    model = ChurnClassifier.calibrated_with(booster, calibrators[method], **contributions)
    return ShippedModel(model, tuple(data.cutoffs), max(plan.evaluation_cutoffs))


def _dates(cutoffs) -> str:
    return ", ".join(str(pd.Timestamp(c).date()) for c in cutoffs)


def estimate_summary(estimate: ModelEstimate, data: TrainingData, cfg: Config) -> str:
    """One plain sentence: which estimate the reported metrics are, and why."""
    plan, horizon = estimate.plan, cfg.churn.horizon_days
    n_eval, wanted = len(plan.evaluation_cutoffs), cfg.training.eval_cutoffs
    history = f"{data.history_days} days of history"
    if plan.kind == BACKTEST and n_eval >= wanted:
        return (
            f"Rolling-origin backtest at {n_eval} evaluation cutoff(s) ({_dates(plan.evaluation_cutoffs)}): "
            "each scored by a model trained on earlier label windows and calibrated on a later one, as the "
            "shipped model is."
        )
    if plan.kind == BACKTEST:
        return (
            f"Rolling-origin backtest at {n_eval} evaluation cutoff(s) ({_dates(plan.evaluation_cutoffs)}) "
            f"instead of training.eval_cutoffs = {wanted}: the {history} leave room for only {n_eval} (an "
            f"evaluation cutoff needs two {horizon}-day label windows of snapshots before it)."
        )
    needed = cfg.training.min_history_days + 3 * horizon
    return (
        f"Cross-fitted estimate at {n_eval} cutoff(s) ({_dates(plan.evaluation_cutoffs)}), not a backtest: "
        f"the {history} are too short for a rolling-origin backtest (about training.min_history_days + 3 x "
        f"horizon = {needed} days), so each customer was scored by a model trained on the other customers "
        f"({cfg.training.cross_fit_folds} folds) over the same period; it cannot show how the model holds up "
        "as time moves on and is likely optimistic."
    )


def model_metadata(shipped: ShippedModel, estimate: ModelEstimate, data: TrainingData, cfg: Config) -> dict:
    """What travels with a shipped model: schema, training distributions, the estimate and the baselines' figures,
    the definition of churn and of the features, and the config."""
    method = estimate.calibration
    training_rows = data.snapshots.loc[data.snapshots["as_of"].isin(shipped.train_cutoffs), data.columns]
    # One value per snapshot, one at scoring: a drift measure of the time of year would always cry wolf.
    drift_reference = training_rows.drop(columns=list(TIME_OF_YEAR_COLUMNS), errors="ignore")
    resolutions = drift_resolutions(model_specs(cfg.features))  # bins never finer than a value means
    metrics = estimate.backtest.metrics
    latest = metrics[metrics["eval_cutoff"] == metrics["eval_cutoff"].max()]
    chosen = latest.set_index("candidate").loc[f"model_{method}"]
    config = cfg.as_dict()
    return {
        "feature_schema": shipped.model.schema.to_dict(),
        "feature_schema_hash": shipped.model.schema.fingerprint,
        "training_distributions": reference_distributions(drift_reference, resolutions=resolutions),
        "definition": {**model_definition(cfg), "time_of_year": data.time_of_year},
        "config": config,
        "calibration": method,
        "estimate": {
            "kind": estimate.plan.kind,
            "evaluation_cutoffs": [str(c.date()) for c in estimate.plan.evaluation_cutoffs],
            "summary": estimate_summary(estimate, data, cfg),
        },
        "latest_backtest_metrics": {k: float(v) for k, v in chosen.drop("eval_cutoff").items()},
        # The baselines at the same cutoff, so the scoring report can compare the model with them in words.
        "latest_backtest_baselines": {
            candidate: {k: float(v) for k, v in row.drop("eval_cutoff").items()}
            for candidate, row in latest.set_index("candidate").iterrows() if candidate.startswith("baseline_")
        },
        "latest_backtest_cutoff": str(pd.Timestamp(chosen["eval_cutoff"]).date()),
        "emp_targeting_fraction": float(chosen["emp_fraction"]),
        "train_cutoffs": [str(c.date()) for c in shipped.train_cutoffs],
        "calibration_cutoff": str(shipped.calibration_cutoff.date()),
        # How often lapsed customers came back at the training cutoffs: the lapsed list's reactivation probability.
        REACTIVATION_METADATA: data.reactivation.to_dict() if data.reactivation is not None else None,
    }


def train_and_register(
    data_dir: str | os.PathLike, cfg: Config, progress: Callable[[str], None] = lambda m: None, *,
    promote: bool = False,
) -> TrainingResult:
    """Train on every fully observed snapshot of ``data_dir``, estimate, log to MLflow and register (``promote``:
    as the champion, whatever the comparison with the current one says).

    The snapshots are built on the configured engine; the model is trained here, on one machine. The MLflow run
    spans the whole training: it starts now, though it is written only once the model is trained.
    """
    started_at = time.time()
    check_reachable(cfg)  # before the training, not after it
    with open_engine(cfg.engine) as engine:
        progress(f"loading the data ({engine.name} engine)")
        data = snapshot_data(engine, load_buckets(engine, data_dir, cfg.engine, cfg.input.limits()), cfg, progress)
    estimate = estimate_model(data, cfg, progress)
    backtest, method = estimate.backtest, estimate.calibration
    progress("final model")
    shipped = fit_shipped_model(data, cfg, estimate.plan, method, estimate.calibrators)
    metadata = model_metadata(shipped, estimate, data, cfg)
    model = shipped.model
    bundle = ModelBundle(model, metadata)
    training_rows = data.snapshots.loc[
        data.snapshots["as_of"].isin(shipped.train_cutoffs), [*data.columns, LABEL]
    ]
    fingerprint = data_fingerprint(data_dir)
    source = str(data_dir) if is_url(data_dir) else str(Path(data_dir).resolve())
    described = metadata["estimate"]
    record = RunRecord(
        name=f"train h{cfg.churn.horizon_days} as of {data.end.date()}",
        description=run_description(data, shipped, estimate, cfg, source, fingerprint),
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
                figures=_figures(backtest, method, model),
                comparison_metric=COMPARISON_METRIC,
                comparison_value=metadata["latest_backtest_metrics"]["roc_auc"],
                tags={
                    ESTIMATE_TAG: described["kind"],
                    "estimate.evaluation_cutoffs": ", ".join(described["evaluation_cutoffs"]),
                    "estimate.summary": described["summary"],
                    "history_days": str(data.history_days),
                    "snapshot_customer_share": f"{data.customer_share:.6g}",
                    DATA_END_TAG: str(data.end.date()),
                    CHURN_TAG: churn_definition_tag(cfg.churn.active_window_days, cfg.churn.horizon_days),
                },
                promote=promote,
            )
    except KeyboardInterrupt:
        if outcome is None:
            raise
        raise Interrupted(
            f"stopped after training finished: MLflow run {outcome.run_id} was logged and {outcome.decision}."
        ) from None
    return TrainingResult(backtest, method, outcome, len(data.snapshots), described, data.notes)


def run_description(
    data: TrainingData, shipped: ShippedModel, estimate: ModelEstimate, cfg: Config, source: str, fingerprint: str
) -> str:
    """One paragraph on what was trained on what, how it was estimated, and how it did against the baselines."""
    train = shipped.train_cutoffs
    n_rows = int(data.snapshots["as_of"].isin(train).sum())
    method = estimate.calibration
    return (
        f"Churn = no purchase in the {cfg.churn.horizon_days} days after a cutoff, for customers who bought in "
        f"the {cfg.churn.active_window_days} days before it. LightGBM trained on {n_rows:,} snapshot rows at "
        f"{len(train)} cutoff(s) from {min(train).date()} to {max(train).date()}, calibrated ({method}) on "
        f"{shipped.calibration_cutoff.date()}; data {source} up to {(data.end - pd.Timedelta(days=1)).date()} "
        f"(fingerprint {fingerprint}). {estimate_summary(estimate, data, cfg)} "
        f"{backtest_paragraph(estimate.backtest.metrics, f'model_{method}')}"
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


def _figures(backtest: BacktestResult, method: str, model) -> dict[str, bytes]:
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
