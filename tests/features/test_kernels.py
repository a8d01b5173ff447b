"""Compiled loops against answers worked out by hand."""

import numpy as np
import pytest

from features.kernels import distinct_day_spans


def test_distinct_day_spans_count_each_day_once_per_code():
    # code 0 buys on days 3, 3, 5, 9 -> first 3, last 9, 3 distinct days; code 2 once on day 4; code 1 and 3 never.
    codes = np.array([0, 0, 2, 0, 0])
    days = np.array([3, 3, 4, 5, 9])
    first, last, n_days = distinct_day_spans(codes, days, 4)
    assert n_days.tolist() == [3, 0, 1, 0]
    assert first[[0, 2]].tolist() == [3, 4]
    assert last[[0, 2]].tolist() == [9, 4]


def test_distinct_day_spans_put_rows_in_day_order_first():
    # the same rows shuffled: code 1 on days 7, 2, 7, 4 -> first 2, last 7, 3 distinct days
    codes = np.array([1, 1, 0, 1, 1])
    days = np.array([7, 2, 10, 7, 4])
    first, last, n_days = distinct_day_spans(codes, days, 2)
    assert n_days.tolist() == [1, 3]
    assert first.tolist() == [10, 2]
    assert last.tolist() == [10, 7]


def test_distinct_day_spans_of_no_rows():
    _, _, n_days = distinct_day_spans(np.array([], dtype=int), np.array([], dtype=int), 3)
    assert n_days.tolist() == [0, 0, 0]


def test_reduce_codes_by_hand():
    from features.kernels import reduce_codes

    # code 0: rows 0 and 3 (values 2, -1); code 1: row 1 (NaN); code 2: none; row 2 (code 0, 5.0) not selected
    codes = np.array([0, 1, 0, 0])
    values = np.array([2.0, np.nan, 5.0, -1.0])
    where = np.array([True, True, False, True])
    total, counts = reduce_codes(codes, values, where, 3, "sum")
    assert counts.tolist() == [2, 1, 0]
    assert total[0] == 1.0 and np.isnan(total[1]) and total[2] == 0.0
    low, _ = reduce_codes(codes, values, where, 3, "min")
    assert low[0] == -1.0 and np.isnan(low[1]) and low[2] == np.inf  # NaN wins, as in np.minimum
    high, _ = reduce_codes(codes, values, None, 3, "max")
    assert high[0] == 5.0 and np.isnan(high[1]) and high[2] == -np.inf
    _, counts = reduce_codes(codes, None, None, 3, "count")
    assert counts.tolist() == [3, 1, 0]


def test_repeat_change_sums_by_hand():
    from features.kernels import repeat_change_sums

    # rows in time order: (first, second, stamp, value). Row 3 follows row 0 (change +0.5, stamp 3: period
    # (10 - 1 - 3) // 5 = 1), row 4 row 1 (+0.5, period 1), row 5 has no finite value and takes no part, so
    # row 6 follows row 3 (-0.25, period 0); row 7 has no second code; the others are the first of their pair.
    first = np.array([0, 1, 0, 0, 1, 0, 0, 2, 2])
    second = np.array([1, 1, 0, 1, 1, 1, 1, -1, 0])
    stamps = np.array([0, 1, 2, 3, 4, 5, 6, 7, 7])
    values = np.array([1.0, 2.0, 5.0, 1.5, 2.5, np.nan, 1.25, 3.0, 4.0])
    counts, sums = repeat_change_sums(first, second, stamps, values, 3, 2, end=10, period=5, n_periods=2, scale=4.0)
    # cell = second * 2 + period back; changes in ticks of 1/4
    assert counts.tolist() == [0, 0, 1, 2]
    assert sums.tolist() == [0, 0, -1, 4]
    empty = np.array([], dtype=int)
    counts, sums = repeat_change_sums(empty, empty, empty, np.array([]), 0, 2, end=10, period=5, n_periods=2, scale=1.0)
    assert counts.tolist() == sums.tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="periods before end"):
        repeat_change_sums(first, second, stamps + 3, values, 3, 2, end=10, period=5, n_periods=2, scale=4.0)
    with pytest.raises(ValueError, match="first codes"):
        repeat_change_sums(first, second, stamps, values, 2, 2, end=10, period=5, n_periods=2, scale=4.0)


