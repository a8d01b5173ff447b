"""Feature drift: reference distributions stored with a model, and the population stability index (PSI).

Bins are never finer than what a feature's value means (its resolution: the step its reason shows it at), so a
shift far below that precision, or a point mass moving within it, is not drift."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import FeatureSpec
from features.registry import NUMERIC
from models.explain import display_step

PSI_FLOOR = 1e-4  # share given to an empty bin so that PSI stays finite

# The finest difference a drift check of a feature sees, by unit, when its reason shows no rounded value.
UNIT_RESOLUTIONS = {
    "days": 1.0, "count": 1.0, "currency": 1.0, "rating": 1.0, "flag": 1.0,
    "share": 0.01, "probability": 0.01, "ratio": 0.01,
}
# Two edges closer than this share of a resolution are one (edges on the grid carry float rounding).
EDGE_TOLERANCE = 1e-6


def drift_resolutions(specs: Mapping[str, FeatureSpec]) -> dict[str, float]:
    """Per numeric feature: the finest difference its drift check sees, the step its reason shows the value at
    (1 day for "{value:.0f} days", 0.01 for a percentage), else its unit's (:data:`UNIT_RESOLUTIONS`).

    A shift far below the precision a feature is reported at is not drift; without a floor, quantile bins of a
    concentrated feature (a monthly rhythm of 30.0-30.4 days, a probability crowding at 1.0) are narrower than
    any difference that matters and the PSI flags noise.
    """
    resolutions = {}
    for name, spec in specs.items():
        if spec.kind == NUMERIC:
            step = display_step(spec) or UNIT_RESOLUTIONS.get(spec.unit, 0.0)
            if step > 0:
                resolutions[name] = step
    return resolutions


def reference_distributions(
    frame: pd.DataFrame, n_bins: int = 10, resolutions: Mapping[str, float] | None = None
) -> dict[str, dict]:
    """Per column: bin edges and shares (numeric) or category shares (categorical).

    Numeric edges are the ``n_bins`` quantiles; for a column with a resolution r (``resolutions``), each is moved
    to the nearest half-step (k + 1/2) r, so that values shown alike (rounded to r) share a bin and a bin is at
    least r wide; a point mass (0 purchases, a ratio of exactly 1, a probability crowding at 1.0) gets the bin
    [k - 1/2, k + 1/2) r of its own, so moving within its resolution is not drift and leaving it is. Such a column
    records its ``resolution``, and its values are counted spread over their precision (:func:`_spread_counts`).
    """
    resolutions = resolutions or {}
    reference = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            shares = values.astype("str").value_counts(normalize=True).sort_index()
            reference[name] = {"kind": "categorical", "shares": {str(k): float(v) for k, v in shares.items()}}
        else:
            finite = values.to_numpy(dtype=float)
            quantiles = np.nanquantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])
            step = resolutions.get(name, 0.0)
            if step > 0:
                edges = np.unique(_on_the_grid(finite, quantiles, step, n_bins))
                shares = _spread_counts(finite, edges, step) / max(len(finite), 1)
                reference[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist(),
                                   "resolution": step}
            else:
                edges = np.unique(quantiles)
                reference[name] = {"kind": "numeric", "edges": edges.tolist(),
                                   "shares": _bin_shares(finite, edges).tolist()}
    return reference


def _on_the_grid(values: np.ndarray, quantiles: np.ndarray, step: float, n_bins: int) -> np.ndarray:
    """The quantiles moved to half-steps of ``step``, and a bin of its own for each point mass (a value, rounded
    to ``step``, that at least one in ``n_bins`` rows takes): a point mass in a wider bin hides its leaving.

    A value more than one in ``n_bins`` rows take spans a quantile: the quantiles' rounded values are the candidates.
    """
    grid = np.round(quantiles / step)
    rounded = np.round(values / step)
    masses = [k for k in np.unique(grid) if np.count_nonzero(rounded == k) * n_bins >= len(values)]
    return np.concatenate([grid + 0.5, np.asarray(masses) - 0.5, np.asarray(masses) + 0.5]) * step


def coarsened(reference: dict[str, dict], resolutions: Mapping[str, float]) -> dict[str, dict]:
    """``reference`` with neighbouring numeric bins merged (their shares added) where an edge lies less than the
    column's resolution above the last edge kept: a reference stored before edges respected resolutions (plain
    quantiles, no ``resolution`` recorded; counted hard as then) is re-binned to bins at least that wide; one
    that records its resolution comes back unchanged."""
    merged = {}
    for name, ref in reference.items():
        step = resolutions.get(name, 0.0)
        if ref["kind"] != "numeric" or "resolution" in ref or step <= 0 or not ref["edges"]:
            merged[name] = ref
            continue
        edges = np.asarray(ref["edges"], dtype=float)
        keep = np.zeros(len(edges), dtype=bool)
        last = -np.inf
        for i, edge in enumerate(edges):
            if edge - last >= step * (1 - EDGE_TOLERANCE):
                keep[i], last = True, edge
        new_bin = np.concatenate([[0], np.cumsum(keep)])  # old bin i lies above old edges[:i]
        shares = np.bincount(new_bin, weights=np.asarray(ref["shares"], dtype=float), minlength=int(keep.sum()) + 1)
        merged[name] = {"kind": "numeric", "edges": edges[keep].tolist(), "shares": shares.tolist()}
    return merged


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / max(len(values), 1)


def _spread_counts(values: np.ndarray, edges: np.ndarray, step: float) -> np.ndarray:
    """Rows per bin, each value spread evenly over the interval its precision leaves it, [x - step/2, x + step/2],
    and counted in proportion to the part of it in each bin (bins are at least ``step`` wide, so at most two).

    A value known to a step is anywhere within it: a point mass just beside an edge (a monthly rhythm of 30.4 days
    beside 30.5) moves a share of itself across as it shifts, in proportion to the shift, not all or nothing.
    """
    low = values - step / 2
    bins = np.searchsorted(edges, low, side="right")
    upper = np.append(edges, np.inf)[bins]
    into_next = np.nan_to_num(np.clip((values + step / 2 - upper) / step, 0.0, 1.0))  # NaN: the last bin, whole
    n = len(edges) + 1
    stays = np.bincount(bins, weights=1.0 - into_next, minlength=n)
    return stays + np.bincount(bins + 1, weights=into_next, minlength=n + 1)[:n]


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.maximum(expected, PSI_FLOOR)
    actual = np.maximum(actual, PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_counts(reference: dict[str, dict], frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Per referenced column of ``frame``: rows per reference bin (numeric; spread over their precision when the
    reference records a resolution, so in fractions) or per category (categorical).

    Counts of groups of customers add up to the counts of all of them, so drift is measured bucket by bucket.
    """
    counts = {}
    for name, ref in reference.items():
        if name not in frame.columns:
            continue
        if ref["kind"] == "numeric" and "resolution" in ref:
            counts[name] = pd.Series(_spread_counts(frame[name].to_numpy(dtype=float), np.asarray(ref["edges"]),
                                                    ref["resolution"]))
        elif ref["kind"] == "numeric":
            edges = np.asarray(ref["edges"])
            bins = np.searchsorted(edges, frame[name].to_numpy(dtype=float), side="right")
            counts[name] = pd.Series(np.bincount(bins, minlength=len(edges) + 1))
        else:
            counts[name] = frame[name].astype("str").value_counts()
    return counts


