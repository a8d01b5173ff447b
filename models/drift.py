"""Feature drift: reference distributions stored with a model, and the population stability index (PSI)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_FLOOR = 1e-4  # share given to an empty bin so that PSI stays finite


def reference_distributions(frame: pd.DataFrame, n_bins: int = 10) -> dict[str, dict]:
    """Per column: quantile bin edges and shares (numeric) or category shares (categorical)."""
    reference = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            shares = values.astype("str").value_counts(normalize=True).sort_index()
            reference[name] = {"kind": "categorical", "shares": {str(k): float(v) for k, v in shares.items()}}
        else:
            finite = values.to_numpy(dtype=float)
            edges = np.unique(np.nanquantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
            reference[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": _bin_shares(finite, edges).tolist()}
    return reference


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / max(len(values), 1)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.maximum(expected, PSI_FLOOR)
    actual = np.maximum(actual, PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_counts(reference: dict[str, dict], frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Per referenced column of ``frame``: rows per reference bin (numeric) or per category (categorical).

    Counts of groups of customers add up to the counts of all of them, so drift is measured bucket by bucket.
    """
    counts = {}
    for name, ref in reference.items():
        if name not in frame.columns:
            continue
        if ref["kind"] == "numeric":
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
        total = max(int(found.sum()), 1)
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
    """Why inputs drift on a short history, in words; None when the training cutoffs saw ``lookback_days`` (the
    features' longest lookback) or more of purchase history before them, when one lies before ``history_start``
    (the model learnt from other data), or when the history is unknown.

    A training cutoff with less history than a feature looks back cannot give the values scoring gives with
    more (a 365-day count over 200 days, a tenure counted from the first purchase in the data), so the inputs
    drift even when customers behave the same.
    """
    if history_start is None or not train_cutoffs:
        return None
    seen = sorted((pd.Timestamp(cutoff) - history_start).days for cutoff in train_cutoffs)
    if not 0 <= seen[0] < lookback_days:
        return None
    now = (pd.Timestamp(as_of) - history_start).days
    span = f"{seen[0]}" if seen[0] == seen[-1] else f"{seen[0]} to {seen[-1]}"
    return (
        f"Some of this is expected on a short history: the model's training cutoffs had {span} days of purchase history before "
        f"them and this scoring has {now}. Inputs that look back further (up to {lookback_days} days, and tenure "
        "where it counts from the first purchase in the data) cannot take the same values in training as now, so "
        "they drift even when customers behave the same; retraining as the history grows reduces it."
    )
