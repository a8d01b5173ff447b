"""Per-feature contributions of a LightGBM booster (TreeSHAP, as LightGBM's ``pred_contrib``), fast.

LightGBM's pred_contrib runs TreeSHAP for every row through every tree, O(leaves x depth^2) each: minutes for
a million rows. But a tree's TreeSHAP values depend on a row only through the side it takes at each of the
tree's splits, and a tree of 15 leaves sorts a million rows into a few thousand such groups. So per tree,
LightGBM computes the values of one row per group, and every row of the group takes them ("grouped").

The switch back: ``method="lightgbm"`` (config ``model.contributions: lightgbm``) asks LightGBM for every row
instead. The two agree to 1e-12, with each row's signs and order of contributions exactly LightGBM's
(tests/models/test_contributions.py); keep "lightgbm" for when a LightGBM upgrade or an odd booster puts the
grouping in doubt, at the cost of minutes per million rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.cell_kernels import add_group_values, extend_keys, group_keys

CONTRIBUTION_METHODS = ("grouped", "lightgbm")

LIGHTGBM_ZERO = float(np.float32(1e-35))  # kZeroThreshold: LightGBM reads |x| <= this as 0
CONTRIBUTION_CHUNK_ROWS = 1 << 19  # at most; rows are split evenly over the threads (fewer groups repeat)
_KEY_LIMIT = 1 << 62


def lightgbm_matrix(prepared: pd.DataFrame, pandas_categorical: list | None) -> np.ndarray:
    """The float64 matrix LightGBM predicts from for a prepared frame (categoricals as codes of the training
    categories, missing as NaN), so that predicting from it equals predicting from the frame."""
    categories = iter(pandas_categorical or [])
    columns = []
    for name in prepared.columns:
        column = prepared[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            known = next(categories, None)
            if known is not None and list(column.cat.categories) != list(known):
                column = column.cat.set_categories(known)
            codes = column.cat.codes.to_numpy()
            columns.append(np.where(codes < 0, np.nan, codes.astype("float64")))
        else:
            columns.append(column.to_numpy(dtype="float64"))
    return np.column_stack(columns) if columns else np.empty((len(prepared), 0))


@dataclass(frozen=True)
class _TreeCells:
    """One tree: per feature it splits on, a table from the feature's global cell to this tree's cell."""

    index: int
    features: tuple[int, ...]
    tables: tuple[np.ndarray, ...]

    @property
    def radices(self) -> tuple[int, ...]:
        """How many cells the tree tells apart on each of its features."""
        return tuple(int(table[-1]) + 1 for table in self.tables)


@dataclass(frozen=True)
class _CellModel:
    """Cut points per numeric feature (every threshold of every tree, one float either side, and the zero band)
    and per tree the cells it distinguishes; ``margin`` bounds how far two orders of summing the same TreeSHAP
    terms can drift apart."""

    points: dict[int, np.ndarray]
    categorical: dict[int, int]  # categorical feature -> number of cells (codes + 1, 0 for missing)
    trees: tuple[_TreeCells, ...]
    margin: float

    def cells(self, feature: int, column: np.ndarray) -> np.ndarray:
        """Global cell of each value: equal cells mean equal decisions at every split on the feature."""
        missing = np.isnan(column)
        if feature in self.categorical:
            return np.where(missing, 0, np.nan_to_num(column) + 1).astype(np.int64)
        points = self.points[feature]
        return np.where(missing, len(points) + 1, np.searchsorted(points, column, side="left"))


def _numeric_points(thresholds, zero_band: bool) -> np.ndarray:
    """Cut points telling apart every two values that some split ``x <= t`` on the feature could tell apart.

    Each threshold comes with its neighbouring floats. With ``zero_band``, also [-0, 0] as LightGBM reads
    it (|x| <= 1e-35): needed where it tests for zero (missing_type "Zero") or a threshold lies in that band.
    """
    t = np.asarray(sorted(thresholds), dtype="float64")
    zero = [np.nextafter(-LIGHTGBM_ZERO, -np.inf), LIGHTGBM_ZERO] if zero_band else []
    return np.unique(np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), zero]))


def _walk(node: dict, splits: list, leaves: list) -> None:
    if "split_feature" in node:
        splits.append((node["split_feature"], node["decision_type"], node["threshold"], node["missing_type"]))
        _walk(node["left_child"], splits, leaves)
        _walk(node["right_child"], splits, leaves)
    else:
        leaves.append(abs(node["leaf_value"]))


def _summation_margin(terms: np.ndarray, term_sums: np.ndarray) -> float:
    """How far two orders of summing a feature's TreeSHAP terms can drift apart, over all features, doubled.

    A feature's value sums one term per leaf of each tree splitting on it (a feature appears once on a path),
    each at most the leaf value in size; two summation orders differ by at most 2 gamma_n sum|terms|
    (Higham, Accuracy and Stability of Numerical Algorithms, 4.2).
    """
    unit = np.finfo("float64").eps / 2
    gamma = terms * unit / (1 - terms * unit)
    return float(2 * 2 * (gamma * term_sums).max(initial=0.0))


def _cell_model(booster: lgb.Booster, matrix: np.ndarray) -> _CellModel:
    """The cells of ``booster``'s trees (those pred_contrib uses) for the rows of ``matrix``."""
    n_features = matrix.shape[1]
    per_tree, thresholds, categorical, zero_tested = [], {}, set(), set()
    terms, term_sums = np.zeros(n_features), np.zeros(n_features)
    for tree in booster.dump_model()["tree_info"]:
        splits, leaves = [], []
        _walk(tree["tree_structure"], splits, leaves)
        own: dict[int, set] = {}
        for feature, kind, threshold, missing in splits:
            own.setdefault(feature, set())
            if kind == "==":
                categorical.add(feature)
            else:
                own[feature].add(float(threshold))
                thresholds.setdefault(feature, set()).add(float(threshold))
                if missing == "Zero" or -LIGHTGBM_ZERO <= float(threshold) < LIGHTGBM_ZERO:
                    zero_tested.add(feature)
        per_tree.append((tree["tree_index"], own))
        features = list(own)
        terms[features] += len(leaves)
        term_sums[features] += sum(leaves)
    points = {f: _numeric_points(t, f in zero_tested) for f, t in thresholds.items() if f not in categorical}
    n_categories = {
        f: int(np.nanmax(matrix[:, f], initial=-1)) + 2 if len(matrix) else 1 for f in categorical
    }
    trees = []
    for index, own in per_tree:
        tables = []
        for feature in sorted(own):
            if feature in categorical:
                tables.append(np.arange(n_categories[feature]))
            else:
                local = np.isin(points[feature], _numeric_points(own[feature], feature in zero_tested))
                below = np.concatenate([[0], np.cumsum(local)])
                tables.append(np.append(below, below[-1] + 1))  # the last cell is "missing"
        trees.append(_TreeCells(index, tuple(sorted(own)), tuple(tables)))
    return _CellModel(points, n_categories, tuple(trees), _summation_margin(terms, term_sums))


