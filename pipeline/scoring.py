"""Scoring, bucket by bucket: risk, value, owners and reasons of a bucket's customers where the bucket is, and its
lapsed customers; the lists' cross-customer parts (what is typical of the active population, tiers, the contact
plan and its capacities, the control group, ranks) once, over every customer.

No I/O here: :mod:`pipeline.score` loads the data and the model, and writes what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features import PreparedTables, as_timestamp
from features.cutoff import NS_PER_DAY, active_customers, customers_before, last_contacts
from features.price import combine_price_index_cells, price_index_cells
from models.bgnbd import BgNbdParams
from models.campaign import CampaignPeriod, campaign_period
from models.drift import coarsened, combined_counts, drift_counts, drift_resolutions, stability_from_counts
from models.estimator import ChurnClassifier, FeatureSchemaMismatch
from models.explain import Reasons, explains, population_notable, population_typical, top_reasons
from models.lapsed import (
    MIN_CALIBRATION_CUSTOMERS,
    REACTIVATION_METADATA,
    LapsedSettings,
    ReactivationMap,
    lapsed_customers,
)
from models.modelframe import TIME_OF_YEAR_COLUMNS, CutoffStats, model_specs, scoring_frame
from models.owners import customer_owners
from models.plan import Playbook, deciding_families
from models.snapshots import in_training_sample
from models.value import customer_value, margin_rates
from models.week_over_week import Basis
from models.winback import EXTRA_COLUMNS, WINBACK_COLUMNS, ListSettings, build_lists
from pipeline.config import Config
from pipeline.engine import Buckets, Engine, global_stats
from pipeline.errors import ChurnError, ModelError

# What is typical of the active population (a reason must lie beyond it) comes from every active customer up
# to this many, else from a stable-hash sample of about this many (the median's error is then well under 1%).
TYPICAL_SAMPLE = 100_000


@dataclass(frozen=True)
class ScoredCustomers:
    """Active customers' risk, value, owners and (once explained) reasons, row for row, sorted by customer_id."""

    customers: pd.DataFrame  # customer_id, churn_probability, customer_value, owners and descriptive columns
    reasons: Reasons | None = None
    features: pd.DataFrame | None = None  # the model's inputs; left where a bucket was scored (None when gathered)
    contributions: pd.DataFrame | None = None  # the model's feature contributions, until explained

    def for_list(self) -> ScoredCustomers:
        """What the driver needs for the list: everything but the model inputs."""
        return replace(self, features=None, contributions=None)

    @classmethod
    def combine(cls, parts: Sequence[ScoredCustomers]) -> ScoredCustomers:
        """Parts with disjoint customers as one, sorted by customer_id as one bucket of everything would be."""
        customers = pd.concat([p.customers for p in parts], ignore_index=True)
        order = customers.sort_values("customer_id", kind="stable").index.to_numpy()
        reasons = Reasons.concat([p.reasons for p in parts]).take(order)
        return cls(customers.take(order).reset_index(drop=True), reasons)


def active_count(tables: PreparedTables, *, as_of: pd.Timestamp, active_window_days: int) -> int:
    """How many customers of ``tables`` are active at ``as_of``."""
    return len(active_customers(tables.transactions, as_of, active_window_days))


def _last_purchase_dates(as_of: pd.Timestamp, days_since_last_purchase: pd.Series) -> np.ndarray:
    """The day of the last purchase (YYYY-MM-DD), from the whole days between it and as_of's day."""
    as_of_day = as_of.value // NS_PER_DAY
    days = as_of_day - days_since_last_purchase.to_numpy(dtype="int64")
    codes, distinct = pd.factorize(days)  # a few hundred distinct days: format each once
    return pd.DatetimeIndex(distinct * NS_PER_DAY).strftime("%Y-%m-%d").to_numpy(dtype=object)[codes]


