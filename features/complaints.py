"""Complaints: how many, about what, how many still open, how fast they were resolved, how that was rated.

The complaints table is already cut at as_of (:func:`features.cutoff.events_before`): a resolution at or after
as_of is not known yet, so such a complaint counts as open and its rating is unknown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.aggregate import as_of_day, customer_series, epoch_days, label_counts, per_customer
from features.cutoff import NS_PER_DAY, window_rows
from features.memo import per_frame
from features.settings import OTHER_LABEL


def complaint_count(complaints: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Complaints opened in the last ``window_days``."""
    recent = window_rows(complaints, "opened_at", end=as_of, days=window_days)
    return per_customer(recent["customer_id"], how="count", name=f"complaint_count_{window_days}d")


def complaint_count_by_category(
    complaints: pd.DataFrame, *, as_of, window_days: int, category: str, categories: tuple[str, ...]
) -> pd.Series:
    """Complaints of one category opened in the last ``window_days``: one of ``categories`` (those counted apart)
    or "other" (every other value, and NA)."""
    labels = (*categories, OTHER_LABEL)
    key, counts = label_counts(complaints, "opened_at", as_of, window_days, "category", labels)
    of_category = counts[:, labels.index(category)]
    return customer_series(key, of_category, of_category > 0, name=f"complaints_{category}_{window_days}d")


def _open(complaints: pd.DataFrame) -> np.ndarray:
    return complaints["resolved_at"].isna().to_numpy()


def open_complaints(complaints: pd.DataFrame) -> pd.Series:
    """Complaints not resolved before as_of."""
    return per_customer(
        complaints["customer_id"], how="count", where=_open(complaints), name="open_complaints"
    )


def oldest_open_complaint_age_days(complaints: pd.DataFrame, *, as_of) -> pd.Series:
    """Whole days since the oldest still-open complaint was opened."""
    oldest = per_customer(
        complaints["customer_id"],
        epoch_days(complaints["opened_at"]),
        how="min",
        where=_open(complaints),
        name="oldest_open_complaint_age_days",
    )
    return as_of_day(as_of) - oldest


@per_frame
def _resolution_days(complaints: pd.DataFrame, as_of, window_days: int) -> tuple[pd.Series, np.ndarray]:
    """Of complaints opened in the last ``window_days``: customer ids, and days from opening to resolution
    (floored at 0; NaN while still open)."""
    recent = window_rows(complaints, "opened_at", end=as_of, days=window_days)
    opened = recent["opened_at"].to_numpy(dtype="datetime64[ns]")
    resolved = recent["resolved_at"].to_numpy(dtype="datetime64[ns]")
    days = np.maximum((resolved - opened).astype("int64") / NS_PER_DAY, 0.0)
    return recent["customer_id"], np.where(np.isnat(resolved), np.nan, days)


def days_to_resolve_mean(complaints: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Mean days from opening to resolution over resolved complaints opened in the last ``window_days``."""
    customer_id, days = _resolution_days(complaints, as_of, window_days)
    return per_customer(customer_id, days, how="mean", where=~np.isnan(days), name="days_to_resolve_mean")


def days_to_resolve_max(complaints: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Longest days from opening to resolution over resolved complaints opened in the last ``window_days``."""
    customer_id, days = _resolution_days(complaints, as_of, window_days)
    return per_customer(customer_id, days, how="max", where=~np.isnan(days), name="days_to_resolve_max")


def worst_satisfaction(complaints: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Lowest resolution rating (1-5) over complaints opened in the last ``window_days``."""
    recent = window_rows(complaints, "opened_at", end=as_of, days=window_days)
    rating = recent["satisfaction"].to_numpy(dtype="float64", na_value=np.nan)
    return per_customer(recent["customer_id"], rating, how="min", where=~np.isnan(rating), name="worst_satisfaction")
