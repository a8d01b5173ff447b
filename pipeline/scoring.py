"""Scoring, bucket by bucket: risk, value and reasons of a bucket's customers where the bucket is; the list's
cross-customer columns (tiers, ranks, control group, target) once, over every customer.

No I/O here: :mod:`pipeline.score` loads the data and the model, and writes what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features import Tables, as_timestamp
from features.aggregate import prepare_tables
from features.cutoff import NS_PER_DAY, customers_before
from models.drift import combined_counts, drift_counts, stability_from_counts
from models.estimator import ChurnModel, FeatureSchemaMismatch
from models.explain import Reasons, top_reasons
from models.modelframe import TIME_OF_YEAR_COLUMNS, CutoffStats, model_specs, scoring_frame
from models.value import customer_value
from models.winback import WINBACK_COLUMNS, Playbook, build_winback_list
from pipeline.config import Config
from pipeline.engine import Buckets, Engine, global_stats
from pipeline.errors import ChurnError, ModelError


@dataclass(frozen=True)
class ScoredCustomers:
    """Active customers' risk, value and reasons, row for row, sorted by customer_id."""

    customers: pd.DataFrame  # customer_id, churn_probability, customer_value and the list's descriptive columns
    reasons: Reasons
    features: pd.DataFrame | None = None  # the model's inputs; left where a bucket was scored (None when gathered)

    def for_list(self) -> ScoredCustomers:
        """What the driver needs for the list: everything but the model inputs."""
        return replace(self, features=None)

    @classmethod
    def combine(cls, parts: Sequence[ScoredCustomers]) -> ScoredCustomers:
        """Parts with disjoint customers as one, sorted by customer_id as one bucket of everything would be."""
        customers = pd.concat([p.customers for p in parts], ignore_index=True)
        order = customers.sort_values("customer_id", kind="stable").index.to_numpy()
        reasons = Reasons.concat([p.reasons for p in parts]).take(order)
        return cls(customers.take(order).reset_index(drop=True), reasons)


def _last_purchase_dates(as_of: pd.Timestamp, days_since_last_purchase: pd.Series) -> np.ndarray:
    """The day of the last purchase (YYYY-MM-DD), from the whole days between it and as_of's day."""
    as_of_day = as_of.value // NS_PER_DAY
    days = as_of_day - days_since_last_purchase.to_numpy(dtype="int64")
    codes, distinct = pd.factorize(days)  # a few hundred distinct days: format each once
    return pd.DatetimeIndex(distinct * NS_PER_DAY).strftime("%Y-%m-%d").to_numpy(dtype=object)[codes]


def score_customers(
    tables: Tables,
    as_of: pd.Timestamp,
    model: ChurnModel,
    cfg: Config,
    *,
    medians: dict[str, float],
    stats: CutoffStats | None = None,
) -> ScoredCustomers:
    """Features at ``as_of`` -> calibrated risk, customer value and reasons of every active customer (no I/O).

    ``stats``: the statistics over all customers when ``tables`` is one bucket (see ``scoring_frame``).
    """
    tables = prepare_tables(tables)  # once: the frame, the cut and the lookups below share it
    # A model trained over more than a year takes the time of year as inputs: its schema says so.
    seasonal = set(TIME_OF_YEAR_COLUMNS) <= set(model.schema.names)
    frame = scoring_frame(tables, as_of, cfg.features, cfg.churn, stats, with_time_of_year=seasonal)
    features = frame[[c for c in frame.columns if c != "customer_id"]]
    try:
        model.schema.check(features)
    except FeatureSchemaMismatch as mismatch:
        raise ModelError(
            f"The model's features differ from the data's features: {mismatch}.",
            "score with the configuration the model was trained with, or retrain with `churn train`",
        ) from None

    proba, contributions = model.predict_with_contributions(features)
    probability = proba[:, 1]
    reasons = top_reasons(contributions, features, model_specs(cfg.features), medians, cfg.scoring.top_reasons)
    customers = customers_before(tables.customers, as_of)
    managers = pd.Series(customers["account_manager_id"].array, index=customers["customer_id"].astype("str").array)
    scored = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "churn_probability": probability,
            "customer_value": customer_value(
                frame, window_days=cfg.scoring.value_window_days, horizon_days=cfg.scoring.value_horizon_days
            ),
            "days_since_last_purchase": np.floor(frame["days_since_last_purchase"]).astype(int),
            "last_purchase_date": pd.array(
                _last_purchase_dates(as_of, frame["days_since_last_purchase"]), dtype="str"
            ),
            "account_manager_id": frame["customer_id"].map(managers),
            "segment": frame["segment"],
            "lifecycle_stage": frame["lifecycle_stage"],
            "open_complaints": frame["open_complaints"].astype(int),
        }
    )
    return ScoredCustomers(scored, reasons, features)


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


def feature_drift_counts(scored: ScoredCustomers, reference: dict[str, dict]) -> dict[str, pd.Series]:
    """A bucket's model inputs counted per reference bin (drift is then measured from all buckets' counts)."""
    return drift_counts(reference, scored.features)


def scored_table_part(scored: ScoredCustomers, listed: pd.DataFrame) -> pd.DataFrame:
    """A bucket's rows of the full scored table: its list rows (``listed``, same customers and order) and
    the model inputs the list does not show."""
    if not listed["customer_id"].reset_index(drop=True).equals(scored.customers["customer_id"]):
        raise ValueError("the list rows are not this bucket's customers in its order")
    inputs = scored.features.drop(columns=[c for c in scored.features.columns if c in WINBACK_COLUMNS])
    return pd.concat([listed.reset_index(drop=True), inputs.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class BucketScores:
    """Scores of every bucket: where each bucket's ScoredCustomers is, its customer ids, and all of them gathered."""

    handles: list
    customer_ids: list[pd.Series]
    gathered: ScoredCustomers
    drift: pd.Series


def score_buckets(
    engine: Engine, buckets: Buckets, as_of: pd.Timestamp, model: ChurnModel, metadata: dict, cfg: Config
) -> BucketScores:
    """Score every bucket where it is (the model sent once per worker) and gather what the list needs."""
    as_of = as_timestamp(as_of)
    stats = global_stats(engine, buckets, [as_of], cfg.features)[as_of]
    handles = engine.map(
        score_customers, buckets.handles,
        as_of=as_of, model=engine.share(model), cfg=cfg, medians=metadata["feature_medians"], stats=stats,
    )
    parts = engine.gather(engine.map(ScoredCustomers.for_list, handles))
    gathered = ScoredCustomers.combine(parts)
    if gathered.customers.empty:
        raise ChurnError(
            f"No customer bought in the {cfg.churn.active_window_days} days before {as_of.date()}: nothing to score.",
            "check --as-of against the dates in the data",
        )
    reference = metadata["training_distributions"]
    counts = engine.gather(engine.map(feature_drift_counts, handles, reference=reference))
    drift = stability_from_counts(reference, combined_counts(counts))
    return BucketScores(handles, [p.customers["customer_id"] for p in parts], gathered, drift)


def list_rows_by_bucket(winback: pd.DataFrame, customer_ids: list[pd.Series]) -> list[pd.DataFrame]:
    """The list's rows of each bucket's customers, in the bucket's order."""
    position = pd.Index(winback["customer_id"])
    return [winback.take(position.get_indexer(ids)) for ids in customer_ids]
