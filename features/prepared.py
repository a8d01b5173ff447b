"""The tables as the feature builders read them, made from checked Arrow tables where data enters, one table at a
time (so a table's Arrow memory goes before the next one is read).

Equal to :func:`features.aggregate.prepare_tables` of the same data read into pandas (a test holds them equal),
but built straight from Arrow: each row's id is looked up once against the customers' sorted ids (no pandas
string column of tens of millions of ids), labels go from Arrow dictionaries to categoricals by their distinct
values, and each column is converted once.
"""

from __future__ import annotations

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


def sorted_distinct(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The distinct non-null strings of ``values``, sorted: as they are when strictly increasing already."""
    flat = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if flat.null_count == 0 and (len(flat) < 2 or pc.all(pc.less(flat[:-1], flat[1:])).as_py()):
        return flat
    distinct = pc.unique(flat).drop_null()
    return distinct.take(pc.sort_indices(distinct))


def _labels(values: pa.ChunkedArray) -> pd.Categorical:
    """A text column (plain or dictionary-encoded) as a categorical whose categories are the values it holds,
    sorted. Chunk by chunk: each chunk's dictionary is mapped to the sorted categories, then its indices."""
    chunks = [c if isinstance(c, pa.DictionaryArray) else c.dictionary_encode() for c in values.chunks]
    used = [np.unique(c.indices.drop_null().to_numpy(zero_copy_only=False)) for c in chunks]
    words = [c.dictionary.take(pa.array(u, pa.int32())).cast(pa.string()) for c, u in zip(chunks, used, strict=True)]
    categories = sorted_distinct(pa.chunked_array(words, pa.string()))
    codes = np.empty(len(values), dtype=np.min_scalar_type(-len(categories) - 1))
    at = 0
    for chunk, entries, text in zip(chunks, used, words, strict=True):
        place = np.full(len(chunk.dictionary) + 1, -1, dtype=codes.dtype)  # the last slot: nulls
        place[entries] = pc.index_in(text, value_set=categories).to_numpy(zero_copy_only=False)
        codes[at: at + len(chunk)] = place[chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
        at += len(chunk)
    dtype = pd.CategoricalDtype(pd.Index(pd.array(categories, dtype=STR_DTYPE)))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


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


@dataclass(frozen=True)
class UnknownIds:
    """Rows of an event table whose customer_id the customers table lacks: their positions and ids, in row order."""

    positions: np.ndarray
    ids: pa.Array


class Preparer:
    """Prepares the tables one at a time (:meth:`add`), then puts them together (:meth:`finish`).

    ``customer_ids``: the customers table's ids, the id space every table's codes index (sorted first). Ids of
    event tables that it lacks are kept: they join the id space at the end (every table's codes are then
    renumbered) and are reported by :meth:`finish`. The contact log is no event table: it keeps its ids as text
    (the plan and the evaluation match them by value) and its unknown ids are reported without joining the space.
    """

    def __init__(self, customer_ids: pa.ChunkedArray | pa.Array):
        self.space = sorted_distinct(customer_ids)
        self._columns: dict[str, dict] = {}
        self._codes: dict[str, np.ndarray] = {}
        self._unknown: dict[str, UnknownIds] = {}

    def add(self, name: str, table: pa.Table) -> None:
        """Convert ``table`` (checked, in the contract's Arrow types) to the columns builders read; the caller
        may drop its reference once this returns."""
        if CUSTOMER_ID in table.column_names:
            codes = lookup_strings([table[CUSTOMER_ID]], self.space, missing_code=True)[0]
            missing = np.flatnonzero(codes < 0)
            if len(missing):
                ids = table[CUSTOMER_ID].take(pa.array(missing)).cast(pa.string()).combine_chunks()
                self._unknown[name] = UnknownIds(missing, ids)
            if name in EVENT_TABLES:
                self._codes[name] = codes
        data = {}
        for column in READ_COLUMNS.get(name, tuple(COLUMNS[name])):
            kind = COLUMNS[name][column][0]
            if column == CUSTOMER_ID and name in EVENT_TABLES:
                continue
            if column not in table.column_names:
                data[column] = missing_values(PANDAS_DTYPE[kind], table.num_rows)
            elif column in LABEL_COLUMNS.get(name, ()):
                data[column] = _labels(table[column])
            else:
                data[column] = _column(table[column], kind)
        if name not in READ_COLUMNS:
            data |= {c: table[c].to_pandas() for c in table.column_names if c not in COLUMNS[name]}
        self._columns[name] = data
        pa.default_memory_pool().release_unused()

    def finish(self) -> tuple[PreparedTables, dict[str, UnknownIds]]:
        """The prepared tables (missing optional tables empty), and the rows with ids the customers lack."""
        space = self.space
        joining = [u.ids for name, u in self._unknown.items() if name in EVENT_TABLES]
        if joining:  # ids beyond the customers table join the id space; every code is renumbered
            extra = pc.unique(pa.concat_arrays(joining))
            space = sorted_distinct(pa.concat_arrays([space.cast(pa.string()), extra]))
            known_at = lookup_strings([pa.chunked_array([self.space])], space, missing_code=True)[0]
            for name, codes in self._codes.items():
                renumbered = known_at[np.maximum(codes, 0)]
                if name in self._unknown:
                    unknown = self._unknown[name]
                    renumbered[unknown.positions] = lookup_strings([pa.chunked_array([unknown.ids])], space)[0]
                self._codes[name] = renumbered
        dtype = sorted_ids_dtype(pd.Index(pd.array(space, dtype=STR_DTYPE)))
        prepared = {}
        for name in TABLE_NAMES:
            if name in self._columns:
                data = self._columns.pop(name)
                if name in self._codes:
                    ids = pd.Categorical.from_codes(self._codes.pop(name), dtype=dtype, validate=False)
                    data = {CUSTOMER_ID: ids, **data}
                frame = pd.DataFrame(data)
            else:
                frame = empty_table(name)
                if name in EVENT_TABLES:
                    frame[CUSTOMER_ID] = pd.Categorical.from_codes(np.zeros(0, np.int32), dtype=dtype)
                for label in LABEL_COLUMNS.get(name, ()):
                    frame[label] = pd.Categorical([], categories=pd.Index([], dtype=STR_DTYPE))
            prepared[name] = _finished(name, frame)
        return PreparedTables(**prepared), self._unknown


def _finished(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    if name in READ_COLUMNS:
        frame = frame[list(READ_COLUMNS[name])]
    return sort_by_time(frame, EVENT_TIME_COLUMN[name]) if name in EVENT_TIME_COLUMN else frame
