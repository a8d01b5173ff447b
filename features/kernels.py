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


def distinct_day_spans(codes: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code 0..n-1: its first and last day and how many distinct days it has (0 for codes without rows).

    One pass over the rows in day order (rows not already in day order are put in it first), instead of sorting
    every (code, day) pair.
    """
    codes = np.asarray(codes, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    if len(days) and np.any(days[1:] < days[:-1]):
        order = np.argsort(days, kind="stable")
        codes, days = codes[order], days[order]
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
    codes = np.asarray(codes, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    if len(days) and np.any(days[1:] < days[:-1]):
        order = np.argsort(days, kind="stable")
        codes, days = codes[order], days[order]
    first, last, n_days = distinct_day_spans(codes, days, n)
    n_gaps = np.maximum(n_days - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = (last - first) / n_gaps
    squares = np.zeros(n)
    _gap_square_loop(codes, days, mean_gap, squares)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(squares / n_gaps), n_gaps
