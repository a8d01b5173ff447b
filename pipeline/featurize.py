"""Step: the point-in-time feature table of a data directory at an as-of date, on the configured engine."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd

from features import build_feature_table
from features.tables import as_timestamp
from models.winback import spreadsheet_safe
from pipeline.config import Config
from pipeline.engine import Buckets, Engine, as_of_span, feature_stats, load_buckets, open_engine
from pipeline.errors import ChurnError, Interrupted
from pipeline.io import check_table_file_name, refuse_overwriting_inputs, write_frame
from pipeline.outputs import check_writable


def feature_table(engine: Engine, buckets: Buckets, as_of: pd.Timestamp, cfg: Config) -> pd.DataFrame:
    """:func:`features.build_feature_table` of every bucket with the global statistics, customers sorted."""
    stats = feature_stats(engine, buckets, as_of, cfg.features)
    parts = engine.gather(
        engine.map(
            build_feature_table, buckets.handles,
            as_of=as_of, settings=cfg.features, churn=cfg.churn, global_stats=stats,
        )
    )
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values("customer_id", kind="stable", ignore_index=True) if len(parts) > 1 else table


def write_features(data_dir: str | os.PathLike, as_of: date, out: Path, cfg: Config) -> int:
    """Write the feature table of customers active at ``as_of``; returns its number of rows.

    A CSV gets the list's protection against spreadsheet formulas (text cells starting with = + - @ are quoted).
    """
    as_of, out = as_timestamp(as_of), Path(out)
    check_writable(out, "--out")
    check_table_file_name(out, "--out")
    refuse_overwriting_inputs(data_dir, {"--out": out})
    try:
        with open_engine(cfg.engine) as engine:
            span = as_of_span(as_of, cfg.features)
            buckets = load_buckets(engine, data_dir, cfg.engine, cfg.input.limits(), span)
            table = feature_table(engine, buckets, as_of, cfg)
        write_frame(table if out.suffix == ".parquet" else spreadsheet_safe(table), out)
    except KeyboardInterrupt:
        raise Interrupted(f"the feature table was not written; {out} is as it was.") from None
    except OSError as error:
        raise ChurnError(
            f"Could not write {out} ({error.strerror}); a previous file there is unchanged.",
            "check the output folder (space, permissions) and run again",
        ) from None
    return len(table)
