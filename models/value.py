"""Customer value: the margin a customer is expected to bring over the churn horizon, from recent net spend."""

from __future__ import annotations

import numpy as np
import pandas as pd


def spend_column(window_days: int) -> str:
    """The feature column holding net spend over ``window_days`` (see features' spend builder)."""
    return f"spend_{window_days}d"


def customer_value(
    features: pd.DataFrame, *, window_days: int, horizon_days: int, margin_rate: float | np.ndarray
) -> np.ndarray:
    """Expected margin over ``horizon_days``: net spend of the last ``window_days`` (returns subtracted; a negative
    net counts as 0) scaled to the horizon, times ``margin_rate`` (one rate, or one per row)."""
    spend = features[spend_column(window_days)].to_numpy(dtype=float)
    return np.clip(spend, 0.0, None) * horizon_days / window_days * np.asarray(margin_rate, dtype=float)


def margin_rates(customer_ids: pd.Series, customers: pd.DataFrame, default: float) -> np.ndarray:
    """Each customer's margin rate from ``customers.margin_rate``, ``default`` where it is empty or unknown."""
    if "margin_rate" not in customers.columns:
        return np.full(len(customer_ids), float(default))
    known = customers[customers["margin_rate"].notna()]
    rates = pd.Series(known["margin_rate"].to_numpy(dtype=float), index=known["customer_id"].astype("str").array)
    rates = rates[~rates.index.duplicated(keep="last")]
    position = rates.index.get_indexer(customer_ids.astype("str"))
    known_rates = np.append(rates.to_numpy(), float(default))  # position -1 (unknown) reads the default
    return known_rates[position]
