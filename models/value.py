"""Customer value: expected net spend over the coming value horizon, from recent net spend."""

from __future__ import annotations

import numpy as np
import pandas as pd


def spend_column(window_days: int) -> str:
    """The feature column holding net spend over ``window_days`` (see features' spend builder)."""
    return f"spend_{window_days}d"


def customer_value(features: pd.DataFrame, *, window_days: int, horizon_days: int) -> np.ndarray:
    """Net spend of the last ``window_days`` scaled to ``horizon_days``; returns (negative net) count as 0."""
    spend = features[spend_column(window_days)].to_numpy(dtype=float)
    return np.clip(spend, 0.0, None) * horizon_days / window_days
