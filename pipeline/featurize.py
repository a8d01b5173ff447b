"""Step: the point-in-time feature table of a data directory at an as-of date, on the configured engine."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd

from features import build_feature_table
from features.tables import as_timestamp
from pipeline.config import Config
from pipeline.engine import Buckets, Engine, global_stats, load_buckets, open_engine
from pipeline.io import write_frame


def feature_table(engine: Engine, buckets: Buckets, as_of: pd.Timestamp, cfg: Config) -> pd.DataFrame:
    """:func:`features.build_feature_table` of every bucket with the global statistics, customers sorted."""
    stats = global_stats(engine, buckets, [as_of], cfg.features)[as_of].features
    parts = engine.gather(
        engine.map(
            build_feature_table, buckets.handles,
            as_of=as_of, settings=cfg.features, churn=cfg.churn, global_stats=stats,
        )
    )
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values("customer_id", kind="stable", ignore_index=True) if len(parts) > 1 else table


def write_features(data_dir: str | os.PathLike, as_of: date, out: Path, cfg: Config) -> int:
    """Write the feature table of customers active at ``as_of``; returns its number of rows."""
    as_of = as_timestamp(as_of)
    with open_engine(cfg.engine) as engine:
        table = feature_table(engine, load_buckets(engine, data_dir, cfg.engine, cfg.input.limits()), as_of, cfg)
    write_frame(table, Path(out))
    return len(table)
