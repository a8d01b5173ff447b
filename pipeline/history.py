"""The previous run's scored table at the output location, read for the week-over-week comparison."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.dataset as ds

from models.week_over_week import BASIS_COLUMNS, PreviousList
from pipeline.bucket_store import SCORED_MANIFEST, filesystem

WANTED = ("customer_id", "churn_probability", "in_target", *BASIS_COLUMNS)


def previous_list(location) -> PreviousList | None:
    """The scored table at ``location`` (its manifest's as-of date and the rows the comparison needs), or None
    when there is none there or it cannot be read (then this week's list simply has no comparison)."""
    fs, path = filesystem(location)
    path = path.rstrip("/")
    try:
        if not fs.isfile(f"{path}/{SCORED_MANIFEST}"):
            return None
        manifest = json.loads(fs.cat_file(f"{path}/{SCORED_MANIFEST}"))
        dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive",
                             exclude_invalid_files=True)
        columns = [c for c in WANTED if c in dataset.schema.names]
        if not {"customer_id", "churn_probability", "in_target"} <= set(columns):
            return None
        rows = dataset.to_table(columns=columns).to_pandas()
        compared_with = manifest.get("compared_with")
        return PreviousList(
            as_of=pd.Timestamp(manifest["as_of"]),
            compared_with=pd.Timestamp(compared_with) if compared_with else None,
            rows=rows,
        )
    except (OSError, ValueError, KeyError):  # an unreadable or foreign table: no comparison this week
        return None
