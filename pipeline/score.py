"""Step `churn score`: features at the as-of date -> calibrated risk -> reasons -> ranked win-back CSV + report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features import Tables, as_timestamp, events_before
from models.drift import population_stability
from models.estimator import ChurnModel, FeatureSchemaMismatch
from models.explain import Reasons, top_reasons
from models.modelframe import data_end, model_specs, scoring_frame
from models.value import customer_value
from models.winback import Playbook, build_winback_list, spreadsheet_safe
from pipeline.config import Config, load_playbook
from pipeline.errors import ChurnError, ModelError
from pipeline.io import load_data_dir, write_frame, write_text
from pipeline.report import render_report
from pipeline.tracking import load_bundle, log_scoring_run


@dataclass(frozen=True)
class ScoringResult:
    out: Path
    report: Path
    as_of: pd.Timestamp
    n_customers: int
    n_target: int
    drift: pd.Series
    model_version: str


def report_path_for(out: Path) -> Path:
    return out.with_name(out.stem + "_report.html")


def _last_purchase_dates(transactions: pd.DataFrame) -> pd.Series:
    purchases = transactions[transactions["amount"] > 0]
    return purchases.groupby("customer_id")["timestamp"].max().dt.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class ScoredCustomers:
    """Every active customer's risk, value and reasons, row for row with the model's feature frame."""

    customers: pd.DataFrame  # customer_id, churn_probability, customer_value and the list's descriptive columns
    features: pd.DataFrame
    reasons: Reasons


def score_customers(
    tables: Tables, as_of: pd.Timestamp, model: ChurnModel, cfg: Config, *, medians: dict[str, float]
) -> ScoredCustomers:
    """Features at ``as_of`` -> calibrated risk, customer value and reasons of every active customer (no I/O)."""
    frame = scoring_frame(tables, as_of, cfg.features, cfg.churn)
    if frame.empty:
        raise ChurnError(
            f"No customer bought in the {cfg.churn.active_window_days} days before {as_of.date()}: nothing to score.",
            "check --as-of against the dates in the data",
        )
    features = frame[[c for c in frame.columns if c != "customer_id"]]
    try:
        model.schema.check(features)
    except FeatureSchemaMismatch as mismatch:
        raise ModelError(
            f"The model's features differ from the data's features: {mismatch}.",
            "score with the configuration the model was trained with, or retrain with `churn train`",
        ) from None

    probability = model.predict_proba(features)[:, 1]
    reasons = top_reasons(
        model.contributions(features), features, model_specs(cfg.features), medians, cfg.scoring.top_reasons
    )
    cut = events_before(tables, as_of)
    customers = cut.customers.set_index("customer_id")
    scored = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "churn_probability": probability,
            "customer_value": customer_value(
                frame, window_days=cfg.scoring.value_window_days, horizon_days=cfg.scoring.value_horizon_days
            ),
            "days_since_last_purchase": np.floor(frame["days_since_last_purchase"]).astype(int),
            "last_purchase_date": frame["customer_id"].map(_last_purchase_dates(cut.transactions)),
            "account_manager_id": frame["customer_id"].map(customers["account_manager_id"]),
            "segment": frame["customer_id"].map(customers["segment"]).fillna("unknown"),
            "lifecycle_stage": frame["lifecycle_stage"],
            "open_complaints": frame["open_complaints"].astype(int),
        }
    )
    return ScoredCustomers(scored, features, reasons)


def winback_list(
    scored: ScoredCustomers,
    playbook: Playbook,
    cfg: Config,
    *,
    as_of: pd.Timestamp,
    target_fraction: float | None,
    model_version: str,
) -> pd.DataFrame:
    """The ranked list: tiers, value at risk, the playbook's action, control group and target flags."""
    winback = build_winback_list(
        scored.customers,
        reasons=scored.reasons.joined(),
        has_family=scored.reasons.has_family(list(playbook.priority)),
        playbook=playbook,
        tier_cuts=cfg.scoring.value_tier_cuts,
        control_share=cfg.scoring.control_share,
        target_fraction=target_fraction,
        target_size=cfg.scoring.target_size,
        as_of=as_of,
        model_version=model_version,
    )
    return winback.assign(
        churn_probability=winback["churn_probability"].round(4),
        customer_value=winback["customer_value"].round(2),
        value_at_risk=winback["value_at_risk"].round(2),
    )


def write_winback(
    data_dir: Path,
    out: Path,
    as_of: date | None,
    model_uri: str | None,
    cfg: Config,
    progress: Callable[[str], None] = lambda m: None,
) -> ScoringResult:
    """Score every customer active at ``as_of`` (default: the day after the last event) and write the list."""
    if Path(out).suffix.lower() != ".csv":
        raise ChurnError(f"--out {out}: the win-back list is a CSV file.", "give a file name ending in .csv")
    progress("loading data and model")
    tables, _warnings = load_data_dir(data_dir)
    as_of = as_timestamp(as_of) if as_of is not None else data_end(tables)
    bundle = load_bundle(cfg, model_uri)
    playbook = load_playbook(cfg)

    progress(f"scoring the customers active at {as_of.date()}")
    scored = score_customers(tables, as_of, bundle.model, cfg, medians=bundle.metadata["feature_medians"])
    version = bundle.version or "unknown"
    winback = winback_list(
        scored, playbook, cfg,
        as_of=as_of, target_fraction=bundle.metadata.get("emp_targeting_fraction"), model_version=version,
    )
    features, reasons = scored.features, scored.reasons

    progress("writing the list and the report")
    out = Path(out)
    write_frame(spreadsheet_safe(winback), out)
    drift = population_stability(bundle.metadata["training_distributions"], features)
    report = report_path_for(out)
    deciding = pd.Series([f[0] if f else "none" for f in reasons.families], name="family")
    html = render_report(
        winback,
        as_of=str(as_of.date()),
        model_version=version,
        backtest=bundle.metadata.get("latest_backtest_metrics", {}),
        drift=drift,
        warning_psi=cfg.scoring.drift_warning_psi,
        strong_psi=cfg.scoring.drift_strong_psi,
        reason_families=deciding,
    )
    write_text(html, report)
    log_scoring_run(
        cfg,
        {"customers": float(len(winback)), "in_target": float(winback["in_target"].sum()),
         "value_at_risk": float(winback["value_at_risk"].sum()),
         "drift_features_warning": float((drift > cfg.scoring.drift_warning_psi).sum()),
         "drift_max_psi": float(drift.max()) if len(drift) else 0.0},
        {"as_of": str(as_of.date()), "model_version": version},
        report,
    )
    return ScoringResult(out, report, as_of, len(winback), int(winback["in_target"].sum()), drift, version)
