"""Step: load a data directory, build point-in-time features at an as-of date, write them atomically."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from features import build_feature_table
from features.tables import as_timestamp
from pipeline.config import Config
from pipeline.io import load_data_dir, write_frame


def write_features(data_dir: Path, as_of: date, out: Path, cfg: Config) -> int:
    """Write the feature table of customers active at ``as_of``; returns its number of rows."""
    tables, _warnings = load_data_dir(data_dir)
    table = build_feature_table(tables, as_timestamp(as_of), cfg.features, cfg.churn)
    write_frame(table, Path(out))
    return len(table)
