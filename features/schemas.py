"""The value rules of the data contract as pandera models, one per table, on conformed dtypes (features.tables).

Column names and dtypes follow ``features.tables.COLUMNS`` / ``PANDAS_DTYPE``; optional columns may be absent.
Validate with ``Model.validate(frame, lazy=True)`` to collect every failure at once.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# Anything outside these years is a typo (a two-digit year, a placeholder such as 9999-12-31), not an event.
EARLIEST_TIMESTAMP = pd.Timestamp("1900-01-01")
END_OF_TIMESTAMPS = pd.Timestamp("2101-01-01")  # exclusive: every moment of the year 2100 is allowed
SCORE_RANGE = {"min_value": 1, "max_value": 5}


def _timestamp(nullable: bool = False):
    # coerce=True turns any datetime unit (pandas 3 parses to us or s) into the datetime64[ns] of our policy.
    return pa.Field(nullable=nullable, coerce=True, ge=EARLIEST_TIMESTAMP, lt=END_OF_TIMESTAMPS)


def not_blank(values: pd.Series) -> pd.Series:
    """True where a string has at least one non-space character (NA is False; nullability is checked apart)."""
    return values.str.strip().str.len() > 0


class _Table(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are allowed and kept

    # Vectorised string methods rather than str_matches: a regex check is several times slower on big tables.
    @pa.check(r".*_id$", regex=True, name="not_blank")
    def ids_not_blank(cls, ids: Series[str]) -> Series[bool]:
        """An id that is only spaces identifies nobody."""
        return not_blank(ids)


class Transactions(_Table):
    customer_id: Series[str]
    timestamp: Series[pd.Timestamp] = _timestamp()
    amount: Series[float]  # negative = a return or refund, legitimate
    transaction_id: Series[str] | None = pa.Field(nullable=True, unique=True)
    quantity: Series[float] | None = pa.Field(nullable=True)
    list_amount: Series[float] | None = pa.Field(nullable=True, ge=0)
    promo: Series[pd.BooleanDtype] | None = pa.Field(nullable=True)
    category: Series[str] | None = pa.Field(nullable=True)
    channel: Series[str] | None = pa.Field(nullable=True)


class Customers(_Table):
    customer_id: Series[str] = pa.Field(unique=True)
    signup_date: Series[pd.Timestamp] | None = _timestamp(nullable=True)
    segment: Series[str] | None = pa.Field(nullable=True)
    account_manager_id: Series[str] | None = pa.Field(nullable=True)
    wallet_estimate: Series[float] | None = pa.Field(nullable=True, ge=0)


class Complaints(_Table):
    customer_id: Series[str]
    opened_at: Series[pd.Timestamp] = _timestamp()
    resolved_at: Series[pd.Timestamp] | None = _timestamp(nullable=True)
    category: Series[str] | None = pa.Field(nullable=True)
    severity: Series[pd.Int64Dtype] | None = pa.Field(nullable=True, in_range=SCORE_RANGE)
    satisfaction: Series[pd.Int64Dtype] | None = pa.Field(nullable=True, in_range=SCORE_RANGE)

    @pa.dataframe_check(name="resolved_before_opened")
    def resolved_not_before_opened(cls, frame: pd.DataFrame) -> pd.Series:
        """A complaint cannot be resolved before it was opened (empty resolved_at = still open)."""
        if "resolved_at" not in frame.columns:
            return pd.Series(True, index=frame.index)
        return ~(frame["resolved_at"] < frame["opened_at"])


class Visits(_Table):
    customer_id: Series[str]
    timestamp: Series[pd.Timestamp] = _timestamp()
    channel: Series[str] | None = pa.Field(nullable=True)
    duration_s: Series[float] | None = pa.Field(nullable=True, ge=0)


class AccountManagers(_Table):
    account_manager_id: Series[str] = pa.Field(unique=True)
    departed_at: Series[pd.Timestamp] | None = _timestamp(nullable=True)


TABLE_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "transactions": Transactions,
    "customers": Customers,
    "complaints": Complaints,
    "visits": Visits,
    "account_managers": AccountManagers,
}
