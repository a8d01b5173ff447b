"""The relationship: account manager (still there, or a successor? left when?) and the customer's segment.

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
from features.tables import as_timestamp

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


def has_account_manager(customers: pd.DataFrame, account_managers: pd.DataFrame, *, as_of) -> pd.Series:
    """1.0 when the customer has an account manager at as_of, else 0.0: their own manager if they had not left
    before as_of, else the first along that manager's successors (``successor_id``, followed while they left too)
    who had not. This is the owner resolution of :mod:`models.owners` with owner_status account_manager or
    successor (a team lead who takes the customers over is not their account manager)."""
    assigned = customers["account_manager_id"].notna().to_numpy()
    managed = assigned & _managed_along_successors(customers, account_managers, as_timestamp(as_of))
    key = customer_key(customers["customer_id"])
    values = np.zeros(key.n)
    values[key.codes] = managed.astype("float64")
    present = np.zeros(key.n, dtype=bool)
    present[key.codes] = True
    return customer_series(key, values, present, name="has_account_manager")


def _managed_along_successors(customers: pd.DataFrame, account_managers: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Per customer row: its manager, or one along the manager's successors, had not left before ``as_of``. A
    manager id without an account_managers row is taken to be employed (as the owner resolution does)."""
    if account_managers.empty:
        return np.ones(len(customers), dtype=bool)
    managers = account_managers.drop_duplicates("account_manager_id", keep="last")
    ids = managers["account_manager_id"].astype("str").tolist()
    left = dict(zip(ids, (managers["departed_at"] < as_of).to_numpy(dtype=bool, na_value=False).tolist(), strict=True))
    successors = managers["successor_id"] if "successor_id" in managers.columns else pd.Series(pd.NA, index=managers.index)
    successor = {m: s for m, s in zip(ids, successors.astype("str").tolist(), strict=True) if not pd.isna(s)}
    covered = []
    for manager in ids:  # managers are few: a walk along each one's successors
        current, seen = manager, set()
        while current is not None and left.get(current, False) and current not in seen:
            seen.add(current)
            current = successor.get(current)
        covered.append(current is not None and not left.get(current, False))
    position = pc.index_in(_large_strings(customers["account_manager_id"]), _large_strings(pd.Series(ids)))
    # Position -1: a manager id without a row, taken to be employed.
    return np.append(np.array(covered, dtype=bool), True)[position.fill_null(-1).to_numpy(zero_copy_only=False)]


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
