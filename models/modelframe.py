"""Model input frames: point-in-time features plus BG/NBD outputs, per as-of date, with labels for training.

Every statistic across customers (peer-group wallets, category price rises, the BG/NBD fit) is a
:class:`CutoffStats`, computed once over all customers, so a frame built bucket by bucket equals the whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import (
    ChurnDefinition,
    FeatureSettings,
    FeatureSpec,
    GlobalStats,
    GlobalStatsPart,
    PreparedTables,
    as_timestamp,
    build_feature_table,
    churn_labels,
    combine_global_stats,
    compute_global_stats,
    feature_specs,
    global_stats_part,
)
from models.bgnbd import BgNbdParams, bgnbd_features, fit_bgnbd, rfm_summary
from models.snapshots import sample_customers

KEY_COLUMNS = ("customer_id", "as_of")
LABEL = "churned"
# Where in the year the as-of date falls, as a point on the unit circle (the last day of a year next to the
# first): the same for every row of a snapshot, so a model trained over more than a year can learn the season.
TIME_OF_YEAR_COLUMNS = ("as_of_year_sin", "as_of_year_cos")
YEAR_DAYS = 365.25


@dataclass(frozen=True)
class CutoffStats:
    """The cross-customer statistics of the model frame at one as_of: feature statistics and the BG/NBD fit."""

    features: GlobalStats
    bgnbd: BgNbdParams


@dataclass(frozen=True)
class StatsInputs:
    """What one group of customers contributes to the :class:`CutoffStats` at each cutoff: its part of the
    feature statistics and its BG/NBD summary (both about one row per customer, never the events)."""

    features: dict[pd.Timestamp, GlobalStatsPart]
    rfm: dict[pd.Timestamp, pd.DataFrame]


def stats_inputs(tables: PreparedTables, cutoffs: Sequence, settings: FeatureSettings) -> StatsInputs:
    """The contribution of ``tables``' customers to the statistics at ``cutoffs`` (customer ids as str)."""
    cutoffs = sorted(map(as_timestamp, cutoffs))
    return StatsInputs(
        features={cutoff: global_stats_part(tables, cutoff, settings) for cutoff in cutoffs},
        rfm={cutoff: _str_index(rfm_summary(tables.transactions, cutoff)) for cutoff in cutoffs},
    )


