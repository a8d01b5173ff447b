"""Point-in-time churn features: event tables in, one row of features per active customer out (pure code)."""

from features.aggregate import prepare_tables
from features.assembly import (
    GlobalStats,
    GlobalStatsPart,
    build_feature_table,
    combine_global_stats,
    compute_global_stats,
    global_stats_part,
)
from features.buckets import customer_bucket, split_by_bucket
from features.cutoff import active_customers, events_before
from features.labels import churn_labels
from features.registry import FeatureSpec, feature_dtypes, feature_specs
from features.settings import ChurnDefinition, FeatureSettings, LifecycleThresholds
from features.tables import PreparedTables, Tables, as_timestamp, make_tables

__all__ = [
    "ChurnDefinition",
    "FeatureSettings",
    "FeatureSpec",
    "GlobalStats",
    "GlobalStatsPart",
    "LifecycleThresholds",
    "PreparedTables",
    "Tables",
    "active_customers",
    "as_timestamp",
    "build_feature_table",
    "churn_labels",
    "combine_global_stats",
    "compute_global_stats",
    "customer_bucket",
    "events_before",
    "feature_dtypes",
    "feature_specs",
    "global_stats_part",
    "make_tables",
    "prepare_tables",
    "split_by_bucket",
]
