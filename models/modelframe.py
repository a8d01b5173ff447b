"""Model input frames: point-in-time features plus BG/NBD outputs, per as-of date, with labels for training."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from features import ChurnDefinition, FeatureSettings, FeatureSpec, Tables, build_feature_table, feature_specs
from features.tables import EVENT_TIME_COLUMN
from models.bgnbd import bgnbd_features
from models.snapshots import training_snapshots

KEY_COLUMNS = ("customer_id", "as_of")
LABEL = "churned"


def data_end(tables: Tables) -> pd.Timestamp:
    """The day after the last event in any event table: outcomes are observed up to (not including) it."""
    last = max(
        getattr(tables, name)[column].max()
        for name, column in EVENT_TIME_COLUMN.items()
        if len(getattr(tables, name))
    )
    return last.normalize() + pd.Timedelta(days=1)


def _with_bgnbd(frame: pd.DataFrame, transactions: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int):
    """``frame`` with BG/NBD P(alive), expected purchases and P(no purchase), fitted on pre-as_of purchases."""
    bgnbd = bgnbd_features(transactions, frame["customer_id"], as_of, horizon_days)
    return frame.join(bgnbd, on="customer_id")


def scoring_frame(tables: Tables, as_of: pd.Timestamp, settings: FeatureSettings, churn: ChurnDefinition):
    """Features (and BG/NBD outputs) of every customer active at ``as_of``, from events strictly before it."""
    features = build_feature_table(tables, as_of, settings, churn)
    return _with_bgnbd(features, tables.transactions, as_of, churn.horizon_days)


def model_frames(
    tables: Tables,
    cutoffs: list[pd.Timestamp],
    settings: FeatureSettings,
    churn: ChurnDefinition,
    progress: Callable[[str], None] = lambda message: None,
) -> pd.DataFrame:
    """Training snapshots at every cutoff with BG/NBD outputs and the churn label."""
    progress(f"features at {len(cutoffs)} cutoffs")
    snapshots = training_snapshots(tables, cutoffs, settings, churn)
    parts = [
        _with_bgnbd(part, tables.transactions, cutoff, churn.horizon_days)
        for cutoff, part in snapshots.groupby("as_of", sort=True)
    ]
    frame = pd.concat(parts, ignore_index=True)
    return frame[[c for c in frame.columns if c != LABEL] + [LABEL]]


def model_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's inputs: every column but the keys and the label, in frame order."""
    return [c for c in frame.columns if c not in KEY_COLUMNS and c != LABEL]


def fixed_categories(settings: FeatureSettings) -> dict[str, tuple[str, ...]]:
    """Categorical features whose category set the registry fixes (others take the training data's)."""
    return {s.name: tuple(s.categories) for s in feature_specs(settings) if s.categories is not None}


BGNBD_SPECS = (
    FeatureSpec("bgnbd_p_alive", bgnbd_features, {}, default=1.0, unit="probability", risk_direction=-1,
                reason="purchase pattern says only {value:.0%} likely still active", family="recency"),
    FeatureSpec("bgnbd_expected_purchases", bgnbd_features, {}, default=0.0, unit="count", risk_direction=-1,
                reason="expected to buy only {value:.1f} times in the coming period", family="recency"),
    FeatureSpec("bgnbd_p_no_purchase", bgnbd_features, {}, default=0.0, unit="probability", risk_direction=+1,
                reason="purchase pattern gives a {value:.0%} chance of no purchase in the coming period",
                family="recency"),
)


def model_specs(settings: FeatureSettings) -> dict[str, FeatureSpec]:
    """Every model input's spec by name: the feature registry plus the BG/NBD outputs."""
    return {spec.name: spec for spec in (*feature_specs(settings), *BGNBD_SPECS)}
