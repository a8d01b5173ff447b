"""Lifecycle stage (acquisition, growth, maturity, decline, churned), derived from other feature columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.settings import LifecycleThresholds

LIFECYCLE_STAGES = ("acquisition", "growth", "maturity", "decline", "churned")


def lifecycle_stage(
    tenure_days: pd.Series,
    orders_trend: pd.Series,
    spend_trend: pd.Series,
    days_since_last_purchase: pd.Series,
    purchase_overdue_ratio: pd.Series,
    *,
    thresholds: LifecycleThresholds,
) -> pd.Series:
    """The customer's lifecycle stage: the first rule that holds, in this order.

    churned: silent for >= churned_overdue_ratio usual gaps and >= churned_min_days days;
    acquisition: tenure < acquisition_days; decline: orders or spend trend <= decline_trend, or overdue ratio
    >= decline_overdue_ratio; growth: orders or spend trend >= growth_trend; maturity: otherwise.
    """
    t = thresholds
    index = tenure_days.index
    # Plain arrays in the order of tenure_days' index (NaN compares False, as in pandas); pandas' own Series
    # arithmetic would re-check the indexes at every one of the dozen operations below.
    tenure_days, orders_trend, spend_trend, days_since_last_purchase, purchase_overdue_ratio = (
        (values if values.index.equals(index) else values.reindex(index)).to_numpy(dtype="float64")
        for values in (tenure_days, orders_trend, spend_trend, days_since_last_purchase, purchase_overdue_ratio)
    )
    churned = (purchase_overdue_ratio >= t.churned_overdue_ratio) & (
        days_since_last_purchase >= t.churned_min_days
    )
    declining = (
        (orders_trend <= t.decline_trend)
        | (spend_trend <= t.decline_trend)
        | (purchase_overdue_ratio >= t.decline_overdue_ratio)
    )
    growing = (orders_trend >= t.growth_trend) | (spend_trend >= t.growth_trend)
    stage = np.select(
        [churned, tenure_days < t.acquisition_days, declining, growing],
        [LIFECYCLE_STAGES.index(name) for name in ("churned", "acquisition", "decline", "growth")],
        default=LIFECYCLE_STAGES.index("maturity"),
    )
    names = pa.array(LIFECYCLE_STAGES, type=pa.large_string()).take(stage)  # no Python string per customer
    return pd.Series(pd.array(names, dtype="str"), index=index, name="lifecycle_stage")
