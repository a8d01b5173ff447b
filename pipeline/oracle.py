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
    paths: pd.DataFrame,
    ids: np.ndarray,
    t0: int,
    horizon_days: int,
    first_day: pd.Timestamp,
    allow_gaps: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense (customers x window days) rate and hazard from the piecewise-constant path segments.

    ``allow_gaps``: days before a customer's path starts get rate 0 and hazard 0 instead of an error.
    """
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
    if allow_gaps:
        rate, hazard = np.nan_to_num(rate), np.nan_to_num(hazard)
    elif np.isnan(rate).any():
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


def posterior_no_purchase_probability(
    truth: dict[str, pd.DataFrame], transactions: pd.DataFrame, as_of, horizon_days: int
) -> pd.Series:
    """P(no purchase in [as_of, as_of + horizon_days)) given the latent paths AND the observed history.

    Unlike :func:`true_no_purchase_probability`, this does not peek at the realised (unobservable) death: it
    knows each customer's rate and hazard paths and that they have bought nothing since their last purchase
    day L (or since their start), and weighs "still there" against "left silently" by Bayes:
    P(there at as_of | silent on days L+1 .. as_of-1) = A / (A + D), with A = prod q_d and
    D = sum_k (prod_{j<k} q_j) h_k over those days, q_d = (1 - h_d) exp(-lambda_d). The best any model can do
    from the data is bounded by this probability. Customers not yet started at as_of get NaN.
    """
    as_of = _midnight(as_of)
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day = calendar["date"].iloc[0]
    t0 = (as_of - first_day) // DAY
    window = true_no_purchase_probability(truth, as_of, horizon_days)  # validates the window
    customers = _with_datetimes(truth["customers"], ["start_date", "death_date"])
    ids = customers["customer_id"].astype("str").to_numpy()
    started = (customers["start_date"] <= as_of).to_numpy()

    purchases = transactions[(transactions["amount"] > 0) & (transactions["timestamp"] < as_of)]
    last = purchases.groupby(purchases["customer_id"].astype("str"))["timestamp"].max()
    last_day = ((last.reindex(ids) - first_day) // DAY).to_numpy(dtype=float)
    start_day = ((customers["start_date"] - first_day) // DAY).to_numpy(dtype=float)
    silent_from = np.where(np.isnan(last_day), start_day, last_day + 1).astype(int)  # first silent day

    # P(still there and silent | path) when alive throughout = product over the window, computed below.
    there_given_silent = np.full(len(ids), np.nan)
    paths = _with_datetimes(truth["paths"], ["start", "end"])
    season_all = customers["segment"].to_numpy()
    chunk = 4096
    todo = np.flatnonzero(started)
    for begin in range(0, len(todo), chunk):
        rows = todo[begin : begin + chunk]
        span = int(t0 - silent_from[rows].min())
        if span <= 0:
            there_given_silent[rows] = 1.0
            continue
        lo_day = t0 - span
        rate, hazard = _window_paths(paths, ids[rows], lo_day, span, first_day, allow_gaps=True)
        season = _segment_seasonality(calendar, season_all[rows], lo_day, span)
        day = lo_day + np.arange(span)
        silent = day[None, :] >= silent_from[rows][:, None]  # days of the silence; others count as neutral
        q = np.where(silent, (1.0 - hazard) * np.exp(-rate * season), 1.0)
        h = np.where(silent, hazard, 0.0)
        alive_silent = np.cumprod(q, axis=1)
        before = np.hstack([np.ones((len(rows), 1)), alive_silent[:, :-1]])
        left_silently = (before * h).sum(axis=1)
        there_given_silent[rows] = alive_silent[:, -1] / (alive_silent[:, -1] + left_silently)

    # The window probability for a customer who is there at as_of (the same recursion, alive by assumption).
    alive_window = _window_probability_if_there(truth, customers, ids, started, as_of, t0, horizon_days)
    probability = (1.0 - there_given_silent) + there_given_silent * alive_window
    probability[~started] = np.nan
    return pd.Series(probability, index=window.index, name="posterior_no_purchase_probability")


def _window_probability_if_there(truth, customers, ids, started, as_of, t0, horizon_days) -> np.ndarray:
    """P(no purchase in the window | there at as_of) for every started customer (NaN for the others)."""
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day = calendar["date"].iloc[0]
    paths = _with_datetimes(truth["paths"], ["start", "end"])
    out = np.full(len(ids), np.nan)
    rows = np.flatnonzero(started)
    rate, hazard = _window_paths(paths, ids[rows], t0, horizon_days, first_day)
    season = _segment_seasonality(calendar, customers["segment"].to_numpy()[rows], t0, horizon_days)
    out[rows] = no_purchase_probability(rate * season, hazard)
    return out
