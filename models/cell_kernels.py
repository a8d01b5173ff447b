"""Compiled loops of the grouped contributions (see :func:`models.contributions.tree_contributions`).

Per tree and chunk of rows they replace three numpy passes that each made whole temporary arrays: the rows' mixed
radix key over the tree's cells, the grouping of equal keys (pandas' hash factorisation), and adding each group's
TreeSHAP values to its rows. numba compiles them once (cached on disk) and they release the GIL, so chunks in
parallel threads really run in parallel. Values are added tree by tree in LightGBM's order, as before them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FIBONACCI = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed 64-bit integer: multiplicative hashing


@njit(nogil=True, cache=True)
def extend_keys(keys: np.ndarray, table: np.ndarray, cells: np.ndarray, radix: int) -> None:
    """``keys = keys * radix + table[cells]`` in place (the caller keeps the product of radices below 2**62)."""
    for i in range(keys.shape[0]):
        keys[i] = keys[i] * radix + table[cells[i]]


@njit(nogil=True, cache=True)
def group_keys(
    keys: np.ndarray, slot_keys: np.ndarray, slot_groups: np.ndarray, groups: np.ndarray, first_rows: np.ndarray
) -> int:
    """Number the distinct keys in order of first appearance (as ``pd.factorize``): ``groups[i]`` is row i's
    group, ``first_rows[g]`` the first row of group g; returns the number of groups.

    Open addressing over ``slot_keys``/``slot_groups`` (a power of two, more than twice the rows; every slot of
    ``slot_groups`` -1 on entry, and again on return).
    """
    mask = slot_keys.shape[0] - 1
    n_groups = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        slot = ((key * _FIBONACCI) >> 20) & mask
        while True:
            group = slot_groups[slot]
            if group < 0:
                group = n_groups
                slot_groups[slot] = group
                slot_keys[slot] = key
                first_rows[group] = i
                n_groups += 1
                break
            if slot_keys[slot] == key:
                break
            slot = (slot + 1) & mask
        groups[i] = group
    # Clear only the slots used, newest key first: each key's probe then meets the same occupied slots as when
    # it was inserted, so it finds its own slot.
    for group in range(n_groups - 1, -1, -1):
        key = keys[first_rows[group]]
        slot = ((key * _FIBONACCI) >> 20) & mask
        while slot_groups[slot] != group:
            slot = (slot + 1) & mask
        slot_groups[slot] = -1
    return n_groups


@njit(nogil=True, cache=True)
def add_group_values(out: np.ndarray, values: np.ndarray, columns: np.ndarray, groups: np.ndarray) -> None:
    """``out[c, i] += values[groups[i], c]`` for every row i and each column c of ``columns``."""
    for c in columns:
        row = out[c]
        column = values[:, c].copy()
        for i in range(groups.shape[0]):
            row[i] += column[groups[i]]
