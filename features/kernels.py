"""Compiled per-row loops that numpy can only express through sorts (numba; pure functions on integer arrays)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _day_span_loop(codes, days, first, last, n_days):
    for i in range(codes.shape[0]):
        code = codes[i]
        day = days[i]
        if n_days[code] == 0:
            first[code] = day
            last[code] = day
            n_days[code] = 1
        elif day != last[code]:
            last[code] = day
            n_days[code] += 1


def _in_day_order(codes: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and days as int64, rows put in day order (stable) unless they already are, as event tables are."""
    codes = np.asarray(codes, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    if len(days) and np.any(days[1:] < days[:-1]):
        order = np.argsort(days, kind="stable")
        codes, days = codes[order], days[order]
    return codes, days


def distinct_day_spans(codes: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code 0..n-1: its first and last day and how many distinct days it has (0 for codes without rows).

    One pass over the rows in day order, instead of sorting every (code, day) pair.
    """
    codes, days = _in_day_order(codes, days)
    first = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    n_days = np.zeros(n, dtype=np.int64)
    _day_span_loop(codes, days, first, last, n_days)
    return first, last, n_days


@njit(nogil=True, cache=True)
def _gap_square_loop(codes, days, mean_gap, squares):
    seen = np.zeros(mean_gap.shape[0], dtype=np.int64)
    last = np.zeros(mean_gap.shape[0], dtype=np.int64)
    for i in range(codes.shape[0]):
        code = codes[i]
        day = days[i]
        if seen[code] == 0:
            seen[code] = 1
        elif day != last[code]:
            squares[code] += (day - last[code] - mean_gap[code]) ** 2
        last[code] = day


def distinct_day_gap_std(codes: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per code 0..n-1: the population standard deviation of the gaps between its consecutive distinct days
    (NaN below two distinct days), and the number of gaps. Sums run over each code's gaps in day order, as a
    per-code ``np.bincount`` over its sorted gaps would."""
    codes, days = _in_day_order(codes, days)
    first, last, n_days = distinct_day_spans(codes, days, n)
    n_gaps = np.maximum(n_days - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = (last - first) / n_gaps
    squares = np.zeros(n)
    _gap_square_loop(codes, days, mean_gap, squares)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(squares / n_gaps), n_gaps


REDUCTIONS = {"count": 0, "sum": 1, "min": 2, "max": 3}


@njit(nogil=True, cache=True)
def _reduce_loop(codes, values, where, use_where, how, result, counts):
    for i in range(codes.shape[0]):
        if use_where and not where[i]:
            continue
        code = codes[i]
        counts[code] += 1
        if how == 1:
            result[code] += values[i]
        elif how == 2:
            value = values[i]
            if value < result[code] or np.isnan(value):  # NaN wins, as in np.minimum
                result[code] = value
        elif how == 3:
            value = values[i]
            if value > result[code] or np.isnan(value):
                result[code] = value


def reduce_codes(
    codes: np.ndarray, values: np.ndarray | None, where: np.ndarray | None, n: int, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per code 0..n-1 over the selected rows: the count, sum, min or max of ``values`` (0 for counts and sums
    of codes without rows, +inf / -inf for their min / max), and the count. One pass, in row order: the sums
    are ``np.bincount``'s to the bit, min and max ``np.minimum.at``'s / ``np.maximum.at``'s."""
    if len(codes) and codes.min() < 0:
        raise ValueError("customer codes must be non-negative")
    counts = np.zeros(n, dtype=np.int64)
    result = np.full(n, {"count": 0.0, "sum": 0.0, "min": np.inf, "max": -np.inf}[how])
    values = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64)
    selected = np.zeros(0, dtype=np.bool_) if where is None else np.asarray(where, dtype=np.bool_)
    _reduce_loop(codes, values, selected, where is not None, REDUCTIONS[how], result, counts)
    return result, counts


@njit(nogil=True, cache=True)
def _previous_loop(first, second, n_first, n_second, previous):
    # Rows grouped by their second code (a counting sort: stable, so each group stays in row order), then one
    # pass per group with the last row of each first code; only the entries a group set are cleared after it.
    starts = np.zeros(n_second + 1, dtype=np.int64)
    for i in range(second.shape[0]):
        starts[second[i] + 1] += 1
    for k in range(n_second):
        starts[k + 1] += starts[k]
    fill = starts[:-1].copy()
    rows = np.empty(second.shape[0], dtype=np.int64)
    for i in range(second.shape[0]):
        rows[fill[second[i]]] = i
        fill[second[i]] += 1
    last = np.full(n_first, -1, dtype=np.int64)
    for k in range(n_second):
        for j in range(starts[k], starts[k + 1]):
            row = rows[j]
            previous[row] = last[first[row]]
            last[first[row]] = row
        for j in range(starts[k], starts[k + 1]):
            last[first[rows[j]]] = -1


def previous_of_same_pair(first: np.ndarray, second: np.ndarray, n_first: int, n_second: int) -> np.ndarray:
    """For each row, the last earlier row with the same pair of codes (``first`` in 0..n_first-1, ``second`` in
    0..n_second-1), or -1: e.g. a customer's previous purchase in the same category, rows in time order.

    Linear in the rows and needs one slot per first code, however many pairs there are (a sort by pair, or a
    table over every pair, would not).
    """
    first = np.asarray(first, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    if len(first) and (first.min() < 0 or second.min() < 0):
        raise ValueError("codes must be non-negative")
    previous = np.empty(len(first), dtype=np.int64)
    _previous_loop(first, second, n_first, n_second, previous)
    return previous


@njit(nogil=True, cache=True)
def _count_in_range(codes, start, stop):
    n = 0
    for i in range(codes.shape[0]):
        if start <= codes[i] < stop:
            n += 1
    return n


@njit(nogil=True, cache=True)
def _fill_in_range(codes, start, stop, rows, shifted):
    n = 0
    for i in range(codes.shape[0]):
        code = codes[i]
        if start <= code < stop:
            rows[n] = i
            shifted[n] = code - start
            n += 1


def rows_in_code_range(codes: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows (in order) whose code is in ``[start, stop)``, and their codes minus ``start`` (same dtype):
    a customer bucket's rows and codes, in two passes without a mask over every row."""
    n = _count_in_range(codes, start, stop)
    rows = np.empty(n, dtype=np.int64)
    shifted = np.empty(n, dtype=codes.dtype)
    _fill_in_range(codes, start, stop, rows, shifted)
    return rows, shifted
