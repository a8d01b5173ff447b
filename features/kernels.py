"""Compiled per-row loops that numpy can only express through sorts (numba; pure functions on integer arrays)."""

from __future__ import annotations

import numpy as np
from numba import njit

from features.cutoff import NS_PER_DAY


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
    """Integer codes (their own type: no copy) and int64 days, rows put in day order (stable) unless they already
    are, as event tables are."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        codes = codes.astype(np.int64)
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


_NOT_A_TIME = np.iinfo(np.int64).min  # NaT's int64 value


@njit(nogil=True, cache=True)
def _day_number_loop(stamps, days):
    # The divisor is a compile-time constant: a multiplication, not a division, per row.
    for i in range(stamps.shape[0]):
        stamp = stamps[i]
        days[i] = np.nan if stamp == _NOT_A_TIME else stamp // NS_PER_DAY


def day_numbers(stamps: np.ndarray) -> np.ndarray:
    """Calendar day number (floor of days since 1970-01-01) of int64 nanosecond stamps, as float; NaT's value
    gives NaN. One pass, where numpy takes three (the division, the conversion and the NaT mask)."""
    days = np.empty(len(stamps))
    _day_number_loop(np.asarray(stamps, dtype=np.int64), days)
    return days


@njit(nogil=True, cache=True)
def _selected_days_loop(codes, stamps, selected, out_codes, out_days):
    at = 0
    for i in range(codes.shape[0]):
        if selected[i]:
            if stamps[i] == _NOT_A_TIME:
                return i
            out_codes[at] = codes[i]
            out_days[at] = stamps[i] // NS_PER_DAY
            at += 1
    return -1


def selected_day_numbers(
    codes: np.ndarray, stamps: np.ndarray, selected: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The codes and int64 calendar day numbers (:func:`day_numbers`) of the ``selected`` rows, in one pass
    (numpy takes a conversion and two compressions). A selected NaT is refused."""
    selected = np.asarray(selected, dtype=np.bool_)
    n = int(np.count_nonzero(selected))
    out_codes = np.empty(n, dtype=codes.dtype)
    out_days = np.empty(n, dtype=np.int64)
    bad = _selected_days_loop(codes, np.asarray(stamps, dtype=np.int64), selected, out_codes, out_days)
    if bad >= 0:
        raise ValueError(f"row {bad} is selected but has no time (NaT)")
    return out_codes, out_days


@njit(nogil=True, cache=True)
def _trend_loop(recent, previous, cap, out):
    for i in range(recent.shape[0]):
        before, now = previous[i], recent[i]
        trend = now / before if before > 0 else (cap if now > 0 else 1.0)
        out[i] = cap if trend > cap else trend  # noqa: FURB136 (a NaN stays NaN, as in np.minimum)


def trend_ratio(recent: np.ndarray, previous: np.ndarray, cap: float) -> np.ndarray:
    """``recent / previous`` (1.0 = flat), capped at ``cap``; 1.0 if neither is positive, ``cap`` if only recent
    is. One compiled pass: numpy's ``where`` with a scalar branch goes through its slow general iterator."""
    recent = np.asarray(recent, dtype=np.float64)
    previous = np.asarray(previous, dtype=np.float64)
    if recent.shape != previous.shape:
        raise ValueError(f"recent has shape {recent.shape}, previous {previous.shape}")
    out = np.empty(recent.shape)
    _trend_loop(recent.ravel(), previous.ravel(), float(cap), out.ravel())
    return out


REDUCTIONS = {"count": 0, "sum": 1, "min": 2, "max": 3}


@njit(nogil=True, cache=True)
def _reduce_loop(codes, values, where, use_where, how, result, counts):
    # Returns the first selected row whose code is outside 0..n-1 (the caller raises), or -1.
    for i in range(codes.shape[0]):
        if use_where and not where[i]:
            continue
        code = codes[i]
        if code < 0 or code >= counts.shape[0]:
            return i
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
    return -1