def combined_counts(parts: list[dict[str, pd.Series]]) -> dict[str, pd.Series]:
    """The counts of several groups of rows added up, column by column."""
    names = dict.fromkeys(name for part in parts for name in part)
    return {name: pd.concat([p[name] for p in parts if name in p]).groupby(level=0).sum() for name in names}


def stability_from_counts(reference: dict[str, dict], counts: dict[str, pd.Series]) -> pd.Series:
    """PSI of each counted column against its reference distribution, largest first."""
    psi = {}
    for name, ref in reference.items():
        if name not in counts:
            continue
        found = counts[name]
        total = max(float(found.sum()), 1.0)
        if ref["kind"] == "numeric":
            actual = found.reindex(range(len(ref["edges"]) + 1), fill_value=0).to_numpy() / total
            psi[name] = _psi(np.asarray(ref["shares"]), actual)
        else:
            keys = sorted(set(ref["shares"]) | set(found.index))
            expected = np.array([ref["shares"].get(k, 0.0) for k in keys])
            psi[name] = _psi(expected, found.reindex(keys, fill_value=0).to_numpy() / total)
    return pd.Series(psi, name="psi", dtype=float).sort_values(ascending=False, kind="stable")


def population_stability(reference: dict[str, dict], frame: pd.DataFrame) -> pd.Series:
    """PSI of each referenced column of ``frame`` against its reference distribution, largest first."""
    return stability_from_counts(reference, drift_counts(reference, frame))


def short_history_note(
    train_cutoffs: list[pd.Timestamp], history_start: pd.Timestamp | None, as_of: pd.Timestamp, lookback_days: int
) -> str | None:
    """Why inputs drift on a short history, in words; None unless at least half of the training cutoffs saw less
    than ``lookback_days`` (the features' longest lookback) of purchase history before them, and None when one
    lies before ``history_start`` (the model learnt from other data) or the history is unknown.

    A training cutoff with less history than a feature looks back cannot give the values scoring gives with
    more (a 365-day count over 200 days, a tenure counted from the first purchase in the data), so the inputs
    drift even when customers behave the same.
    """
    if history_start is None or not train_cutoffs:
        return None
    seen = sorted((pd.Timestamp(cutoff) - history_start).days for cutoff in train_cutoffs)
    short = sum(days < lookback_days for days in seen)
    if seen[0] < 0 or 2 * short < len(seen):  # most cutoffs saw the whole lookback: the history is not short
        return None
    now = (pd.Timestamp(as_of) - history_start).days
    span = f"{seen[0]}" if seen[0] == seen[-1] else f"{seen[0]} to {seen[-1]}"
    return (
        "Some of this is expected on a short history: the model's training cutoffs had "
        f"{span} days of purchase history before them and this scoring has {now}. Inputs that look back further (up to {lookback_days} days, and tenure "
        "where it counts from the first purchase in the data) cannot take the same values in training as now, so "
        "they drift even when customers behave the same; retraining as the history grows reduces it."
    )
