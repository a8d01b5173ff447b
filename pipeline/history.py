"""Past lists: the previous run's scored table at the output location (for the week-over-week comparison, with
the list it was itself compared with, so that a re-run of the same week compares alike), and the list history
that `churn score` keeps and `churn evaluate` reads (with the measured save rates beside it)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from models.campaign import LIST_ROW_COLUMNS
from models.week_over_week import BASIS_COLUMNS, Basis, PreviousList
from pipeline.bucket_store import (
    SCORED_MANIFEST,
    filesystem,
    finish_scored_table,
    is_url,
    scored_part,
    write_parquet,
)
from pipeline.errors import ChurnError

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


# The list history: one folder per list, named by its as-of date, holding the scored table (as churn score writes
# it beside the list), the lapsed list's rows and the manifest with the campaign; save_rates.csv beside them.
SAVE_RATES = "save_rates.csv"
LAPSED_ROWS = "_lapsed.parquet"  # the underscore keeps Parquet readers of the folder from taking it as a part
WORKLIST_READ = ("customer_id", "churn_probability", "customer_value", "value_tier", "in_target", "control_group",
                 "action_id", "owner_id")
LAPSED_READ = ("customer_id", "reactivation_probability", "past_value", "value_tier", "in_target", "control_group",
               "action_id", "owner_id")
NO_HISTORY_FIX = ("`churn score` keeps every list in <folder of --out>/history/ (or --history DIR); give "
                  "--history the folder that holds them")


@dataclass(frozen=True)
class HistoryEntry:
    """One list kept in the history: where, its as-of date, its campaign (None: made before campaigns were
    recorded), the control share it drew its arms with and the horizon its outcome is measured over."""

    path: str
    as_of: pd.Timestamp
    campaign_id: str | None
    control_share: float
    horizon_days: int


def default_history(out: str | os.PathLike) -> str:
    """The history beside an output: ``<folder of out>/history``."""
    location = str(out).rstrip("/")
    return f"{location.rsplit('/', 1)[0] if '/' in location else '.'}/history"


def history_entry(history: str | os.PathLike, as_of: pd.Timestamp) -> str:
    return f"{str(history).rstrip('/')}/{as_of:%Y-%m-%d}"


def save_rates_path(history: str | os.PathLike) -> Path:
    return Path(history) / SAVE_RATES


def keep_in_history(scored_root: str, entry_root: str, lapsed: pd.DataFrame) -> None:
    """Copy the scored table at ``scored_root`` (every file, its manifest included) into ``entry_root``, with
    the lapsed list's rows beside it."""
    source_fs, source = filesystem(scored_root)
    target_fs, target = filesystem(entry_root)
    source = source.rstrip("/")
    for name in source_fs.find(source):
        copy = f"{target.rstrip('/')}/{name[len(source) + 1:]}"
        target_fs.makedirs(copy.rsplit("/", 1)[0], exist_ok=True)
        with source_fs.open(name, "rb") as reading, target_fs.open(copy, "wb") as writing:
            shutil.copyfileobj(reading, writing)
    write_parquet(lapsed.reset_index(drop=True), f"{entry_root}/{LAPSED_ROWS}")


def write_list_entry(root: str, worklist: pd.DataFrame, lapsed: pd.DataFrame, about: dict) -> None:
    """A history entry of lists made elsewhere (e.g. simulated): the worklist's rows as the scored table's one
    part, the lapsed rows beside it, and the manifest (``about``: as_of, campaign_id, control_share, ...)."""
    digest = write_parquet(worklist.reset_index(drop=True), scored_part(root, 0))
    write_parquet(lapsed.reset_index(drop=True), f"{root}/{LAPSED_ROWS}")
    finish_scored_table(root, [digest], about)