def reduce_codes(
    codes: np.ndarray, values: np.ndarray | None, where: np.ndarray | None, n: int, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per code 0..n-1 over the selected rows: the count, sum, min or max of ``values`` (0 for counts and sums
    of codes without rows, +inf / -inf for their min / max), and the count. One pass, in row order: the sums
    are ``np.bincount``'s to the bit, min and max ``np.minimum.at``'s / ``np.maximum.at``'s."""
    counts = np.zeros(n, dtype=np.int64)
    result = np.full(n, {"count": 0.0, "sum": 0.0, "min": np.inf, "max": -np.inf}[how])
    values = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64)
    selected = np.zeros(0, dtype=np.bool_) if where is None else np.asarray(where, dtype=np.bool_)
    bad = _reduce_loop(codes, values, selected, where is not None, REDUCTIONS[how], result, counts)
    if bad >= 0:
        raise ValueError(f"customer codes must be in 0..{n - 1}; row {bad} has {codes[bad]}")
    return result, counts


@njit(nogil=True, cache=True)
def _repeat_change_loop(first, second, stamps, values, n_first, n_second, end, period, n_periods, scale, counts, sums):
    # Usable rows (second code >= 0, finite value) grouped by their second code (a counting sort: stable, so
    # each group stays in row order), then one pass per group with the last value of each first code; only the
    # entries a group set are cleared after it.
    starts = np.zeros(n_second + 1, dtype=np.int64)
    for i in range(second.shape[0]):
        if second[i] >= 0 and np.isfinite(values[i]):
            starts[second[i] + 1] += 1
    for k in range(n_second):
        starts[k + 1] += starts[k]
    fill = starts[:-1].copy()
    rows = np.empty(starts[n_second], dtype=np.int32)  # int32 slots: half the cache lines of int64
    for i in range(second.shape[0]):
        if second[i] >= 0 and np.isfinite(values[i]):
            rows[fill[second[i]]] = i
            fill[second[i]] += 1
    last = np.full(n_first, np.nan)  # the last value itself: no second random read (usable values are finite)
    lower, upper, back = end, end, 0  # the current period back, [lower, upper): a division only on leaving it
    for k in range(n_second):
        for j in range(starts[k], starts[k + 1]):
            row = rows[j]
            previous = last[first[row]]
            if not np.isnan(previous):
                if stamps[row] < lower or stamps[row] >= upper:
                    back = (end - 1 - stamps[row]) // period
                    upper = end - back * period
                    lower = upper - period
                cell = k * n_periods + back
                counts[cell] += 1
                sums[cell] += np.int64(np.rint((values[row] - previous) * scale))
            last[first[row]] = values[row]
        for j in range(starts[k], starts[k + 1]):
            last[first[rows[j]]] = np.nan


