"""Vectorised per-customer reductions on integer customer codes: the speed layer under every feature builder.

Builders accept ``customer_id`` as ``str`` or as a categorical whose categories are the ids. Categorical
columns (what :func:`prepare_tables` produces, so what the assembler passes) need no string hashing, so every
reduction is one compiled pass over their codes (:func:`features.kernels.reduce_codes`); the result is indexed by a
``CategoricalIndex`` with the same categories. ``str`` columns are factorised first and give a ``str`` index.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.cutoff import NS_PER_DAY, sort_by_time, window_rows
from features.kernels import day_numbers, reduce_codes
from features.memo import per_frame
from features.string_lookup import encode_few_labels, lookup_strings
from features.tables import EVENT_TIME_COLUMN, PreparedTables, Tables, as_timestamp

CUSTOMER_ID = "customer_id"
EVENT_TABLES = ("customers", "transactions", "complaints", "visits")


class CustomerKey(NamedTuple):
    """Row codes into a set of customer ids, and how to turn codes back into an index of those ids."""

    codes: np.ndarray
    ids: pd.Index | pd.CategoricalDtype

    @property
    def prepared_codes(self) -> bool:
        """Whether these are a prepared categorical's own codes (the tables' shared id space), not a new
        factorisation: then every key made from the same column, or a table prepared with it, lines up."""
        return isinstance(self.ids, pd.CategoricalDtype)

    @property
    def n(self) -> int:
        return len(self.ids.categories) if isinstance(self.ids, pd.CategoricalDtype) else len(self.ids)

    def index(self, codes: np.ndarray) -> pd.Index:
        if isinstance(self.ids, pd.CategoricalDtype):
            # Codes here are slots of the ids (below n by construction): no validation pass.
            return pd.CategoricalIndex(
                pd.Categorical.from_codes(codes, dtype=self.ids, validate=False), name=CUSTOMER_ID
            )
        return pd.Index(self.ids.take(codes), dtype="str", name=CUSTOMER_ID)


def customer_key(customer_id: pd.Series) -> CustomerKey:
    """Integer codes of a customer_id column (categorical: its codes; str: sorted factorisation)."""
    if isinstance(customer_id.dtype, pd.CategoricalDtype):
        return CustomerKey(customer_id.array.codes, customer_id.dtype)  # the codes themselves, no Series around them
    codes, ids = pd.factorize(customer_id.astype("str"), sort=True)
    return CustomerKey(codes, pd.Index(ids, dtype="str"))


def sorted_ids_dtype(ids: pd.Index) -> pd.CategoricalDtype:
    """The categorical dtype of sorted, distinct ids (one id space: every table's codes index these ids)."""
    return pd.CategoricalDtype(ids)


def with_customer_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with customer_id as a categorical of sorted ids (as it is when prepared), so that the keys of
    its slices share one code space."""
    if isinstance(frame[CUSTOMER_ID].dtype, pd.CategoricalDtype):
        return frame
    codes, ids = pd.factorize(frame[CUSTOMER_ID].astype("str"), sort=True)
    dtype = pd.CategoricalDtype(pd.Index(ids, dtype="str"))
    return frame.assign(**{CUSTOMER_ID: pd.Categorical.from_codes(codes, dtype=dtype)})


def shared_customer_key(*columns: pd.Series) -> list[CustomerKey]:
    """Keys of several customer_id columns in one code space (so codes of one table match the other's):
    the codes of the sorted distinct ids of all of them."""
    dtypes = {id(c.dtype) for c in columns}
    if isinstance(columns[0].dtype, pd.CategoricalDtype) and len(dtypes) == 1:
        return [customer_key(c) for c in columns]
    strings = [c.astype("str") for c in columns]
    keys = _keys_by_first_column(strings)
    if keys is not None:
        return keys
    codes, ids = pd.factorize(pd.concat(strings, ignore_index=True), sort=True)
    ids = pd.Index(ids, dtype="str")
    bounds = np.cumsum([0] + [len(c) for c in columns])
    return [CustomerKey(codes[a:b], ids) for a, b in pairwise(bounds)]


def _keys_by_first_column(columns: list[pd.Series]) -> list[CustomerKey] | None:
    """The keys when the first column (a customers table) holds every id of the others: its sorted distinct ids,
    and every column looked up in them (:func:`features.string_lookup.lookup_strings`, in parallel threads;
    pandas' factorisation hashes the tens of millions of event ids in one thread). None when some id is missing
    or null: then the caller factorises everything together."""
    arrays = [pa.chunked_array(pa.array(c.array)) for c in columns]
    if _strictly_increasing(arrays[0]):  # customers listed by id, as exports by primary key are: already the ids
        distinct = arrays[0].combine_chunks()
        codes = lookup_strings(arrays[1:], distinct)  # the first column's codes are its row numbers
        if codes is None:
            return None
        codes = [np.arange(len(distinct), dtype=np.int32), *codes]
    else:
        distinct = pc.unique(arrays[0])
        distinct = distinct.take(pc.sort_indices(distinct))
        codes = lookup_strings(arrays, distinct)
        if codes is None:
            return None
    ids = pd.Index(pd.array(distinct, dtype="str"))
    return [CustomerKey(c, ids) for c in codes]  # int32, as a categorical's codes are


def reduce_by_customer(
    key: CustomerKey, values: np.ndarray | None = None, *, how: str, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One slot per id: the reduction (sum, count, mean, min or max) of the selected rows, and their count.

    Slots of ids without selected rows hold 0 (sum, count) or NaN (mean, min, max).
    """
    if how not in ("sum", "count", "mean", "min", "max"):
        raise ValueError(f"unknown reduction {how!r}; use sum, count, mean, min or max")
    result, counts = reduce_codes(key.codes, values, where, key.n, "sum" if how == "mean" else how)
    if how == "count":
        return counts.astype("float64"), counts
    if how == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return result / counts, counts
    if how in ("min", "max"):
        result[counts == 0] = np.nan
    return result, counts


def customer_series(key: CustomerKey, values: np.ndarray, present: np.ndarray, *, name: str) -> pd.Series:
    """A float Series of the ``present`` slots of a one-slot-per-id array, indexed by customer_id."""
    codes = np.flatnonzero(present)
    return pd.Series(np.asarray(values, dtype="float64")[codes], index=key.index(codes), name=name)


def per_customer(
    key: CustomerKey | pd.Series,
    values: np.ndarray | None = None,
    *,
    how: str,
    where: np.ndarray | None = None,
    name: str,
) -> pd.Series:
    """One float per customer with at least one selected row: sum, count, mean, min or max of ``values``."""
    key = key if isinstance(key, CustomerKey) else customer_key(key)
    result, counts = reduce_by_customer(key, values, how=how, where=where)
    return customer_series(key, result, counts > 0, name=name)


def label_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a label column (-1 for NA) and the labels they index: a categorical's own codes and
    categories (no hashing), else a factorisation."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array.codes, values.cat.categories
    codes, labels = pd.factorize(values)
    return codes, pd.Index(labels)


@per_frame
def label_counts(
    frame: pd.DataFrame, time_column: str, as_of, window_days: int, label_column: str, labels: tuple[str, ...]
) -> tuple[CustomerKey, np.ndarray]:
    """Rows of the last ``window_days`` per customer and label, one pass for every label: a (customer slot,
    label) count matrix whose columns follow ``labels``; the last label counts every other value and NA."""
    recent = window_rows(frame, time_column, end=as_of, days=window_days)
    key = customer_key(recent[CUSTOMER_ID])
    codes, present = label_codes(recent[label_column])
    column_of = np.full(len(present) + 1, len(labels) - 1, dtype=np.int64)  # the last slot: NA (code -1)
    named = pd.Index(present).astype("str").get_indexer(list(labels[:-1]))
    column_of[named[named >= 0]] = np.flatnonzero(named >= 0)
    cells = key.codes.astype(np.int64) * len(labels) + column_of[codes]
    counts = np.bincount(cells, minlength=key.n * len(labels)).reshape(key.n, len(labels))
    return key, counts


def text_filled(values: pd.Series, fill: str) -> pd.Series:
    """``values.astype("str").fillna(fill)``, filled by Arrow (no Python object per value)."""
    text = pa.chunked_array(pa.array(values.astype("str").array))
    filled = pc.fill_null(text, pa.scalar(fill, type=text.type))
    return pd.Series(pd.array(filled, dtype="str"), index=values.index, name=values.name)


def epoch_days(times: pd.Series) -> np.ndarray:
    """Calendar day number (days since 1970-01-01, UTC) of each timestamp, as float; NaT gives NaN."""
    return day_numbers(times.to_numpy(dtype="datetime64[ns]").view("i8"))


def as_of_day(as_of) -> int:
    """Calendar day number of ``as_of`` (its midnight)."""
    return as_timestamp(as_of).value // NS_PER_DAY


def seconds_since(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    """Whole seconds from ``origin`` to each timestamp, as int64 (NaT must be removed first)."""
    stamps = times.to_numpy(dtype="datetime64[ns]").view("i8")
    return (stamps - as_timestamp(origin).value) // 10**9


# Columns the builders read. customers keeps all of its columns (the peer group may be any of them), and
# account_managers is tiny; unread columns of the big event tables would only be copied by every cut.
READ_COLUMNS = {
    "transactions": ("customer_id", "timestamp", "amount", "quantity", "list_amount", "promo", "category"),
    "complaints": ("customer_id", "opened_at", "resolved_at", "category", "satisfaction"),
    "visits": ("customer_id", "timestamp", "channel"),
}
# Low-cardinality labels: as categoricals, comparing and filtering them is integer work.
LABEL_COLUMNS = {"transactions": ("category",), "complaints": ("category",), "visits": ("channel",)}


def as_categorical(values: pd.Series) -> pd.Series:
    """``values.astype("category")`` (categories sorted), for Arrow strings by one compiled pass over the Arrow
    buffers when there are few distinct values (else by Arrow's dictionary encoding): pandas would turn every
    value into a Python object first."""
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        return values.astype("category")
    strings = pa.chunked_array(pa.array(values.array)).combine_chunks()
    few = encode_few_labels(strings)
    if few is not None:  # codes in order of first appearance, -1 for nulls
        first_codes, first_rows = few
        labels = strings.take(pa.array(first_rows))
    else:
        encoded = strings.dictionary_encode()
        first_codes, labels = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), encoded.dictionary
    order = pc.sort_indices(labels).to_numpy()
    # Codes in the smallest integer type that holds them (what pandas keeps anyway): no int64 per row in between.
    rank = np.empty(len(order) + 1, dtype=np.min_scalar_type(-len(order) - 1))
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # nulls
    codes = rank[first_codes]
    dtype = pd.CategoricalDtype(pd.Index(pd.array(labels.take(order), dtype=values.dtype)))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=values.index, name=values.name)


def _strictly_increasing(values: pa.ChunkedArray) -> bool:
    """Whether every string is greater than the one before (so they are distinct and sorted), none null."""
    if values.null_count:
        return False
    return len(values) < 2 or pc.all(pc.less(values[:-1], values[1:])).as_py()


def prepare_tables(tables: Tables) -> PreparedTables:
    """The tables as builders read them fastest (:class:`features.tables.PreparedTables`), from conformed tables.

    Unread event columns are dropped, labels become categoricals, every customer_id one shared categorical
    with sorted categories, and each event table is sorted by its event time and indexed by it (so a time
    window is a slice: :func:`features.cutoff.window_rows`). All later reductions work on integer codes, which
    is what makes the features fast and lets customer buckets share one id space.
    """
    if isinstance(tables, PreparedTables):
        raise TypeError("the tables are prepared already: prepare them once, where they enter")
    columns = [getattr(tables, name)[CUSTOMER_ID] for name in EVENT_TABLES]
    # Arrow encodes the labels in other threads (it releases the GIL) while the ids are looked up.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        encoding = {
            name: {label: pool.submit(as_categorical, getattr(tables, name)[label]) for label in labels}
            for name, labels in LABEL_COLUMNS.items()
        }
        keys = shared_customer_key(*[c.astype("str") for c in columns])
        encoded = {name: {label: job.result() for label, job in jobs.items()} for name, jobs in encoding.items()}
    dtype = sorted_ids_dtype(keys[0].ids)
    prepared = {}
    for name, key in zip(EVENT_TABLES, keys):
        frame = getattr(tables, name)
        frame = frame[list(READ_COLUMNS[name])] if name in READ_COLUMNS else frame
        labels = encoded.get(name, {})
        frame = frame.assign(**{CUSTOMER_ID: pd.Categorical.from_codes(key.codes, dtype=dtype)}, **labels)
        prepared[name] = sort_by_time(frame, EVENT_TIME_COLUMN[name]) if name in EVENT_TIME_COLUMN else frame
    # The id lookup and the labels' dictionary encoding leave Arrow's allocator holding freed buffers (~130 MB
    # at 10 M transactions) that the numpy work after this could never reuse: hand them back.
    pa.default_memory_pool().release_unused()
    return PreparedTables(**{**dict(tables.items()), **prepared})