class _Grouping:
    """Scratch space to group one chunk's rows tree after tree (see :mod:`models.cell_kernels`)."""

    def __init__(self, n_rows: int):
        size = 1 << max(4, (2 * n_rows).bit_length())  # a power of two, more than twice the rows
        self.slot_keys = np.empty(size, dtype=np.int64)
        self.slot_groups = np.full(size, -1, dtype=np.int64)
        self.keys = np.empty(n_rows, dtype=np.int64)
        self.groups = np.empty(n_rows, dtype=np.int64)
        self.first_rows = np.empty(n_rows, dtype=np.int64)

    def _number(self) -> int:
        return group_keys(self.keys, self.slot_keys, self.slot_groups, self.groups, self.first_rows)

    def group(self, tree: _TreeCells, cells: dict[int, np.ndarray]) -> int:
        """Group the rows by their cells in ``tree`` (rows share a group exactly when they share every cell);
        returns the number of groups, numbered in order of first appearance."""
        self.keys[:] = 0
        size = 1
        for feature, table, radix in zip(tree.features, tree.tables, tree.radices, strict=True):
            if size * radix >= _KEY_LIMIT:  # renumber the keys so far before they could overflow
                size = self._number()
                self.keys[:] = self.groups
            extend_keys(self.keys, table, cells[feature], radix)
            size *= radix
        return self._number()