def repeat_change_sums(
    first: np.ndarray,
    second: np.ndarray,
    stamps: np.ndarray,
    values: np.ndarray,
    n_first: int,
    n_second: int,
    *,
    end: int,
    period: int,
    n_periods: int,
    scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Changes of ``values`` between a row and the last earlier row with the same pair of codes, summed per
    (second code, period back from ``end``): e.g. a customer's (``first``) unit log price against their previous
    purchase in the same category (``second``), per category and week.

    Rows in time order (``stamps``, int64, all before ``end``). Rows with a negative second code or a value
    that is not finite take no part. Each change counts ``rint(change * scale)`` as an integer, so sums are
    exact in any order. Returns per cell ``second * n_periods + (end - 1 - stamp) // period`` the number of
    changes and their sum. Linear in the rows with one slot per first code, however many pairs there are.
    """
    first, second, stamps = np.asarray(first), np.asarray(second), np.asarray(stamps, dtype=np.int64)
    if len(first) and (first.min() < 0 or first.max() >= n_first):
        raise ValueError(f"first codes must be in 0..{n_first - 1}")
    if len(second) and second.max() >= n_second:
        raise ValueError(f"second codes must be below {n_second}")
    if len(stamps) and (stamps.min() < end - n_periods * period or stamps.max() >= end):
        raise ValueError("every stamp must lie in the n_periods periods before end")
    if len(first) >= 2**31:
        raise ValueError("at most 2**31 - 1 rows")
    counts = np.zeros(n_second * n_periods, dtype=np.int64)
    sums = np.zeros(n_second * n_periods, dtype=np.int64)
    _repeat_change_loop(
        first, second, stamps, np.asarray(values, dtype=np.float64), n_first, n_second, end, period, n_periods,
        scale, counts, sums,
    )
    return counts, sums


@njit(nogil=True, cache=True)
def _range_loop(codes, bounds, ranges):
    # Range k with bounds[k] <= code < bounds[k + 1] (n_ranges when out of range): guessed as if the ranges
    # were equal (buckets nearly are), then moved; no lookup table to miss the caches.
    n_ranges = bounds.shape[0] - 1
    scale = n_ranges / max(bounds[n_ranges] - bounds[0], 1)
    for i in range(codes.shape[0]):
        code = codes[i]
        if code < bounds[0] or code >= bounds[n_ranges]:
            ranges[i] = n_ranges
            continue
        k = min(int((code - bounds[0]) * scale), n_ranges - 1)
        while code < bounds[k]:
            k -= 1
        while code >= bounds[k + 1]:
            k += 1
        ranges[i] = k


@njit(nogil=True, cache=True)
def _counting_sort_loop(keys, n_keys, rows, offsets):
    for i in range(keys.shape[0]):
        offsets[keys[i] + 1] += 1
    for k in range(n_keys):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    for i in range(keys.shape[0]):
        k = keys[i]
        rows[fill[k]] = i
        fill[k] += 1


def rows_by_code_range(codes: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows grouped by the range ``[bounds[k], bounds[k+1])`` their code falls in, each group in row order,
    and the groups' offsets: range k's rows are ``rows[offsets[k]:offsets[k+1]]``. Customer buckets' rows, by
    one counting sort (two passes over the codes, however many buckets); codes outside every range are left out.
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    n_ranges = len(bounds) - 1
    if n_ranges < 1 or np.any(np.diff(bounds) < 0):
        raise ValueError("bounds must be at least two non-decreasing code limits")
    ranges = np.empty(len(codes), dtype=np.uint8 if n_ranges < 2**8 else np.int64)
    _range_loop(np.asarray(codes), bounds, ranges)
    offsets = np.zeros(n_ranges + 2, dtype=np.int64)
    rows = np.empty(len(codes), dtype=np.int32 if len(codes) < 2**31 else np.int64)
    _counting_sort_loop(ranges, n_ranges + 1, rows, offsets)
    return rows[: offsets[n_ranges]], offsets[: n_ranges + 1]


@njit(nogil=True, cache=True)
def _place_loop(codes, values, row_of, out):
    n_slots, spare = row_of.shape[0], out.shape[0] - 1
    for i in range(codes.shape[0]):
        code = codes[i]
        if code < 0 or code >= n_slots or row_of[code] < 0 or row_of[code] > spare:
            return i
        out[row_of[code]] = values[i]  # no branch on placement: an unplaced value goes to the spare last row
    return -1


def place_by_code(
    codes: np.ndarray, values: np.ndarray, row_of: np.ndarray, n_rows: int, default: float
) -> np.ndarray:
    """``n_rows`` of ``default`` with each ``values[i]`` written at row ``row_of[codes[i]]`` (``n_rows``: left
    out): values keyed by customer slot put in the order of a population, without a table over every slot."""
    if len(codes) != len(values):
        raise ValueError(f"{len(codes)} codes for {len(values)} values")
    out = np.full(n_rows + 1, default, dtype=np.float64)
    bad = _place_loop(codes, np.asarray(values, dtype=np.float64), row_of, out)
    if bad >= 0:
        raise ValueError(f"value {bad}: code {codes[bad]} is not a slot of row_of, or its row is not in 0..{n_rows}")
    return out[:n_rows]
