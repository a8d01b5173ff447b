"""The compiled grouping loops against pandas' factorisation of the same rows."""

import numpy as np
import pandas as pd

from models.cell_kernels import add_group_values, group_keys
from models.contributions import _Grouping, _TreeCells


def _slots(n_rows: int):
    size = 1 << max(4, (2 * n_rows).bit_length())
    return np.empty(size, dtype=np.int64), np.full(size, -1, dtype=np.int64)


def test_group_keys_numbers_keys_in_order_of_first_appearance_like_factorize():
    rng = np.random.default_rng(0)
    # few distinct keys, spread far apart and negative too, so that probes collide and wrap around
    keys = rng.choice(np.array([0, 1, 2**40, -5, 7 * 2**50, 12345], dtype=np.int64), 10_000)
    slot_keys, slot_groups = _slots(len(keys))
    groups, first = np.empty(len(keys), np.int64), np.empty(len(keys), np.int64)
    n = group_keys(keys, slot_keys, slot_groups, groups, first)
    codes, uniques = pd.factorize(keys)
    assert n == len(uniques)
    np.testing.assert_array_equal(groups, codes)
    np.testing.assert_array_equal(keys[first[:n]], uniques)
    np.testing.assert_array_equal(first[:n], [np.flatnonzero(keys == u)[0] for u in uniques])
    assert (slot_groups == -1).all()  # left ready for the next tree


def test_group_keys_on_a_crowded_table_of_distinct_keys():
    keys = np.arange(1, 3001, dtype=np.int64) * 2**20  # distinct keys whose home slots coincide often
    slot_keys, slot_groups = _slots(len(keys))
    groups, first = np.empty(len(keys), np.int64), np.empty(len(keys), np.int64)
    assert group_keys(keys, slot_keys, slot_groups, groups, first) == 3000
    np.testing.assert_array_equal(groups, np.arange(3000))
    assert (slot_groups == -1).all()


def test_grouping_renumbers_before_the_key_would_overflow():
    # 5 features with 2**15 cells each: the product (2**75) exceeds 64 bits, so the keys are renumbered on the way.
    rng = np.random.default_rng(1)
    n_rows, n_cells = 5_000, 2**15
    cells = {f: rng.integers(0, 4, n_rows) * (n_cells // 4) for f in range(5)}
    cells[2] = cells[0]  # equal columns must not create extra groups
    tree = _TreeCells(0, tuple(range(5)), tuple(np.arange(n_cells, dtype=np.int64) for _ in range(5)))
    grouping = _Grouping(n_rows)
    n = grouping.group(tree, cells)
    expected, uniques = pd.factorize(pd.MultiIndex.from_arrays([cells[f] for f in range(5)]))
    assert n == len(uniques)
    np.testing.assert_array_equal(grouping.groups, expected)


def test_add_group_values_adds_each_groups_row_to_its_members():
    values = np.array([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]])
    out = np.zeros((3, 4))
    add_group_values(out, values, np.array([0, 2]), np.array([1, 0, 0, 1]))
    np.testing.assert_array_equal(out, [[2.0, 1.0, 1.0, 2.0], [0, 0, 0, 0], [200.0, 100.0, 100.0, 200.0]])
