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


def population_stability(reference: dict[str, dict], frame: pd.DataFrame) -> pd.Series:
    """PSI of each referenced column of ``frame`` against its reference distribution, largest first."""
    psi = {}
    for name, ref in reference.items():
        if name not in frame.columns:
            continue
        if ref["kind"] == "numeric":
            actual = _bin_shares(frame[name].to_numpy(dtype=float), np.asarray(ref["edges"]))
            psi[name] = _psi(np.asarray(ref["shares"]), actual)
        else:
            shares = frame[name].astype("str").value_counts(normalize=True)
            keys = sorted(set(ref["shares"]) | set(shares.index))
            expected = np.array([ref["shares"].get(k, 0.0) for k in keys])
            psi[name] = _psi(expected, np.array([float(shares.get(k, 0.0)) for k in keys]))
    return pd.Series(psi, name="psi", dtype=float).sort_values(ascending=False, kind="stable")