def _fill_chunk(booster: lgb.Booster, model: _CellModel, rows: np.ndarray, out: np.ndarray) -> None:
    """Contributions of ``rows`` into ``out`` (features + bias, rows), tree by tree in LightGBM's order."""
    n_rows, n_features = rows.shape
    used = {f for t in model.trees for f in t.features}
    cells = {f: model.cells(f, rows[:, f]).astype(np.int32) for f in used}
    out[:] = 0.0
    grouping = _Grouping(n_rows)
    for tree in model.trees:
        n_groups = grouping.group(tree, cells)
        phi = booster.predict(  # the first row of each group stands for it
            rows[grouping.first_rows[:n_groups]],
            pred_contrib=True, start_iteration=tree.index, num_iteration=1, num_threads=1,
        )
        add_group_values(out, phi, np.array([*tree.features, n_features], dtype=np.int64), grouping.groups)
    _exact_where_close(booster, model, rows, out)


def _exact_where_close(booster: lgb.Booster, model: _CellModel, rows: np.ndarray, out: np.ndarray) -> None:
    """Rows with a contribution within the margin of 0 or of another get LightGBM's own values, so every row's
    signs and order of contributions are exactly LightGBM's."""
    used = sorted({f for t in model.trees for f in t.features})
    if not used or not len(rows):
        return
    values = np.ascontiguousarray(out[used].T)
    close = (np.abs(values) <= model.margin).any(axis=1)
    values.sort(axis=1)
    close |= (np.diff(values, axis=1) <= 2 * model.margin).any(axis=1)
    if close.any():
        out[:, close] = booster.predict(rows[close], pred_contrib=True, num_threads=1).T


def tree_contributions(booster: lgb.Booster, matrix: np.ndarray, threads: int | None = None) -> np.ndarray:
    """pred_contrib of ``booster`` on ``matrix`` (rows x (features + bias)), by groups of equivalent rows.

    Row chunks run in ``threads`` threads (default: every core), each with its own copy of the booster (a
    LightGBM predict sets which trees to use on the booster itself); the result depends on neither.
    """
    model = _cell_model(booster, matrix)
    out = np.empty((matrix.shape[1] + 1, len(matrix)))
    threads = threads or os.cpu_count() or 1
    chunk = max(1, min(CONTRIBUTION_CHUNK_ROWS, -(-len(matrix) // threads)))
    starts = list(range(0, len(matrix), chunk))
    workers = max(1, min(threads, len(starts)))
    copies = [booster, *(lgb.Booster(model_str=booster.model_to_string()) for _ in range(workers - 1))]

    def work(worker: int) -> None:
        for start in starts[worker::workers]:
            _fill_chunk(copies[worker], model, matrix[start: start + chunk], out[:, start: start + chunk])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    return out.T


def contributions(booster: lgb.Booster, matrix: np.ndarray, method: str = "grouped") -> np.ndarray:
    """pred_contrib of ``booster`` on ``matrix`` (rows x (features + bias)) by ``method``: "grouped" (see
    :func:`tree_contributions`) or "lightgbm" (LightGBM's own, row by row)."""
    if method == "grouped":
        return tree_contributions(booster, matrix)
    if method == "lightgbm":
        return booster.predict(matrix, pred_contrib=True)
    raise ValueError(f"unknown contribution method {method!r}: use one of {', '.join(CONTRIBUTION_METHODS)}")