def test_rows_by_code_range_by_hand():
    from features.kernels import rows_by_code_range

    codes = np.array([5, 2, 3, 7, 3, 4, 0, 9], dtype=np.int32)
    # ranges [0, 3), [3, 5), [5, 8): rows 1, 6 | 2, 4, 5 | 0, 3; code 9 is in none of them
    rows, offsets = rows_by_code_range(codes, np.array([0, 3, 5, 8]))
    assert offsets.tolist() == [0, 2, 5, 7]
    assert rows.tolist() == [1, 6, 2, 4, 5, 0, 3]
    # uneven ranges, an empty one, and codes below the first bound left out
    rows, offsets = rows_by_code_range(codes, np.array([3, 4, 4, 10]))
    assert offsets.tolist() == [0, 2, 2, 6]
    assert rows.tolist() == [2, 4, 0, 3, 5, 7]
    rows, offsets = rows_by_code_range(np.array([], dtype=np.int32), np.array([0, 1]))
    assert rows.tolist() == [] and offsets.tolist() == [0, 0]
    with pytest.raises(ValueError, match="non-decreasing"):
        rows_by_code_range(codes, np.array([5, 3]))


def test_day_numbers_floor_each_stamp_and_leave_nat_missing():
    from features.kernels import day_numbers

    day = 86_400 * 10**9
    nat = np.iinfo(np.int64).min
    stamps = np.array([0, 1, day - 1, day, -1, -day, -day - 1, nat, 19_675 * day + 5], dtype=np.int64)
    days = day_numbers(stamps)
    # floor division: the nanosecond before midnight of 1970-01-01 is day -1, not 0
    np.testing.assert_array_equal(days, [0, 0, 0, 1, -1, -1, -2, np.nan, 19_675])
    assert days.dtype == np.float64


@pytest.mark.parametrize("bad_code", [-1, 3])
def test_reduce_codes_refuses_a_code_outside_the_slots(bad_code):
    from features.kernels import reduce_codes

    with pytest.raises(ValueError, match=f"row 1 has {bad_code}"):
        reduce_codes(np.array([0, bad_code, 2]), np.ones(3), None, 3, "sum")
    # an unselected row's code is never used, so it is not refused
    result, counts = reduce_codes(np.array([0, bad_code, 2]), np.ones(3), np.array([True, False, True]), 3, "sum")
    assert result.tolist() == [1.0, 0.0, 1.0] and counts.tolist() == [1, 0, 1]


def test_place_by_code_puts_values_at_their_slots_row_and_leaves_the_rest_default():
    from features.kernels import place_by_code

    # slots 0..4; the population is slots 3, 0, 4 in that order (rows 0, 1, 2); slots 1 and 2 are outside (row 3)
    row_of = np.array([1, 3, 3, 0, 2])
    codes = np.array([0, 1, 3], dtype=np.int32)
    values = np.array([10.0, 11.0, 13.0])
    assert place_by_code(codes, values, row_of, 3, -1.0).tolist() == [13.0, 10.0, -1.0]
    assert place_by_code(codes[:0], values[:0], row_of, 3, 0.5).tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match="code 5"):
        place_by_code(np.array([0, 5]), values[:2], row_of, 3, 0.0)
    with pytest.raises(ValueError, match="code 1"):
        place_by_code(np.array([1]), values[:1], row_of, 2, 0.0)  # row 3 is past the spare row of 2 rows


def test_selected_day_numbers_keep_the_selected_rows_codes_and_floor_days():
    from features.kernels import selected_day_numbers

    day = 86_400 * 10**9
    stamps = np.array([3 * day + 5, -1, 7 * day, np.iinfo(np.int64).min])  # -1 ns is day -1; the last is NaT
    codes = np.array([4, 2, 9, 1], dtype=np.int32)
    got_codes, days = selected_day_numbers(codes, stamps, np.array([True, True, False, False]))
    assert got_codes.tolist() == [4, 2] and got_codes.dtype == np.int32
    assert days.tolist() == [3, -1] and days.dtype == np.int64
    with pytest.raises(ValueError, match="row 3"):
        selected_day_numbers(codes, stamps, np.array([False, False, False, True]))


def test_trend_ratio_by_hand():
    from features.kernels import trend_ratio

    recent = np.array([6.0, 0.0, 5.0, 0.0, 50.0, np.nan, 3.0])
    previous = np.array([3.0, 0.0, 0.0, -2.0, 2.0, 1.0, -1.0])
    # 6/3; neither positive: flat; only recent: the cap; previous not positive and recent 0: flat; 25 capped to 10;
    # NaN stays NaN; previous negative with recent positive: the cap
    got = trend_ratio(recent, previous, 10.0)
    assert got[~np.isnan(got)].tolist() == [2.0, 1.0, 10.0, 1.0, 10.0, 10.0]
    assert np.isnan(got[5])
    with pytest.raises(ValueError, match="shape"):
        trend_ratio(recent, previous[:3], 10.0)
