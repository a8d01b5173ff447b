"""Customer buckets: customers (with all their events) split into groups that are processed in turn, or by
the workers of a cluster.

Global statistics are computed once on everything; each bucket then runs the very same
:func:`features.build_feature_table`, so the bucketed table equals the unbucketed one exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import pandas as pd

from features.aggregate import CUSTOMER_ID, EVENT_TABLES, sorted_ids_dtype
from features.cutoff import SORTED_INDEX_PREFIX
from features.kernels import rows_by_code_range
from features.tables import PreparedTables, require_prepared


def customer_bucket(customer_ids, n_buckets: int) -> np.ndarray:
    """Bucket number (0..n_buckets-1) of each id: pandas' SipHash of the UTF-8 id with its fixed default key.

    The same on every run and machine, so buckets can be stored (e.g. as Parquet partitions) and reused.
    """
    ids = pd.Series(np.asarray(customer_ids, dtype=object))
    return (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(n_buckets)).astype("int64")


def split_by_bucket(tables: PreparedTables, n_buckets: int) -> Iterator[PreparedTables]:
    """The tables in ``n_buckets`` groups of customers (with all of their rows; account_managers whole): in
    memory, bucket b holds the b-th of ``n_buckets`` equal runs of the customers' sorted ids.

    (Stored buckets, :func:`pipeline.partition`, use :func:`customer_bucket` instead, which does not depend on
    which other ids exist; in memory contiguous runs need no hashing, and buckets come out in id order.)
    Each bucket's customer_id is a categorical whose categories are just the bucket's ids, so per-bucket work is
    sized by the bucket.
    """
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be >= 1, got {n_buckets}")
    tables = require_prepared(tables)
    if n_buckets == 1:
        yield tables
        return
    ids = tables.customers[CUSTOMER_ID].cat.categories
    first_code = np.linspace(0, len(ids), n_buckets + 1).astype(np.int64)
    frames = {name: getattr(tables, name) for name in EVENT_TABLES}
    managers, contacts = tables.account_managers, tables.contacts
    del tables  # the prepared columns are held by `frames` only, so they go once the last bucket is cut
    codes = {name: frame[CUSTOMER_ID].array.codes for name, frame in frames.items()}
    # One counting sort per table finds every bucket's rows (in their order: the event tables' time order); each
    # bucket's rows are a separate array, freed once the bucket is cut, so they shrink while the output grows.
    rows_of = {name: _rows_per_bucket(codes[name], first_code) for name in EVENT_TABLES}
    for bucket in range(n_buckets):
        start, stop = first_code[bucket], first_code[bucket + 1]
        dtype = sorted_ids_dtype(ids[start:stop])
        parts = {}
        for name in EVENT_TABLES:
            rows = rows_of[name].popleft()
            rows = rows if isinstance(rows, slice) else rows.astype(np.intp)
            bucket_codes = codes[name][rows] - codes[name].dtype.type(start)
            ids_taken = pd.Categorical.from_codes(bucket_codes, dtype=dtype, validate=False)
            parts[name] = _take_rows(frames[name], rows, taken={CUSTOMER_ID: ids_taken})
        if bucket == n_buckets - 1:  # the last bucket is cut: the last buckets build without the whole tables
            frames.clear()
            codes.clear()
        # The contact log is small and not prepared: its rows go by their customer's place among the bucket's ids.
        mine = contacts["customer_id"].astype("str").isin(ids[start:stop].astype("str"))
        yield PreparedTables(**parts, account_managers=managers, contacts=contacts[mine.to_numpy(dtype=bool)])


def _take_rows(frame: pd.DataFrame, rows: np.ndarray | slice, taken: dict) -> pd.DataFrame:
    """``frame.take(rows)`` (rows in increasing order; a slice: a view), with the columns already ``taken`` as
    given. Rows are gathered column by column on the arrays underneath (a frame's take goes through pandas' block
    machinery and index checks, ~1.5x as long), no block consolidation; the time index of an event table is its
    time column, set from the taken column instead of being gathered a second time."""
    if isinstance(rows, slice):
        return frame.iloc[rows].assign(**taken)
    taken = {name: taken[name] if name in taken else frame[name].array.take(rows) for name in frame.columns}
    name = frame.index.name
    if isinstance(name, str) and name.startswith(SORTED_INDEX_PREFIX):
        index = pd.DatetimeIndex(taken[name.removeprefix(SORTED_INDEX_PREFIX)], name=name)
    else:
        index = frame.index.take(rows)
    return pd.DataFrame(taken, index=index, copy=False)


def _rows_per_bucket(codes: np.ndarray, first_code: np.ndarray) -> deque[np.ndarray | slice]:
    """Each bucket's rows: a slice when the codes never decrease (a customers table listed by id: the bucket's
    rows are a view, nothing copied), else a separate array of row numbers."""
    if not np.any(codes[1:] < codes[:-1]):
        bounds = np.searchsorted(codes, first_code)
        return deque(slice(int(a), int(b)) for a, b in pairwise(bounds))
    rows, offsets = rows_by_code_range(codes, first_code)
    return deque(rows[a:b].copy() for a, b in pairwise(offsets))
