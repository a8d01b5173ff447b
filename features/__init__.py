"""Point-in-time churn features: event tables in, one row of features per active customer out (pure code)."""

from features.assembly import (
    GlobalStats,
    GlobalStatsPart,
    build_feature_table,
    combine_global_stats,
    compute_global_stats,
    global_stats_part,
)
from features.buckets import build_feature_table_bucketed, customer_bucket, split_by_bucket
from features.cutoff import active_customers, events_before
from features.labels import churn_labels
from features.registry import FeatureSpec, feature_dtypes, feature_specs
from features.settings import ChurnDefinition, FeatureSettings, LifecycleThresholds
from features.tables import Tables, as_timestamp, make_tables

__all__ = [
    "ChurnDefinition",
    "FeatureSettings",
    "FeatureSpec",
    "GlobalStats",
    "GlobalStatsPart",
    "LifecycleThresholds",
    "Tables",
    "active_customers",
    "as_timestamp",
    "build_feature_table",
    "build_feature_table_bucketed",
    "churn_labels",
    "combine_global_stats",
    "compute_global_stats",
    "customer_bucket",
    "events_before",
    "feature_dtypes",
    "feature_specs",
    "global_stats_part",
    "make_tables",
    "split_by_bucket",
]
