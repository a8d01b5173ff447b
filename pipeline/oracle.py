"""The true no-purchase probability of each customer, from the latent truth of a synthetic world.

Same discrete-day law as :mod:`pipeline.synthetic`: on each day d the customer first leaves for good with
probability h_d; if still there, they buy Poisson(lambda_d) times, lambda_d = rate_d * seasonality_segment(d).
With q_d = (1 - h_d) * exp(-lambda_d), the probability of no purchase on the window's days 0..H-1 is
sum_k (prod_{j<k} q_j) * h_k + prod_{j<H} q_j (leave on day k after buying nothing before, or stay and buy
nothing). The truth's realised death date only says whether the customer is still there at as_of.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.tables import as_timestamp, to_datetime_column

DAY = pd.Timedelta(days=1)


def true_no_purchase_probability(truth: dict[str, pd.DataFrame], as_of, horizon_days: int) -> pd.Series:
    """P(no purchase in [as_of, as_of + horizon_days)) per customer, given the latent state at as_of.

    Customers who left before as_of (death_date < as_of) get 1.0; customers whose latent path has not started
    by as_of (start_date > as_of: not yet signed up) get NaN. The window must lie inside the truth calendar.
    """
    as_of = _midnight(as_of)
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day = calendar["date"].iloc[0]
    t0 = (as_of - first_day) // DAY
    if horizon_days < 1 or t0 < 0 or t0 + horizon_days > len(calendar):
        raise ValueError(
            f"the window [{as_of.date()}, +{horizon_days} days) must lie inside the truth calendar "
            f"{first_day.date()} .. {calendar['date'].iloc[-1].date()}"
        )
    customers = _with_datetimes(truth["customers"], ["start_date", "death_date"])
    started = (customers["start_date"] <= as_of).to_numpy()
    gone = started & (customers["death_date"] < as_of).to_numpy()
    there = started & ~gone
    probability = np.full(len(customers), np.nan)
    probability[gone] = 1.0
    ids = customers["customer_id"].to_numpy()
    paths = _with_datetimes(truth["paths"], ["start", "end"])
    rate, hazard = _window_paths(paths, ids[there], t0, horizon_days, first_day)
    season = _segment_seasonality(calendar, customers["segment"].to_numpy()[there], t0, horizon_days)
    probability[there] = no_purchase_probability(rate * season, hazard)
    index = pd.Index(customers["customer_id"].astype("str"), name="customer_id")
    return pd.Series(probability, index=index, name="true_no_purchase_probability")


def no_purchase_probability(daily_rate: np.ndarray, daily_hazard: np.ndarray) -> np.ndarray:
    """Exact P(no purchase over the columns' days) per row: leave w.p. h_d, else Poisson(lambda_d) purchases."""
    keep_silent = (1.0 - daily_hazard) * np.exp(-daily_rate)
    silent_through = np.cumprod(keep_silent, axis=1)
    silent_before = np.hstack([np.ones((len(keep_silent), 1)), silent_through[:, :-1]])
    return (silent_before * daily_hazard).sum(axis=1) + silent_through[:, -1]


def _window_paths(
    paths: pd.DataFrame, ids: np.ndarray, t0: int, horizon_days: int, first_day: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Dense (customers x window days) rate and hazard from the piecewise-constant path segments."""
    row = pd.Index(ids).get_indexer(paths["customer_id"])
    start = ((paths["start"] - first_day) // DAY).to_numpy() - t0
    end = ((paths["end"] - first_day) // DAY).to_numpy() - t0
    lo, hi = np.clip(start, 0, horizon_days), np.clip(end, 0, horizon_days)
    use = (row >= 0) & (hi > lo)
    row, lo, hi = row[use], lo[use], hi[use]
    length = hi - lo
    segment = np.repeat(np.arange(len(row)), length)
    offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    flat = row[segment] * horizon_days + lo[segment] + offset
    rate = np.full(len(ids) * horizon_days, np.nan)
    hazard = np.full(len(ids) * horizon_days, np.nan)
    rate[flat] = paths["rate"].to_numpy()[use][segment]
    hazard[flat] = paths["hazard"].to_numpy()[use][segment]
    if np.isnan(rate).any():
        raise ValueError("the truth paths do not cover the window for every customer who is there at as_of")
    return rate.reshape(len(ids), horizon_days), hazard.reshape(len(ids), horizon_days)


def _segment_seasonality(
    calendar: pd.DataFrame, segment: np.ndarray, t0: int, horizon_days: int
) -> np.ndarray:
    """The calendar's seasonality column of each customer's segment over the window."""
    names, code = np.unique(segment, return_inverse=True)
    window = calendar.iloc[t0 : t0 + horizon_days]
    columns = [window[f"seasonality_{name}"].to_numpy() for name in names]
    return np.stack(columns)[code] if columns else np.empty((0, horizon_days))


def _with_datetimes(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame with ``columns`` as datetime64[ns], so truth read back from CSV (ISO strings) works too."""
    return frame.assign(**{column: to_datetime_column(frame[column]) for column in columns})


def _midnight(value) -> pd.Timestamp:
    ts = as_timestamp(value)
    if ts != ts.normalize():
        raise ValueError(f"as_of must be a midnight date, got {ts}")
    return ts
