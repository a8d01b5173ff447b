"""The previous run's scored table at the output location, read for the week-over-week comparison; and the list
a run was compared with, kept beside its scored table so that a re-run of the same week compares alike."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.dataset as ds

from models.week_over_week import BASIS_COLUMNS, Basis, PreviousList
from pipeline.bucket_store import SCORED_MANIFEST, filesystem, write_parquet

# In the scored table's folder; the leading underscore keeps Parquet readers of the folder from taking it as a part.
COMPARED_WITH = "_compared_with.parquet"


def write_compared_with(root: str, basis: Basis) -> None:
    """Keep the rows a list was compared with in its scored table's folder (``root``)."""
    write_parquet(basis.rows[list(BASIS_COLUMNS)].reset_index(drop=True), f"{root}/{COMPARED_WITH}")


def previous_list(location) -> PreviousList | None:
    """The scored table at ``location`` (its as-of date, the rows a comparison needs, and the list it was compared
    with), or None when there is none there or it cannot be read (then this week's list has no comparison)."""
    fs, path = filesystem(location)
    path = path.rstrip("/")
    try:
        if not fs.isfile(f"{path}/{SCORED_MANIFEST}"):
            return None
        manifest = json.loads(fs.cat_file(f"{path}/{SCORED_MANIFEST}"))
        dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
        if not set(BASIS_COLUMNS) <= set(dataset.schema.names):
            return None
        rows = dataset.to_table(columns=list(BASIS_COLUMNS)).to_pandas()
        compared_with = manifest.get("compared_with")
        compared_rows = None
        if compared_with and fs.isfile(f"{path}/{COMPARED_WITH}"):
            with fs.open(f"{path}/{COMPARED_WITH}", "rb") as handle:
                compared_rows = pd.read_parquet(handle)
        return PreviousList(
            as_of=pd.Timestamp(manifest["as_of"]),
            rows=rows,
            compared_with=pd.Timestamp(compared_with) if compared_with and compared_rows is not None else None,
            compared_rows=compared_rows,
        )
    except (OSError, ValueError, KeyError):  # an unreadable or foreign table: no comparison this week
        return None