def score_customers(
    tables: PreparedTables,
    as_of: pd.Timestamp,
    model: ChurnClassifier,
    cfg: Config,
    *,
    stats: CutoffStats | None = None,
) -> ScoredCustomers:
    """Features at ``as_of`` -> calibrated risk, customer value, owner and the model's contributions of every
    active customer (no I/O); :func:`explain_customers` words the reasons.

    ``stats``: the statistics over all customers when ``tables`` is one bucket (see ``scoring_frame``).
    """
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
    customers = customers_before(tables.customers, as_of)
    ids = customers["customer_id"].astype("str").array
    managers = pd.Series(customers["account_manager_id"].array, index=ids)
    manager_of = frame["customer_id"].astype("str").map(managers[~managers.index.duplicated(keep="last")])
    owners = customer_owners(manager_of, tables.account_managers, as_of)
    margin = margin_rates(frame["customer_id"], customers, cfg.scoring.margin_rate)
    scored = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "churn_probability": proba[:, 1],
            "customer_value": customer_value(
                frame, window_days=cfg.scoring.value_window_days, horizon_days=cfg.churn.horizon_days,
                margin_rate=margin,
            ),
            "owner_id": owners["owner_id"].array,
            "owner_status": pd.array(owners["owner_status"].to_numpy(), dtype="str"),
            "account_manager_id": pd.array(manager_of.to_numpy(dtype=object, na_value=None), dtype="str"),
            "days_since_last_purchase": np.floor(frame["days_since_last_purchase"]).astype(int),
            "last_purchase_date": pd.array(
                _last_purchase_dates(as_of, frame["days_since_last_purchase"]), dtype="str"
            ),
            "segment": frame["segment"],
            "lifecycle_stage": frame["lifecycle_stage"],
            "open_complaints": frame["open_complaints"].astype(int),
        }
    )
    return ScoredCustomers(scored, features=features, contributions=contributions)


def reason_values_sample(scored: ScoredCustomers, share: float, cfg: Config) -> pd.DataFrame:
    """The values of the features that can be reasons, for a stable-hash ``share`` of the bucket's customers."""
    specs = model_specs(cfg.features)
    names = [c for c in scored.features.columns if explains(specs.get(c))]
    keep = in_training_sample(scored.customers["customer_id"], share) if share < 1 else slice(None)
    return scored.features.loc[keep, names]


def explain_customers(
    scored: ScoredCustomers, typical: dict[str, float], notable: dict[str, float], cfg: Config
) -> ScoredCustomers:
    """The reasons of a bucket's customers in words, against what is typical and what is notable in the whole
    active population."""
    reasons = top_reasons(
        scored.contributions, scored.features, model_specs(cfg.features), typical, cfg.scoring.top_reasons,
        cfg.scoring.stale_complaint_days, notable,
    )
    return replace(scored, reasons=reasons, contributions=None)


def lapsed_settings(cfg: Config) -> LapsedSettings:
    return LapsedSettings(
        active_window_days=cfg.churn.active_window_days,
        lookback_days=cfg.scoring.lapsed_lookback_days,
        value_window_days=cfg.scoring.value_window_days,
        horizon_days=cfg.churn.horizon_days,
        margin_rate=cfg.scoring.margin_rate,
        decline_window_days=cfg.features.trend_window_days,
        price_rise_min_share=cfg.features.price_rise_min_share,
        stale_complaint_days=cfg.scoring.stale_complaint_days,
        top_reasons=cfg.scoring.top_reasons,
        price_period_days=cfg.features.price_period_days,
        price_min_observations=cfg.features.price_min_observations,
    )


def lapsed_price_cells(tables: PreparedTables, as_of: pd.Timestamp, cfg: Config) -> pd.DataFrame:
    """A bucket's part of the category price index the lapsed list's price reason reads."""
    s = lapsed_settings(cfg)
    return price_index_cells(tables.transactions, as_of=as_of, period_days=s.price_period_days,
                             history_days=s.price_history_days)


def reactivation_map(metadata: dict) -> ReactivationMap | None:
    """The model's reactivation map (None: trained before there was one, or on too few lapsed customers)."""
    fitted = metadata.get(REACTIVATION_METADATA)
    return ReactivationMap.from_dict(fitted) if fitted else None


