"""The relationship: account manager (still there? left when?) and the customer's segment.

The customers table is a snapshot (today's assignment); account_managers is already cut at as_of, so a
departure at or after as_of is not known yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.aggregate import as_of_day, customer_key, customer_series, epoch_days, text_filled
from features.memo import per_frame

UNKNOWN_SEGMENT = "unknown"


@per_frame
def _manager_departure_day(customers: pd.DataFrame, account_managers: pd.DataFrame) -> np.ndarray:
    """Per customer row, the day its account manager departed (NaN: no manager, or none left before as_of)."""
    if account_managers.empty:
        return np.full(len(customers), np.nan)
    # A repeated manager id takes its last row: looked up in the rows reversed, where that row comes first.
    # Arrow's hash lookup of every customer row in the few managers (no Python string per row).
    managers = account_managers.iloc[::-1]
    position = pc.index_in(_large_strings(customers["account_manager_id"]), _large_strings(managers["account_manager_id"]))
    departed = np.append(epoch_days(managers["departed_at"]), np.nan)  # position -1 (no manager): the NaN
    return departed[position.fill_null(-1).to_numpy(zero_copy_only=False)]


def _large_strings(values: pd.Series) -> pa.Array:
    """A text column as Arrow large strings (the type both sides of a lookup must share)."""
    return pa.array(values.astype("str").array).cast(pa.large_string())


def has_account_manager(customers: pd.DataFrame, account_managers: pd.DataFrame) -> pd.Series:
    """1.0 when the customer has an account manager who had not left before as_of, else 0.0."""
    assigned = customers["account_manager_id"].notna().to_numpy()
    departed = ~np.isnan(_manager_departure_day(customers, account_managers))
    key = customer_key(customers["customer_id"])
    values = np.zeros(key.n)
    values[key.codes] = (assigned & ~departed).astype("float64")
    present = np.zeros(key.n, dtype=bool)
    present[key.codes] = True
    return customer_series(key, values, present, name="has_account_manager")


def days_since_manager_departed(
    customers: pd.DataFrame, account_managers: pd.DataFrame, *, as_of, cap_days: int
) -> pd.Series:
    """Whole days since the customer's account manager left, capped at ``cap_days`` (only those who left)."""
    departed = _manager_departure_day(customers, account_managers)
    key = customer_key(customers["customer_id"])
    days = np.full(key.n, np.nan)
    days[key.codes] = np.minimum(as_of_day(as_of) - departed, cap_days)
    return customer_series(key, days, ~np.isnan(days), name="days_since_manager_departed")


def segment(customers: pd.DataFrame) -> pd.Series:
    """The customer's segment as text; NA becomes "unknown"."""
    key = customer_key(customers["customer_id"])
    return pd.Series(
        text_filled(customers["segment"], UNKNOWN_SEGMENT).array, index=key.index(key.codes), name="segment"
    )
