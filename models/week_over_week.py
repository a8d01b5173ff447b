"""Week over week: this list against the previous one written to the same place.

The basis is the previous list when it is older; when the previous list has the same as-of date (a re-run of
the week), the basis it was itself compared with, which it keeps beside it, so a re-run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BASIS_COLUMNS = ("customer_id", "churn_probability", "in_target")


@dataclass(frozen=True)
class PreviousList:
    """An earlier scored table: its as-of date and rows (:data:`BASIS_COLUMNS`), and the list it was itself
    compared with (its as-of date and rows; None: nothing)."""

    as_of: pd.Timestamp
    rows: pd.DataFrame
    compared_with: pd.Timestamp | None = None
    compared_rows: pd.DataFrame | None = None


@dataclass(frozen=True)
class Basis:
    """What this week is compared with: that list's as-of date and its rows (customer_id, churn_probability,
    in_target)."""

    as_of: pd.Timestamp
    rows: pd.DataFrame


def comparison_basis(previous: PreviousList | None, as_of: pd.Timestamp) -> Basis | None:
    """The list to compare the list of ``as_of`` with, or None (no earlier list, or only a later one)."""
    if previous is None or previous.as_of > as_of:
        return None
    if previous.as_of < as_of:
        return Basis(previous.as_of, previous.rows[list(BASIS_COLUMNS)])
    if previous.compared_with is None or previous.compared_rows is None:
        return None
    return Basis(previous.compared_with, previous.compared_rows[list(BASIS_COLUMNS)])


def week_over_week(
    customer_ids: pd.Series, churn_probability: np.ndarray, in_target: np.ndarray, basis: Basis | None
) -> pd.DataFrame:
    """Per row: ``new_this_week`` (in the target now, not in the basis's target) and ``risk_change`` (churn
    probability now minus then; NA for customers not on the basis list). Both NA without a basis."""
    n = len(customer_ids)
    if basis is None:
        return pd.DataFrame({"new_this_week": pd.array([None] * n, dtype="boolean"), "risk_change": np.full(n, np.nan)})
    then = basis.rows.drop_duplicates("customer_id", keep="last")
    position = pd.Index(then["customer_id"].astype("str")).get_indexer(customer_ids.astype("str"))
    known = position >= 0
    before_p = np.where(known, then["churn_probability"].to_numpy(dtype="float64")[position], np.nan)
    before_target = np.where(known, then["in_target"].to_numpy(dtype=bool)[position], False)
    return pd.DataFrame({
        "new_this_week": pd.array(np.asarray(in_target, dtype=bool) & ~before_target, dtype="boolean"),
        "risk_change": np.asarray(churn_probability, dtype="float64") - before_p,
    })


def left_the_target(customer_ids: pd.Series, in_target: np.ndarray, basis: Basis | None) -> pd.Index:
    """Ids in the basis's target that are not in the target now (or no longer on the list)."""
    if basis is None:
        return pd.Index([], dtype="str")
    was = pd.Index(basis.rows.loc[basis.rows["in_target"].to_numpy(dtype=bool), "customer_id"].astype("str"))
    now = pd.Index(customer_ids[np.asarray(in_target, dtype=bool)].astype("str"))
    return was.difference(now)
