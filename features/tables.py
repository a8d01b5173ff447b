"""The six contract tables as one frozen container, with their columns, dtypes and the datetime policy.

Datetime policy (applied everywhere): every timestamp is a tz-naive ``datetime64[ns]`` in UTC. Values with an
offset are converted to UTC, then the zone is dropped; naive values are taken to be UTC already. ``as_of`` dates
are ``pd.Timestamp`` at midnight, nanosecond unit (see :func:`as_timestamp`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
import pyarrow as pa

DATETIME_DTYPE = "datetime64[ns]"

# table -> {column: (dtype kind, required)}; kinds: "id", "str", "float", "int", "bool", "datetime"
COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    "transactions": {
        "customer_id": ("id", True),
        "timestamp": ("datetime", True),
        "amount": ("float", True),
        "transaction_id": ("id", False),
        "quantity": ("float", False),
        "list_amount": ("float", False),
        "promo": ("bool", False),
        "category": ("str", False),
        "channel": ("str", False),
    },
    "customers": {
        "customer_id": ("id", True),
        "signup_date": ("datetime", False),
        "segment": ("str", False),
        "account_manager_id": ("id", False),
        "wallet_estimate": ("float", False),
        "margin_rate": ("float", False),
    },
    "complaints": {
        "customer_id": ("id", True),
        "opened_at": ("datetime", True),
        "resolved_at": ("datetime", False),
        "category": ("str", False),
        "severity": ("int", False),
        "satisfaction": ("int", False),
    },
    "visits": {
        "customer_id": ("id", True),
        "timestamp": ("datetime", True),
        "channel": ("str", False),
        "duration_s": ("float", False),
    },
    "account_managers": {
        "account_manager_id": ("id", True),
        "departed_at": ("datetime", False),
        "successor_id": ("id", False),
        "team_lead_id": ("id", False),
    },
    "contacts": {
        "customer_id": ("id", True),
        "contacted_at": ("datetime", True),
        "channel": ("str", False),
        "action": ("str", False),
        "campaign_id": ("str", False),
        "outcome": ("str", False),
    },
}
REQUIRED_TABLES = ("transactions",)
OPTIONAL_TABLES = ("customers", "complaints", "visits", "account_managers", "contacts")
TABLE_NAMES = REQUIRED_TABLES + OPTIONAL_TABLES

# The time column that places each event table's rows in time (the one the cutoff applies to). The contact log
# is cut by its own column (CONTACT_TIME_COLUMN) but is no event of the customer's: it neither sets the data's end
# nor feeds a feature.
CONTACT_TIME_COLUMN = "contacted_at"
EVENT_TIME_COLUMN = {"transactions": "timestamp", "complaints": "opened_at", "visits": "timestamp"}

PANDAS_DTYPE = {
    "id": "str",
    "str": "str",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "datetime": DATETIME_DTYPE,
}


@dataclass(frozen=True)
class Tables:
    """All input tables of one data directory, conformed: every contract column present with its dtype.

    Optional tables that were absent are empty frames; ``customers`` absent in the data is derived from the
    customer ids seen in transactions.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    complaints: pd.DataFrame
    visits: pd.DataFrame
    account_managers: pd.DataFrame
    contacts: pd.DataFrame  # what the retention team did; read by the plan and the evaluation, never by a feature

    def items(self):
        return ((f.name, getattr(self, f.name)) for f in fields(self))

    def replace(self, **changes: pd.DataFrame) -> Tables:
        return replace(self, **changes)


@dataclass(frozen=True)
class PreparedTables(Tables):
    """The tables as the feature builders read them, made once where data enters (``pipeline``'s loading, or
    :func:`features.aggregate.prepare_tables` for tables made by hand).

    Every event table holds only the columns builders read, its ``customer_id`` a categorical over one id space
    shared by all tables (the sorted distinct ids: codes are comparable across tables), its labels categoricals,
    and its rows in time order, indexed by time (a window is a slice). Cuts and customer buckets of prepared
    tables are prepared tables too.
    """


def require_prepared(tables: Tables) -> PreparedTables:
    """``tables`` when prepared; anything else is refused (the builders' speed and shared codes depend on it)."""
    if not isinstance(tables, PreparedTables):
        raise TypeError(
            f"expected PreparedTables, got {type(tables).__name__}: prepare them once where they enter, with "
            "features.prepare_tables (or read them with pipeline.io.load_prepared)"
        )
    return tables


def as_timestamp(value) -> pd.Timestamp:
    """A date-like value as a tz-naive UTC nanosecond Timestamp (the one datetime policy)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def to_datetime_column(values: pd.Series) -> pd.Series:
    """Parse a column to tz-naive UTC ``datetime64[ns]``; unparseable values raise ValueError."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype(DATETIME_DTYPE)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype(DATETIME_DTYPE)
    parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    return parsed.dt.tz_localize(None).astype(DATETIME_DTYPE)


def missing_values(dtype: str, n: int) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """``n`` missing values of ``dtype``, made without a Python object per row."""
    if dtype in ("float64", DATETIME_DTYPE):
        return np.full(n, np.nan if dtype == "float64" else np.datetime64("NaT"), dtype=dtype)
    if dtype == "str":
        return pd.array(pa.nulls(n, pa.string()), dtype="str")
    if dtype == "Int64":
        return pd.arrays.IntegerArray(np.zeros(n, "int64"), np.ones(n, bool))
    return pd.arrays.BooleanArray(np.zeros(n, bool), np.ones(n, bool))


def empty_table(name: str) -> pd.DataFrame:
    """A zero-row frame with every contract column of ``name`` in its dtype."""
    return pd.DataFrame({col: pd.Series([], dtype=PANDAS_DTYPE[kind]) for col, (kind, _) in COLUMNS[name].items()})


def conform_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every contract column of ``name`` in its dtype, missing optional ones as NA.

    Extra columns are kept after the contract columns. Assumes values are valid (validation comes first).
    """
    out = {}
    n = len(frame)
    for col, (kind, _) in COLUMNS[name].items():
        dtype = PANDAS_DTYPE[kind]
        if col not in frame.columns:
            out[col] = pd.Series(missing_values(dtype, n), index=frame.index)
        elif kind == "datetime":
            out[col] = to_datetime_column(frame[col])
        else:
            out[col] = frame[col].astype(dtype)
    extra = [c for c in frame.columns if c not in COLUMNS[name]]
    result = pd.DataFrame(out, index=frame.index)
    for col in extra:
        result[col] = frame[col]
    return result.reset_index(drop=True)


def make_tables(frames: dict[str, pd.DataFrame]) -> Tables:
    """Conform a dict of raw frames (missing optional tables allowed) into :class:`Tables`."""
    conformed = {name: conform_table(name, frames[name]) for name in TABLE_NAMES if frames.get(name) is not None}
    for name in OPTIONAL_TABLES:
        conformed.setdefault(name, empty_table(name))
    if frames.get("customers") is None:
        ids = pd.Series(conformed["transactions"]["customer_id"].unique(), dtype="str").sort_values()
        conformed["customers"] = conform_table("customers", pd.DataFrame({"customer_id": ids.to_numpy()}))
    return Tables(**conformed)
