"""The tables as the feature builders read them, made once from checked Arrow tables at the load boundary.

Equal to :func:`features.aggregate.prepare_tables` of the same data read into pandas (a test holds them equal),
but built straight from Arrow: ids are looked up once per row against the customers' sorted ids (no pandas
string column of tens of millions of ids), labels go from Arrow dictionaries to categoricals by their distinct
values, and each column is converted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.aggregate import CUSTOMER_ID, EVENT_TABLES, LABEL_COLUMNS, READ_COLUMNS, sorted_ids_dtype
from features.cutoff import sort_by_time
from features.string_lookup import lookup_strings
from features.tables import (
    COLUMNS,
    EVENT_TIME_COLUMN,
    PANDAS_DTYPE,
    TABLE_NAMES,
    PreparedTables,
    empty_table,
    missing_values,
)

STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"


@dataclass(frozen=True)
class PreparedLoad:
    """The prepared tables, and per event table the positions (in its Arrow table) of rows whose customer_id is
    not in the customers table (they are kept: the id space holds them too)."""

    tables: PreparedTables
    unknown_customers: dict[str, np.ndarray]


def _sorted_distinct(values: pa.ChunkedArray) -> pa.Array:
    """The distinct non-null strings of ``values``, sorted: as they are when strictly increasing already."""
    flat = values.combine_chunks()
    if flat.null_count == 0 and (len(flat) < 2 or pc.all(pc.less(flat[:-1], flat[1:])).as_py()):
        return flat
    distinct = pc.unique(flat).drop_null()
    return distinct.take(pc.sort_indices(distinct))


def _customer_codes(ids: Mapping[str, pa.ChunkedArray]) -> tuple[pa.Array, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The shared id space (sorted distinct ids), each table's int32 codes in it, and the rows of each event
    table whose id the customers table does not list."""
    space = _sorted_distinct(ids["customers"])
    others = [name for name in ids if name != "customers"]
    codes = lookup_strings([ids[name] for name in others], space, missing_code=True)
    unknown = {name: np.flatnonzero(found < 0) for name, found in zip(others, codes)}
    if any(len(rows) for rows in unknown.values()):  # ids beyond the customers table join the id space
        space = _sorted_distinct(pa.chunked_array([ids[name].combine_chunks() for name in ids]))
        codes = lookup_strings([ids[name] for name in others], space, missing_code=True)
    customer_codes = lookup_strings([ids["customers"]], space, missing_code=True)[0]
    return space, {"customers": customer_codes, **dict(zip(others, codes))}, unknown


def _labels(values: pa.ChunkedArray) -> pd.Categorical:
    """A dictionary-encoded text column as a categorical whose categories are its values, sorted."""
    unified = (values.unify_dictionaries() if values.num_chunks > 1 else values).combine_chunks()
    if not isinstance(unified, pa.DictionaryArray):
        unified = unified.dictionary_encode()
    indices = unified.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    used = np.zeros(len(unified.dictionary) + 1, dtype=bool)
    used[indices] = True  # index -1 marks the last slot, a null
    entries = np.flatnonzero(used[:-1])
    words = unified.dictionary.take(pa.array(entries)).cast(pa.string())
    order = pc.sort_indices(words).to_numpy()
    rank = np.full(len(unified.dictionary) + 1, -1, dtype=np.min_scalar_type(-len(entries) - 1))
    rank[entries[order]] = np.arange(len(entries))
    categories = pd.Index(pd.array(words.take(pa.array(order)), dtype=STR_DTYPE))
    return pd.Categorical.from_codes(rank[indices], dtype=pd.CategoricalDtype(categories))


def _column(values: pa.ChunkedArray, kind: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """A typed Arrow column in the contract's pandas dtype."""
    dtype = PANDAS_DTYPE[kind]
    if kind in ("id", "str"):
        return pd.array(values.cast(pa.string()), dtype=STR_DTYPE)
    if kind == "float":
        return values.to_numpy().astype("float64", copy=False)
    if kind == "datetime":
        return values.cast(pa.timestamp("ns")).to_numpy().astype(dtype, copy=False)
    return pd.array(values.to_pandas(), dtype=dtype)


def prepare_arrow(tables: Mapping[str, pa.Table]) -> PreparedLoad:
    """Prepared :class:`Tables` from checked Arrow tables in the contract's types (text: plain or dictionary).

    ``tables`` needs transactions; a missing customers table is derived from the transactions' ids, missing
    optional tables are empty. Event tables keep the columns builders read (``READ_COLUMNS``).
    """
    tables = dict(tables)
    if "customers" not in tables:
        tables["customers"] = pa.table({CUSTOMER_ID: _sorted_distinct(tables["transactions"][CUSTOMER_ID])})
    present = [name for name in EVENT_TABLES if name in tables and tables[name].num_rows]
    space, codes, unknown = _customer_codes({name: tables[name][CUSTOMER_ID] for name in present})
    dtype = sorted_ids_dtype(pd.Index(pd.array(space, dtype=STR_DTYPE)))
    prepared = {}
    for name in TABLE_NAMES:
        if name not in tables or (name in EVENT_TABLES and name not in present):
            frame = empty_table(name)
            if CUSTOMER_ID in frame.columns:
                frame[CUSTOMER_ID] = pd.Categorical.from_codes(np.zeros(0, np.int32), dtype=dtype)
            for label in LABEL_COLUMNS.get(name, ()):
                frame[label] = pd.Categorical([], categories=pd.Index([], dtype=STR_DTYPE))
            prepared[name] = _finished(name, frame)
            continue
        table = tables[name]
        columns = READ_COLUMNS.get(name, tuple(COLUMNS[name]))
        n = table.num_rows
        data = {}
        for column in columns:
            kind = COLUMNS[name][column][0]
            if column == CUSTOMER_ID and name in codes:
                data[column] = pd.Categorical.from_codes(codes[name], dtype=dtype, validate=False)
            elif column not in table.column_names:
                data[column] = missing_values(PANDAS_DTYPE[kind], n)
            elif column in LABEL_COLUMNS.get(name, ()):
                data[column] = _labels(table[column])
            else:
                data[column] = _column(table[column], kind)
        extra = [c for c in table.column_names if c not in COLUMNS[name]] if name not in READ_COLUMNS else []
        data |= {c: table[c].to_pandas() for c in extra}
        prepared[name] = _finished(name, pd.DataFrame(data))
    pa.default_memory_pool().release_unused()
    return PreparedLoad(PreparedTables(**prepared), {name: rows for name, rows in unknown.items() if len(rows)})


def _finished(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    if name in READ_COLUMNS:
        frame = frame[list(READ_COLUMNS[name])]
    return sort_by_time(frame, EVENT_TIME_COLUMN[name]) if name in EVENT_TIME_COLUMN else frame
