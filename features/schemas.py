"""The value rules of the data contract as pandera schemas, one per table, on conformed dtypes (features.tables).

Column names and dtypes follow ``features.tables.COLUMNS`` / ``PANDAS_DTYPE``; optional columns may be absent.
Validate with ``TABLE_SCHEMAS[name].validate(frame, lazy=True)`` to collect every failure at once.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

# Anything outside these years is a typo (a two-digit year, a placeholder such as 9999-12-31), not an event.
EARLIEST_TIMESTAMP = pd.Timestamp("1900-01-01")
END_OF_TIMESTAMPS = pd.Timestamp("2101-01-01")  # exclusive: every moment of the year 2100 is allowed
SCORE_RANGE = {"min_value": 1, "max_value": 5}
# Schemas rather than DataFrameModel classes: building a model's schema makes pandera import dask.dataframe whenever
# dask is installed (it is, for the dask engine), ~2 s on every command that reads data.


def not_blank(values: pd.Series) -> pd.Series:
    """True where a string has at least one non-space character (NA is False; nullability is checked apart)."""
    return values.str.strip().str.len() > 0


NOT_BLANK = pa.Check(not_blank, name="not_blank")


def _id(*, required: bool = True, nullable: bool = False, unique: bool = False) -> pa.Column:
    """An id: text that is not only spaces (vectorised string methods: a regex check is several times slower)."""
    return pa.Column("str", checks=NOT_BLANK, required=required, nullable=nullable, unique=unique)


def _timestamp(*, required: bool = True, nullable: bool = False) -> pa.Column:
    # coerce=True turns any datetime unit (pandas 3 parses to us or s) into the datetime64[ns] of our policy.
    return pa.Column(
        "datetime64[ns]",
        checks=[pa.Check.ge(EARLIEST_TIMESTAMP), pa.Check.lt(END_OF_TIMESTAMPS)],
        required=required,
        nullable=nullable,
        coerce=True,
    )


def _optional(dtype, *checks: pa.Check) -> pa.Column:
    return pa.Column(dtype, checks=list(checks), required=False, nullable=True)


def _table(name: str, columns: dict[str, pa.Column], checks: list[pa.Check] | None = None) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, checks=checks, strict=False, name=name)  # extra columns are kept


def _resolved_not_before_opened(frame: pd.DataFrame) -> pd.Series:
    """A complaint cannot be resolved before it was opened (empty resolved_at = still open)."""
    if "resolved_at" not in frame.columns:
        return pd.Series(True, index=frame.index)
    return ~(frame["resolved_at"] < frame["opened_at"])


SCORE = pa.Check.in_range(**SCORE_RANGE)
TABLE_SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "transactions": _table("Transactions", {
        "customer_id": _id(),
        "timestamp": _timestamp(),
        "amount": pa.Column("float64"),  # negative = a return or refund, legitimate
        "transaction_id": _id(required=False, nullable=True, unique=True),
        "quantity": _optional("float64"),
        "list_amount": _optional("float64", pa.Check.ge(0)),
        "promo": _optional("boolean"),
        "category": _optional("str"),
        "channel": _optional("str"),
    }),
    "customers": _table("Customers", {
        "customer_id": _id(unique=True),
        "signup_date": _timestamp(required=False, nullable=True),
        "segment": _optional("str"),
        "account_manager_id": _id(required=False, nullable=True),
        "wallet_estimate": _optional("float64", pa.Check.ge(0)),
        "margin_rate": _optional("float64", pa.Check.in_range(0, 1)),
    }),
    "complaints": _table("Complaints", {
        "customer_id": _id(),
        "opened_at": _timestamp(),
        "resolved_at": _timestamp(required=False, nullable=True),
        "category": _optional("str"),
        "severity": _optional("Int64", SCORE),
        "satisfaction": _optional("Int64", SCORE),
    }, checks=[pa.Check(_resolved_not_before_opened, name="resolved_before_opened")]),
    "visits": _table("Visits", {
        "customer_id": _id(),
        "timestamp": _timestamp(),
        "channel": _optional("str"),
        "duration_s": _optional("float64", pa.Check.ge(0)),
    }),
    "account_managers": _table("AccountManagers", {
        "account_manager_id": _id(unique=True),
        "departed_at": _timestamp(required=False, nullable=True),
        "successor_id": _id(required=False, nullable=True),
        "team_lead_id": _id(required=False, nullable=True),
    }),
    "contacts": _table("Contacts", {
        "customer_id": _id(),
        "contacted_at": _timestamp(),
        "channel": _optional("str"),
        "action": _optional("str"),
        "campaign_id": _optional("str"),
        "outcome": _optional("str"),
    }),
}
