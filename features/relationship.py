"""The relationship: account manager (still there? left when?) and the customer's segment.

The customers table is a snapshot (today's assignment); account_managers is already cut at as_of, so a
departure at or after as_of is not known yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.aggregate import as_of_day, customer_key, customer_series, epoch_days

UNKNOWN_SEGMENT = "unknown"


def _manager_departure_day(customers: pd.DataFrame, account_managers: pd.DataFrame) -> np.ndarray:
    """Per customer row, the day its account manager departed (NaN: no manager, or none left before as_of)."""
    managers = account_managers.drop_duplicates("account_manager_id", keep="last")
    if managers.empty:
        return np.full(len(customers), np.nan)
    # Few distinct managers: match those, not every customer row (a string index over every row is slow).
    codes, manager_ids = pd.factorize(customers["account_manager_id"])
    position = pd.Index(managers["account_manager_id"]).get_indexer(manager_ids)
    departed = np.where(position >= 0, epoch_days(managers["departed_at"])[position], np.nan)
    return np.append(departed, np.nan)[codes]  # code -1 (no manager): the NaN at the end


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
        customers["segment"].astype("str").fillna(UNKNOWN_SEGMENT).array, index=key.index(key.codes), name="segment"
    )