def history_entries(history: str | os.PathLike) -> list[HistoryEntry]:
    """Every list kept in ``history`` (a folder holding one folder per list), oldest first."""
    fs, path = filesystem(history)
    if not fs.isdir(path):
        raise ChurnError(f"No list history at {history}: the folder does not exist.", NO_HISTORY_FIX)
    entries = []
    for folder in sorted(fs.ls(path, detail=False)):
        manifest_path = f"{folder}/{SCORED_MANIFEST}"
        if not fs.isfile(manifest_path):
            continue
        try:
            manifest = json.loads(fs.cat_file(manifest_path))
            as_of = pd.Timestamp(manifest["as_of"])
        except (ValueError, KeyError, TypeError):
            raise ChurnError(f"{manifest_path}: not the manifest of a kept list (no readable as_of).",
                             "remove that folder from the history, or restore it from a backup") from None
        entries.append(HistoryEntry(
            fs.unstrip_protocol(folder) if is_url(history) else folder, as_of, manifest.get("campaign_id"),
            float(manifest.get("control_share", 0.0)), int(manifest.get("horizon_days", 0)),
        ))
    if not entries:
        raise ChurnError(f"No list history in {history}: no folder there holds a kept list ({SCORED_MANIFEST}).",
                         NO_HISTORY_FIX)
    return sorted(entries, key=lambda e: e.as_of)


def list_rows(entry: HistoryEntry) -> pd.DataFrame:
    """The rows of a kept list the evaluation reads (models.campaign.LIST_ROW_COLUMNS): the worklist's, and the
    lapsed list's (their covariate: 1 - the reactivation probability; their value: the past value)."""
    fs, path = filesystem(entry.path)
    try:
        dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
        missing = sorted(set(WORKLIST_READ) - set(dataset.schema.names))
        if missing:
            raise ChurnError(f"{entry.path}: the kept list lacks the columns {', '.join(missing)}.",
                             "keep lists with `churn score` of this version")
        worklist = dataset.to_table(columns=list(WORKLIST_READ)).to_pandas()
        lapsed = None
        if fs.isfile(f"{path}/{LAPSED_ROWS}"):
            with fs.open(f"{path}/{LAPSED_ROWS}", "rb") as handle:
                lapsed = pd.read_parquet(handle, columns=list(LAPSED_READ))
    except (OSError, ValueError) as error:
        raise ChurnError(f"{entry.path}: the kept list cannot be read ({error}).",
                         "remove that folder from the history, or restore it from a backup") from None
    parts = [worklist.assign(list="worklist")]
    if lapsed is not None and len(lapsed):
        parts.append(lapsed.assign(list="lapsed", churn_probability=1 - lapsed["reactivation_probability"],
                                   customer_value=lapsed["past_value"]))
    rows = pd.concat([part[list(WORKLIST_READ) + ["list"]] for part in parts], ignore_index=True)
    return rows.assign(
        as_of=entry.as_of, customer_id=rows["customer_id"].astype("str"),
        in_target=rows["in_target"].astype(bool), control_group=rows["control_group"].astype(bool),
        owner_id=rows["owner_id"].astype("object").where(rows["owner_id"].notna(), None),
        action_id=rows["action_id"].astype("object").where(rows["action_id"].notna(), None),
    )[list(LIST_ROW_COLUMNS)]


def latest_kept_list(history: str | os.PathLike, as_of: pd.Timestamp) -> PreviousList | None:
    """The latest list kept in ``history`` up to ``as_of`` (None when there is none), for the week-over-week
    comparison when the output location holds no earlier scored table."""
    try:
        entries = [e for e in history_entries(history) if e.as_of <= as_of]
    except ChurnError:  # no history yet
        return None
    return previous_list(max(entries, key=lambda e: e.as_of).path) if entries else None


def read_save_rates(history: str | os.PathLike) -> pd.DataFrame | None:
    """The measured save rates `churn evaluate` kept beside the history (None when there are none)."""
    path = save_rates_path(history)
    if not path.is_file():
        return None
    try:
        rates = pd.read_csv(path, dtype={"action": "str", "campaign_id": "str"})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ChurnError(f"{path}: cannot be read ({error}).", "run `churn evaluate` again to rewrite it") from None
    missing = {"action", "prior", "measured", "used", "treated_n", "control_n"} - set(rates.columns)
    if missing:
        raise ChurnError(f"{path}: columns {', '.join(sorted(missing))} are missing.",
                         "run `churn evaluate` again to rewrite it")
    return rates