def _str_index(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.set_axis(pd.Index(summary.index.astype("str"), name="customer_id"))


def combine_stats(
    parts: Sequence[StatsInputs], cutoffs: Sequence, settings: FeatureSettings
) -> dict[pd.Timestamp, CutoffStats]:
    """The statistics at each cutoff over every group of customers in ``parts`` (each customer in one part).

    Feature statistics combine exactly (integer sums, order-free quantiles) and the BG/NBD summaries are put in
    customer order, so the result equals :func:`cutoff_stats` on the whole data.
    """
    stats = {}
    for cutoff in sorted(map(as_timestamp, cutoffs)):
        summary = pd.concat([p.rfm[cutoff] for p in parts]).sort_index(kind="stable")
        features = combine_global_stats([p.features[cutoff] for p in parts], settings)
        stats[cutoff] = CutoffStats(features, fit_bgnbd(summary))
    return stats


def cutoff_stats(tables: PreparedTables, cutoffs: Sequence, settings: FeatureSettings) -> dict[pd.Timestamp, CutoffStats]:
    """The statistics at each cutoff, from all of ``tables``."""
    return {
        cutoff: CutoffStats(
            compute_global_stats(tables, cutoff, settings), fit_bgnbd(rfm_summary(tables.transactions, cutoff))
        )
        for cutoff in sorted(map(as_timestamp, cutoffs))
    }


def time_of_year(as_of) -> dict[str, float]:
    """The :data:`TIME_OF_YEAR_COLUMNS` of ``as_of``: sin and cos of 2 pi x (day of the year) / 365.25."""
    angle = 2 * np.pi * as_timestamp(as_of).day_of_year / YEAR_DAYS
    return dict(zip(TIME_OF_YEAR_COLUMNS, (float(np.sin(angle)), float(np.cos(angle))), strict=True))


def spans_a_year(cutoffs: Sequence) -> bool:
    """Whether cutoffs reach a year apart: only then can a model learn what the time of year does."""
    stamps = sorted(map(as_timestamp, cutoffs))
    return len(stamps) > 1 and stamps[-1] - stamps[0] >= pd.Timedelta(days=365)


def scoring_frame(
    tables: PreparedTables,
    as_of: pd.Timestamp,
    settings: FeatureSettings,
    churn: ChurnDefinition,
    stats: CutoffStats | None = None,
    with_time_of_year: bool = False,
) -> pd.DataFrame:
    """Features (and BG/NBD outputs) of every customer active at ``as_of``, from events strictly before it.

    ``stats`` are the statistics over all customers; computed from ``tables`` when not given (pass them when
    ``tables`` is one bucket of customers). ``with_time_of_year`` adds the :data:`TIME_OF_YEAR_COLUMNS`.
    """
    as_of = as_timestamp(as_of)
    summary = None
    if stats is None:
        # From these tables: their BG/NBD summary serves both the fit and the features. The fit (numpy and scipy
        # on whole arrays, mostly outside the GIL) runs in a second thread while the features are built.
        with ThreadPoolExecutor(1) as pool:
            fitted = pool.submit(_summary_and_fit, tables.transactions, as_of)
            features = build_feature_table(
                tables, as_of, settings, churn, global_stats=compute_global_stats(tables, as_of, settings)
            )
            summary, params = fitted.result()
    else:
        features = build_feature_table(tables, as_of, settings, churn, global_stats=stats.features)
        params = stats.bgnbd
    bgnbd = bgnbd_features(
        tables.transactions, features["customer_id"], as_of, churn.horizon_days, params, summary=summary
    )
    frame = features.join(bgnbd, on="customer_id")
    return frame.assign(**time_of_year(as_of)) if with_time_of_year else frame


def _summary_and_fit(transactions: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, BgNbdParams]:
    summary = rfm_summary(transactions, as_of)
    return summary, fit_bgnbd(summary)


def model_frames(
    tables: PreparedTables,
    cutoffs: list[pd.Timestamp],
    settings: FeatureSettings,
    churn: ChurnDefinition,
    progress: Callable[[str], None] = lambda message: None,
    stats: Mapping[pd.Timestamp, CutoffStats] | None = None,
    customer_share: float = 1.0,
    with_time_of_year: bool = False,
) -> pd.DataFrame:
    """Training snapshots at every cutoff with BG/NBD outputs and the churn label (``stats``,
    ``with_time_of_year``: as in scoring_frame).

    Rows (customer_id, as_of, features..., BG/NBD outputs..., churned), cutoffs oldest first, customers sorted.
    With ``customer_share`` < 1 only the customers of :func:`models.snapshots.in_training_sample` get rows; the
    statistics still come from every customer.
    """
    if len(cutoffs) == 0:
        raise ValueError("no cutoffs given: training snapshots need at least one as-of date")
    progress(f"features at {len(cutoffs)} cutoffs")
    stats = stats if stats is not None else cutoff_stats(tables, cutoffs, settings)
    tables = sample_customers(tables, customer_share)
    parts = []
    for cutoff in sorted(map(as_timestamp, cutoffs)):
        frame = scoring_frame(tables, cutoff, settings, churn, stats[cutoff], with_time_of_year)
        labels = churn_labels(tables.transactions, frame["customer_id"], cutoff, churn.horizon_days)
        frame.insert(1, "as_of", pd.Series(cutoff, index=frame.index, dtype="datetime64[ns]"))
        parts.append(frame.assign(**{LABEL: labels.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def model_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's inputs: every column but the keys and the label, in frame order."""
    return [c for c in frame.columns if c not in KEY_COLUMNS and c != LABEL]


def fixed_categories(settings: FeatureSettings) -> dict[str, tuple[str, ...]]:
    """Categorical features whose category set the registry fixes (others take the training data's)."""
    return {s.name: tuple(s.categories) for s in feature_specs(settings) if s.categories is not None}


# Model inputs, never reasons: a BG/NBD probability is the baseline model's own estimate, not something a person
# can act on, and next to the list's churn_probability it reads as a contradiction (an empty reason template).
BGNBD_SPECS = (
    FeatureSpec("bgnbd_p_alive", bgnbd_features, {}, default=1.0, unit="probability", risk_direction=-1,
                reason="", family="recency"),
    FeatureSpec("bgnbd_expected_purchases", bgnbd_features, {}, default=0.0, unit="count", risk_direction=-1,
                reason="", family="recency"),
    FeatureSpec("bgnbd_p_no_purchase", bgnbd_features, {}, default=0.0, unit="probability", risk_direction=+1,
                reason="", family="recency"),
)


def model_specs(settings: FeatureSettings) -> dict[str, FeatureSpec]:
    """Every model input's spec by name: the feature registry plus the BG/NBD outputs."""
    return {spec.name: spec for spec in (*feature_specs(settings), *BGNBD_SPECS)}