def reactivation_fallback(metadata: dict) -> str | None:
    """Why the lapsed list says BG/NBD's P(alive) instead of how often customers like them came back (None: it
    does not)."""
    if metadata.get(REACTIVATION_METADATA):
        return None
    why = ("this model was trained before the lapsed list's reactivation probability was calibrated on who came "
           "back; retrain it (churn train)" if REACTIVATION_METADATA not in metadata else
           f"fewer than {MIN_CALIBRATION_CUSTOMERS} customers who had bought twice or more were lapsed at the "
           "training cutoffs, too few to calibrate it on who came back")
    return (f"The lapsed list's reactivation probability is BG/NBD's P(alive), which runs far too high for customers "
            f"who went silent: {why}.")


def lapsed_with_owners(
    tables: PreparedTables, as_of: pd.Timestamp, bgnbd: BgNbdParams, cfg: Config,
    reactivation: ReactivationMap | None = None, price_cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A bucket's lapsed customers (models.lapsed) with their owners at ``as_of``."""
    lapsed = lapsed_customers(tables, as_of, lapsed_settings(cfg), bgnbd, reactivation, price_cells)
    owners = customer_owners(lapsed["account_manager_id"], tables.account_managers, as_of)
    return lapsed.assign(owner_id=owners["owner_id"].array,
                         owner_status=pd.array(owners["owner_status"].to_numpy(), dtype="str"))


def worklists(
    scored: ScoredCustomers,
    lapsed: pd.DataFrame,
    playbook: Playbook,
    cfg: Config,
    *,
    as_of: pd.Timestamp,
    model_version: str,
    basis: Basis | None = None,
    last_contacts: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranked worklist and lapsed list (see models.winback.build_lists); the control group is the campaign's
    (the period of ``cfg.campaign`` containing as_of); ``last_contacts`` (customer_id -> contacted_at, see
    :func:`recent_contacts`) holds back the customers contacted in the cooldown."""
    winback, gone = build_lists(
        scored.customers,
        reasons=scored.reasons.joined(),
        reason_codes=scored.reasons.codes_joined(),
        deciding_family=deciding_families(scored.reasons.has_family(list(playbook.priority)), playbook.priority),
        lapsed=lapsed,
        playbook=playbook,
        settings=ListSettings(
            tier_cuts=cfg.scoring.value_tier_cuts,
            tier_max_shares=cfg.scoring.value_tier_max_shares,
            capacity_per_week=dict(cfg.scoring.capacity_per_week),
            control_share=cfg.scoring.control_share,
            campaign_id=campaign_of(as_of, cfg).id,
            contact_cooldown_days=cfg.scoring.contact_cooldown_days,
        ),
        basis=basis,
        as_of=as_of,
        model_version=model_version,
        last_contacts=last_contacts,
    )
    winback = winback.assign(
        churn_probability=winback["churn_probability"].round(4),
        customer_value=winback["customer_value"].round(2),
        risk_change=winback["risk_change"].round(4),
    )
    gone = gone.assign(
        past_value=gone["past_value"].round(2),
        reactivation_probability=gone["reactivation_probability"].round(4),
    )
    return winback, gone


def campaign_of(as_of: pd.Timestamp, cfg: Config) -> CampaignPeriod:
    """The campaign period (``cfg.campaign``) whose arms the list of ``as_of`` uses."""
    return campaign_period(as_of, name=cfg.campaign.name, weeks=cfg.campaign.weeks, start=cfg.campaign.start)


def recent_contacts(tables: PreparedTables, *, as_of: pd.Timestamp, days: int) -> pd.Series:
    """A bucket's customers contacted in the ``days`` before ``as_of``: customer_id -> their last contacted_at."""
    return last_contacts(tables.contacts, as_of, days)


def feature_drift_counts(scored: ScoredCustomers, reference: dict[str, dict]) -> dict[str, pd.Series]:
    """A bucket's model inputs counted per reference bin (drift is then measured from all buckets' counts)."""
    return drift_counts(reference, scored.features)


def scored_table_part(scored: ScoredCustomers, listed: pd.DataFrame) -> pd.DataFrame:
    """A bucket's rows of the full scored table: its list rows (``listed``, same customers and order) and
    the model inputs the list does not show."""
    if not listed["customer_id"].reset_index(drop=True).equals(scored.customers["customer_id"]):
        raise ValueError("the list rows are not this bucket's customers in its order")
    shown = (*WINBACK_COLUMNS, *EXTRA_COLUMNS)
    inputs = scored.features.drop(columns=[c for c in scored.features.columns if c in shown])
    return pd.concat([listed.reset_index(drop=True), inputs.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class BucketScores:
    """Scores of every bucket: where each bucket's ScoredCustomers is, its customer ids, all of them gathered,
    the lapsed customers of every bucket, and drift."""

    handles: list
    customer_ids: list[pd.Series]
    gathered: ScoredCustomers
    lapsed: pd.DataFrame
    drift: pd.Series
    account_managers: pd.DataFrame


def _n_customers(scored: ScoredCustomers) -> int:
    return len(scored.customers)


def _account_managers(tables: PreparedTables) -> pd.DataFrame:
    return tables.account_managers


def score_buckets(
    engine: Engine, buckets: Buckets, as_of: pd.Timestamp, model: ChurnClassifier, metadata: dict, cfg: Config
) -> BucketScores:
    """Score every bucket where it is (the model sent once per worker), word the reasons against the whole
    active population, find the lapsed customers, and gather what the lists need."""
    as_of = as_timestamp(as_of)
    stats = global_stats(engine, buckets, [as_of], cfg.features)[as_of]
    handles = engine.map(score_customers, buckets.handles, as_of=as_of, model=engine.share(model), cfg=cfg, stats=stats)
    n_active = sum(engine.gather(engine.map(_n_customers, handles)))
    if n_active == 0:
        raise ChurnError(
            f"No customer bought in the {cfg.churn.active_window_days} days before {as_of.date()}: nothing to score.",
            "check --as-of against the dates in the data",
        )
    share = min(1.0, TYPICAL_SAMPLE / n_active)
    sample = pd.concat(engine.gather(engine.map(reason_values_sample, handles, share=share, cfg=cfg)))
    specs = model_specs(cfg.features)
    typical = population_typical(sample, specs)
    notable = population_notable(sample, specs, cfg.scoring.reason_notable_share)
    handles = engine.map(explain_customers, handles, typical=typical, notable=notable, cfg=cfg)
    parts = engine.gather(engine.map(ScoredCustomers.for_list, handles))
    gathered = ScoredCustomers.combine(parts)
    price_cells = combine_price_index_cells(
        engine.gather(engine.map(lapsed_price_cells, buckets.handles, as_of=as_of, cfg=cfg)))
    lapsed = pd.concat(
        engine.gather(engine.map(lapsed_with_owners, buckets.handles, as_of=as_of, bgnbd=stats.bgnbd, cfg=cfg,
                                 reactivation=reactivation_map(metadata), price_cells=price_cells)),
        ignore_index=True,
    ).sort_values("customer_id", kind="stable").reset_index(drop=True)
    # A model trained before bins respected each feature's resolution gets its stored bins merged to that width.
    reference = coarsened(metadata["training_distributions"], drift_resolutions(model_specs(cfg.features)))
    counts = engine.gather(engine.map(feature_drift_counts, handles, reference=reference))
    drift = stability_from_counts(reference, combined_counts(counts))
    managers = engine.gather(engine.map(_account_managers, buckets.handles[:1]))[0]  # every bucket has them all
    return BucketScores(handles, [p.customers["customer_id"] for p in parts], gathered, lapsed, drift, managers)


def list_rows_by_bucket(winback: pd.DataFrame, customer_ids: list[pd.Series]) -> list[pd.DataFrame]:
    """The list's rows of each bucket's customers, in the bucket's order."""
    position = pd.Index(winback["customer_id"])
    return [winback.take(position.get_indexer(ids)) for ids in customer_ids]
