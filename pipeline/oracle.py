"""The true no-purchase probability of each customer, from the latent truth of a synthetic world.

Same discrete-day law as :mod:`pipeline.synthetic`: on each day d the customer first leaves for good with
probability h_d; if still there, they buy Poisson(lambda_d) times, lambda_d = rate_d * seasonality_segment(d).
With q_d = (1 - h_d) * exp(-lambda_d), the probability of no purchase on the window's days 0..H-1 is
sum_k (prod_{j<k} q_j) * h_k + prod_{j<H} q_j (leave on day k after buying nothing before, or stay and buy
nothing). The truth's realised death date only says whether the customer is still there at as_of.

A world generated with ``seasonal_churn`` has the calendar column ``churn_seasonality``: every oracle applies it
to the paths' hazard as the generator did (:func:`pipeline.synthetic.seasonal_hazard`).

Three oracles, from most to least informed: :func:`true_no_purchase_probability` (the realised death and the
latent paths through the window), :func:`posterior_no_purchase_probability` (the latent paths through the
window and the observed silence) and :func:`as_of_no_purchase_probability` (only what exists at as_of and the
observed silence, averaged over the futures the generator could draw: the true probability at as_of).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from features.tables import Tables, as_timestamp, to_datetime_column
from pipeline.synthetic import (
    AFTER_RESOLUTION_DAYS,
    COMPLAINT_HOURS,
    DECLINE_ADDED_HAZARD,
    DECLINE_AFTER_BAD_RESOLUTION,
    DECLINE_AFTER_NEVER_RESOLVED,
    DECLINE_STEP_DAYS,
    HAZARD_CAP,
    HISTORY_START,
    MANAGER_DEPARTURE_DAYS,
    MANAGER_DEPARTURE_PROBABILITY,
    MANAGER_KEPT_DAYS,
    N_DAYS,
    RESOLUTION_SIGMA,
    SATISFACTION_NOISE,
    UNRESOLVED_FACTOR,
    complaint_outcomes,
    daily_log_multipliers,
    daily_rate_and_hazard,
    decline_triggers,
    hazard_effects,
    never_resolved_probability,
    resolution_log_median_days,
    satisfaction_score,
    seasonal_hazard,
)

DAY = pd.Timedelta(days=1)


def true_no_purchase_probability(truth: dict[str, pd.DataFrame], as_of, horizon_days: int) -> pd.Series:
    """P(no purchase in [as_of, as_of + horizon_days)) per customer, given the latent state at as_of.

    Customers who left before as_of (death_date < as_of) get 1.0; customers whose latent path has not started
    by as_of (start_date > as_of: not yet signed up) get NaN. The window must lie inside the truth calendar.
    """
    as_of = _midnight(as_of)
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day, t0 = _window_start(calendar, as_of, horizon_days)
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
    hazard = _with_churn_season(hazard, calendar, t0, horizon_days)
    probability[there] = no_purchase_probability(rate * season, hazard)
    index = pd.Index(customers["customer_id"].astype("str"), name="customer_id")
    return pd.Series(probability, index=index, name="true_no_purchase_probability")


def _window_start(calendar: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> tuple[pd.Timestamp, int]:
    """The calendar's first date and as_of's day number; refuses a window outside the calendar."""
    first_day = calendar["date"].iloc[0]
    t0 = (as_of - first_day) // DAY
    if horizon_days < 1 or t0 < 0 or t0 + horizon_days > len(calendar):
        raise ValueError(
            f"the window [{as_of.date()}, +{horizon_days} days) must lie inside the truth calendar "
            f"{first_day.date()} .. {calendar['date'].iloc[-1].date()}"
        )
    return first_day, t0


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


def _with_churn_season(hazard: np.ndarray, calendar: pd.DataFrame, t0: int, n_days: int) -> np.ndarray:
    """The hazard over days t0 .. t0 + n_days - 1 with the calendar's yearly factor, when the world has one."""
    if "churn_seasonality" not in calendar:
        return hazard
    return seasonal_hazard(hazard, calendar["churn_seasonality"].to_numpy()[t0 : t0 + n_days][None, :])


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
    there_given_silent = _there_given_silence(truth, transactions, as_of, started)

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
    hazard = _with_churn_season(hazard, calendar, t0, horizon_days)
    out[rows] = no_purchase_probability(rate * season, hazard)
    return out


def _there_given_silence(
    truth: dict[str, pd.DataFrame], transactions: pd.DataFrame, as_of: pd.Timestamp, selected: np.ndarray
) -> np.ndarray:
    """P(still there at as_of | latent paths before as_of, no purchase since the last one) per truth customer.

    Computed for the truth customers in the boolean mask ``selected`` (all started by as_of), NaN for
    the others: A / (A + D) as in :func:`posterior_no_purchase_probability`.
    """
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day = calendar["date"].iloc[0]
    t0 = (as_of - first_day) // DAY
    customers = _with_datetimes(truth["customers"], ["start_date"])
    ids = customers["customer_id"].astype("str").to_numpy()
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
    todo = np.flatnonzero(selected)
    for begin in range(0, len(todo), chunk):
        rows = todo[begin : begin + chunk]
        span = int(t0 - silent_from[rows].min())
        if span <= 0:
            there_given_silent[rows] = 1.0
            continue
        lo_day = t0 - span
        rate, hazard = _window_paths(paths, ids[rows], lo_day, span, first_day, allow_gaps=True)
        hazard = _with_churn_season(hazard, calendar, lo_day, span)
        season = _segment_seasonality(calendar, season_all[rows], lo_day, span)
        day = lo_day + np.arange(span)
        silent = day[None, :] >= silent_from[rows][:, None]  # days of the silence; others count as neutral
        q = np.where(silent, (1.0 - hazard) * np.exp(-rate * season), 1.0)
        h = np.where(silent, hazard, 0.0)
        alive_silent = np.cumprod(q, axis=1)
        before = np.hstack([np.ones((len(rows), 1)), alive_silent[:, :-1]])
        left_silently = (before * h).sum(axis=1)
        there_given_silent[rows] = alive_silent[:, -1] / (alive_silent[:, -1] + left_silently)
    return there_given_silent


ROWS_PER_CHUNK = 32_768  # customer x replication rows simulated at once (each row holds horizon_days floats)
SAME_PATH_TOLERANCE = 1e-6  # in units of log(UNRESOLVED_FACTOR): how exactly a path must match a hypothesis


def as_of_no_purchase_probability(
    truth: dict[str, pd.DataFrame],
    tables: Tables,
    as_of,
    horizon_days: int,
    *,
    customer_ids=None,
    replications: int = 200,
    seed: int = 0,
) -> pd.Series:
    """P(no purchase in [as_of, as_of + horizon_days)) given all that exists at as_of, averaged over the future.

    For a world drawn by :func:`pipeline.synthetic.generate_world`: what is known at as_of (day T) is every
    latent trait, the latent rate and hazard paths before T, the latent events before T (complaints opened,
    complaints resolved with their satisfaction, managers who left, a decline phase that started) and the
    observed silence since the last purchase. Everything after T is drawn again, ``replications`` times, by
    the generator's own law (its helpers and constants): complaints opened from T on (Poisson at the
    customer's complaint rate, with severity, resolution and satisfaction); the resolution of each complaint
    open at T (days to resolve drawn beyond its age, satisfaction anew); the departure of a manager still
    employed at T (not before T, nor before 60 days after the start of any customer already given to them);
    the decline onset if none started before T (spontaneous onset memoryless from T; each trigger before T
    (bad or never resolution, manager departure, price rise) fires with its Bayes probability given that it
    has not started a decline by T, with its delay drawn beyond T; triggers by new events as drawn). The
    list-price rise date is public and stays. Each replication's window probability is exact in closed form
    (:func:`no_purchase_probability`) and is averaged; still there vs left silently is weighed by Bayes on the
    paths before T, as in :func:`posterior_no_purchase_probability`. Customers not started by as_of get NaN.

    ``tables`` are the world's observed tables (for the events before T); ``customer_ids`` restricts the
    computation (and the result) to those customers. Monte Carlo: the standard error of a customer's value is
    about sd / sqrt(replications), sd being the spread of its window probability over futures; the
    spontaneous-onset draws are stratified over the replications. The result depends on ``seed``, the
    customers computed and what exists at T, nothing else: changing anything in the truth or tables from T on
    leaves it unchanged.

    What is known at T, and the approximations:
    - A trigger's coin and delay, and an open complaint's resolution day and satisfaction, are drawn by the
      generator at the event but change no latent path before they take effect, and no table records them:
      they are treated as unknown at T beyond "nothing has happened yet".
    - Whether an open complaint will never be resolved does show in the hazard (x UNRESOLVED_FACTOR from the
      day after it was opened), so it is read from the truth's hazard path. Where the path cannot tell (the
      complaint was opened the day before T, the hazard is at its cap, or the path does not match the known
      effects) it is Bayes from the prior, the complaint's age and, unless a decline started, the absence of
      a decline onset; where several complaints of a customer opened on the same day are still open, the
      number never resolved among them is read and shared evenly (approximation: their flags are then drawn
      independently).
    - A manager's later departure is conditioned on not having happened by T and on their customers started
      by T having been given to them (departure > start + MANAGER_KEPT_DAYS); the weaker information in which
      of the eligible managers each customer was given is ignored (approximation). Replications draw the
      departure per customer, not per manager: each customer's value needs only its own marginal.
    - Complaints opened after a customer's (unobserved) death are missing from the complaints table, so for
      a customer who has in fact left they are missing from the "still there" branch (approximation; the
      truth does not record them).
    """
    as_of = _midnight(as_of)
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    calendar = _with_datetimes(truth["calendar"], ["date"])
    first_day, t0 = _window_start(calendar, as_of, horizon_days)
    if first_day != HISTORY_START:
        raise ValueError(
            f"the as-of oracle replays pipeline.synthetic's law, whose calendar starts on {HISTORY_START.date()}; "
            f"this truth calendar starts on {first_day.date()}"
        )
    customers = _with_datetimes(truth["customers"], ["signup_date", "start_date", "decline_start"])
    ids = customers["customer_id"].astype("str").to_numpy()
    wanted = np.ones(len(ids), dtype=bool) if customer_ids is None else _requested(ids, customer_ids)
    computed = wanted & (customers["start_date"] <= as_of).to_numpy()
    there = _there_given_silence(truth, tables.transactions, as_of, computed)[computed]
    known = _known_at(customers, tables, _with_datetimes(truth["paths"], ["start", "end"]), t0, computed)
    season = _segment_seasonality(calendar, customers["segment"].to_numpy()[computed], t0, horizon_days)
    rng = np.random.default_rng(seed)
    churn_season = _with_churn_season(np.ones((1, horizon_days)), calendar, t0, horizon_days)
    if_there = _mean_over_futures(known, season, churn_season, t0, horizon_days, replications, rng)
    probability = np.full(len(ids), np.nan)
    probability[computed] = (1.0 - there) + there * if_there
    index = pd.Index(ids[wanted], name="customer_id", dtype="str")
    return pd.Series(probability[wanted], index=index, name="as_of_no_purchase_probability")


def _requested(ids: np.ndarray, customer_ids) -> np.ndarray:
    """Mask of the truth customers asked for; refuses ids the truth does not have."""
    asked = pd.Index(pd.Series(list(customer_ids), dtype="str"))
    unknown = asked[~asked.isin(ids)]
    if len(unknown):
        raise ValueError(f"{len(unknown)} customer ids are not in the truth, e.g. {list(unknown[:3])}")
    return pd.Index(ids).isin(asked)


@dataclass(frozen=True)
class _KnownAtT:
    """Latent traits and latent events before T of the computed customers (numbered 0..n-1 in ``people``).

    ``people``: signup_day, start_day, base_rate, base_hazard, decline_onset_rate, promo_propensity,
    complaint_rate, decline_day (onset before T, else N_DAYS), manager_left_day (departure before T, else
    inf), departure_probability and earliest_departure (of a departure from T on). ``settled``: complaints
    resolved before T that can still matter, in the generator's columns; ``open``: complaints open at T, with
    never_probability. Both sorted by customer.
    """

    people: pd.DataFrame
    settled: pd.DataFrame
    open: pd.DataFrame

    def customers(self, first: int, last: int) -> _KnownAtT:
        """The customers first .. last - 1, renumbered from 0."""

        def part(frame: pd.DataFrame) -> pd.DataFrame:
            customer = frame["customer"].to_numpy()
            lo, hi = np.searchsorted(customer, [first, last])
            return frame.iloc[lo:hi].assign(customer=customer[lo:hi] - first)

        people = self.people.iloc[first:last].reset_index(drop=True)
        return _KnownAtT(people=people, settled=part(self.settled), open=part(self.open))


def _known_at(
    customers: pd.DataFrame, tables: Tables, paths: pd.DataFrame, t0: int, computed: np.ndarray
) -> _KnownAtT:
    """What exists at day t0 of the truth customers in the mask ``computed`` (all started by then)."""
    ids = customers["customer_id"].astype("str").to_numpy()
    start_day = _day_numbers(customers["start_date"])
    decline_day = _day_numbers(customers["decline_start"], dtype=float)
    manager_left_day, departure_probability, earliest_departure = _managers_at(tables, ids, start_day, t0)
    people = pd.DataFrame(
        {
            "signup_day": _day_numbers(customers["signup_date"]),
            "start_day": start_day,
            **{
                trait: customers[trait].to_numpy(dtype=float)
                for trait in (
                    "base_rate",
                    "base_hazard",
                    "decline_onset_rate",
                    "promo_propensity",
                    "complaint_rate",
                )
            },
            "decline_day": np.where(decline_day < t0, decline_day, N_DAYS).astype(np.int64),
            "manager_left_day": manager_left_day,
            "departure_probability": departure_probability,
            "earliest_departure": earliest_departure,
        }
    )[computed].reset_index(drop=True)
    complaints = _complaint_days(tables.complaints, ids[computed])
    complaints = complaints[complaints["opened"] < t0]
    is_settled = complaints["resolved"].to_numpy() < t0
    settled = complaints[is_settled].astype({"satisfaction": np.int64})
    still_open = complaints[~is_settled].drop(columns=["resolved", "satisfaction"])
    never = _never_resolved_probability(people, settled, still_open, paths, ids[computed], t0)
    reach = AFTER_RESOLUTION_DAYS + DECLINE_AFTER_BAD_RESOLUTION[1] + 2  # days a resolution can still matter
    return _KnownAtT(
        people=people,
        settled=settled[settled["resolved"].to_numpy() >= t0 - reach].reset_index(drop=True),
        open=still_open.assign(never_probability=never).reset_index(drop=True),
    )


def _day_numbers(dates: pd.Series, dtype=np.int64) -> np.ndarray:
    """Days since the history start (NaN for missing dates when dtype is float)."""
    return ((dates - HISTORY_START) / DAY).to_numpy(dtype=float).astype(dtype)


def _complaint_days(complaints: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """The observed complaints of ``ids`` in the generator's columns (customer = position in ids; fractional
    days since the history start; resolved NaN and satisfaction 0 where the data has no resolution)."""
    customer = pd.Index(ids).get_indexer(complaints["customer_id"].astype("str"))
    c = complaints[customer >= 0]
    opened = ((c["opened_at"] - HISTORY_START) / DAY).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "customer": customer[customer >= 0],
            "opened_day": np.floor(opened).astype(np.int64),
            "opened": opened,
            "resolved": ((c["resolved_at"] - HISTORY_START) / DAY).to_numpy(dtype=float),
            "severity": c["severity"].to_numpy(dtype=np.int64),
            "satisfaction": c["satisfaction"].fillna(0).to_numpy(dtype=np.int64),
        }
    )
    return frame.sort_values(["customer", "opened"], kind="stable").reset_index(drop=True)


def _managers_at(
    tables: Tables, ids: np.ndarray, start_day: np.ndarray, t0: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per truth customer: their manager's departure day if before t0 (else inf), and the law of a departure
    from t0 on: with departure_probability, on a uniform day in [earliest_departure, MANAGER_DEPARTURE_DAYS[1]).

    The first manager of the table always stays (the generator's rule); a manager is only given a customer
    while still employed MANAGER_KEPT_DAYS after that customer's start.
    """
    managers = tables.account_managers
    manager_of = tables.customers.set_index(tables.customers["customer_id"].astype("str"))[
        "account_manager_id"
    ]
    manager = pd.Index(managers["account_manager_id"].astype("str")).get_indexer(
        manager_of.reindex(ids).astype("str")
    )
    departed = _day_numbers(managers["departed_at"], dtype=float)
    departed_day = np.where(manager >= 0, departed[np.maximum(manager, 0)], np.nan)
    left_before = departed_day < t0
    kept_until = np.full(len(managers), -np.inf)
    given = (manager >= 0) & (start_day <= t0)
    np.maximum.at(kept_until, manager[given], start_day[given] + MANAGER_KEPT_DAYS + 1.0)
    low, high = MANAGER_DEPARTURE_DAYS
    earliest = np.maximum(np.maximum(kept_until[np.maximum(manager, 0)], t0), low)
    leaves_later = MANAGER_DEPARTURE_PROBABILITY * np.clip(high - earliest, 0, None) / (high - low)
    probability = leaves_later / (1 - MANAGER_DEPARTURE_PROBABILITY + leaves_later)
    probability = np.where((manager > 0) & ~left_before, probability, 0.0)
    return np.where(left_before, departed_day, np.inf), probability, earliest


def _never_resolved_probability(
    people: pd.DataFrame, settled: pd.DataFrame, still_open: pd.DataFrame, paths, ids, t0: int
) -> np.ndarray:
    """P(never resolved | what exists at t0) of each complaint open at t0: read from the path, else Bayes."""
    severity = still_open["severity"].to_numpy()
    opened = still_open["opened"].to_numpy()
    prior = never_resolved_probability(severity)
    declining = people["decline_day"].to_numpy()[still_open["customer"].to_numpy()] < t0
    p_fire, max_delay = DECLINE_AFTER_NEVER_RESOLVED
    no_onset_if_never = np.where(declining, 1.0, 1.0 - p_fire * np.clip((t0 - 2 - opened) / max_delay, 0, 1))
    with np.errstate(divide="ignore"):
        z_age = (np.log(t0 - opened) - resolution_log_median_days(severity)) / RESOLUTION_SIGMA
    never = prior * no_onset_if_never
    bayes = never / (never + (1 - prior) * ndtr(-z_age))
    seen = _never_resolved_in_path(people, settled, still_open, paths, ids, t0)
    return np.where(np.isnan(seen), bayes, seen)


def _never_resolved_in_path(
    people: pd.DataFrame, settled: pd.DataFrame, still_open: pd.DataFrame, paths, ids, t0: int
) -> np.ndarray:
    """Share never resolved among a customer's complaints opened on the same day and open at t0, as the hazard
    path shows it (the x UNRESOLVED_FACTOR appears the day after opening); NaN where the path cannot tell.

    n(d) = [log(h_d - decline hazard_d) - log(base hazard) - known log multipliers_d] / log(UNRESOLVED_FACTOR)
    counts the never-resolved complaints open on day d; its step from day o to o + 1 counts those opened on o.
    """
    seen = np.full(len(still_open), np.nan)
    visible = np.flatnonzero(still_open["opened_day"].to_numpy() <= t0 - 2)
    if len(visible) == 0:
        return seen
    customer = still_open["customer"].to_numpy()
    subset, local = np.unique(customer[visible], return_inverse=True)
    who = people.iloc[subset]
    in_subset = pd.Index(subset)
    # Every open complaint as one to be resolved after t0 (not never): its open effect covers all days < t0.
    hypothesis = pd.concat(
        [
            settled[settled["customer"].isin(subset)],
            still_open[still_open["customer"].isin(subset)].assign(resolved=float(t0), satisfaction=4),
        ],
        ignore_index=True,
    )
    hypothesis["customer"] = in_subset.get_indexer(hypothesis["customer"])
    effects = hazard_effects(
        who["signup_day"].to_numpy(),
        who["start_day"].to_numpy(),
        who["promo_propensity"].to_numpy(),
        hypothesis,
        who["manager_left_day"].to_numpy(),
    )
    query_customer = np.repeat(local, 2)
    query_day = np.repeat(still_open["opened_day"].to_numpy()[visible], 2) + np.tile([0, 1], len(visible))
    queries = pd.DataFrame({"query": np.arange(len(query_day)), "customer": query_customer, "day": query_day})
    hits = queries.merge(effects, on="customer")
    hits = hits[(hits["lo"] <= hits["day"]) & (hits["day"] < hits["hi"])]
    log_multiplier = np.bincount(hits["query"], hits["log_mult"], len(queries))
    hazard = _hazard_on(paths, ids[subset][query_customer], query_day)
    decline_day = who["decline_day"].to_numpy()[query_customer]
    step = np.clip((query_day - decline_day) // DECLINE_STEP_DAYS, 0, len(DECLINE_ADDED_HAZARD) - 1)
    added = np.where(query_day >= decline_day, DECLINE_ADDED_HAZARD[step], 0.0)
    base = who["base_hazard"].to_numpy()[query_customer]
    with np.errstate(divide="ignore", invalid="ignore"):
        n_never = (np.log(hazard - added) - np.log(base) - log_multiplier) / np.log(UNRESOLVED_FACTOR)
    exact = (hazard < HAZARD_CAP) & (np.abs(n_never - np.round(n_never)) < SAME_PATH_TOLERANCE)
    exact = exact.reshape(-1, 2).all(axis=1)
    opened_that_day = np.round(n_never).reshape(-1, 2) @ np.array([-1.0, 1.0])
    same_day = (
        still_open.iloc[visible].groupby(["customer", "opened_day"])["opened"].transform("size").to_numpy()
    )
    readable = exact & (opened_that_day >= 0) & (opened_that_day <= same_day)
    seen[visible[readable]] = opened_that_day[readable] / same_day[readable]
    return seen


def _hazard_on(paths: pd.DataFrame, ids: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The truth path's hazard of customer ids[i] on day[i] (NaN where the path has no segment)."""
    queries = pd.DataFrame(
        {"query": np.arange(len(ids)), "customer_id": pd.array(ids, dtype="str"), "day": day}
    )
    segments = paths[paths["customer_id"].astype("str").isin(set(ids))]
    segments = pd.DataFrame(
        {
            "customer_id": segments["customer_id"].astype("str"),
            "start": _day_numbers(segments["start"]),
            "end": _day_numbers(segments["end"]),
            "hazard": segments["hazard"].to_numpy(dtype=float),
        }
    )
    hits = queries.merge(segments, on="customer_id")
    hits = hits[(hits["start"] <= hits["day"]) & (hits["day"] < hits["end"])]
    hazard = np.full(len(ids), np.nan)
    hazard[hits["query"].to_numpy()] = hits["hazard"].to_numpy()
    return hazard


def _mean_over_futures(
    known: _KnownAtT,
    season: np.ndarray,
    churn_season: np.ndarray,
    t0: int,
    horizon_days: int,
    replications: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mean over drawn futures of each known customer's window no-purchase probability if there at t0.

    ``churn_season``: the hazard's yearly factor over the window (ones without), in the generator's way.
    """
    n = len(known.people)
    days = t0 + np.arange(horizon_days)
    per_chunk = max(1, ROWS_PER_CHUNK // replications)
    out = np.empty(n)
    for first in range(0, n, per_chunk):
        last = min(first + per_chunk, n)
        people, complaints, manager_left_day, decline_day = _draw_futures(
            known.customers(first, last), t0, horizon_days, replications, rng
        )
        rate, hazard = _window_rate_and_hazard(people, complaints, manager_left_day, decline_day, days)
        hazard = seasonal_hazard(hazard, churn_season)
        silent = no_purchase_probability(rate * np.repeat(season[first:last], replications, axis=0), hazard)
        out[first:last] = silent.reshape(last - first, replications).mean(axis=1)
    return out


def _window_rate_and_hazard(
    people: pd.DataFrame,
    complaints: pd.DataFrame,
    manager_left_day: np.ndarray,
    decline_day: np.ndarray,
    days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The generator's daily rate (before seasonality) and hazard over ``days`` of each row of ``people``,
    given its complaints (generator columns, customer = row), manager departure day and decline onset."""
    effects = hazard_effects(
        people["signup_day"].to_numpy(),
        people["start_day"].to_numpy(),
        people["promo_propensity"].to_numpy(),
        complaints,
        manager_left_day,
    )
    log_multiplier = daily_log_multipliers(effects, np.arange(len(people)), days)
    return daily_rate_and_hazard(
        people["base_rate"].to_numpy(),
        people["base_hazard"].to_numpy(),
        people["start_day"].to_numpy(),
        decline_day,
        log_multiplier,
        days,
    )


def _draw_futures(
    known: _KnownAtT, t0: int, horizon_days: int, replications: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """``replications`` futures per known customer: (people per row, complaints, manager departure day,
    decline onset day), rows customer-major (row = customer * replications + replication)."""
    owner = np.repeat(np.arange(len(known.people)), replications)
    people = known.people.iloc[owner].reset_index(drop=True)
    complaints = pd.concat(
        [
            _replicated(known.settled, replications),
            _resolve_open_complaints(_replicated(known.open, replications), t0, rng),
            _new_complaints(people["complaint_rate"].to_numpy(), t0, horizon_days, rng),
        ],
        ignore_index=True,
    )
    manager_left_day = _manager_departures(people, rng)
    decline_day = _decline_onsets_from(people, complaints, manager_left_day, t0, replications, rng)
    return people, complaints, manager_left_day, decline_day


def _replicated(complaints: pd.DataFrame, replications: int) -> pd.DataFrame:
    """Each complaint once per replication, its customer renumbered as the row customer * R + replication."""
    out = complaints.iloc[np.repeat(np.arange(len(complaints)), replications)].reset_index(drop=True)
    row = out["customer"].to_numpy() * replications + np.tile(np.arange(replications), len(complaints))
    return out.assign(customer=row)


def _resolve_open_complaints(still_open: pd.DataFrame, t0: int, rng: np.random.Generator) -> pd.DataFrame:
    """Complaints open at t0 with a drawn future: never resolved, or resolved at t0 or later, and rated."""
    n = len(still_open)
    severity = still_open["severity"].to_numpy()
    opened = still_open["opened"].to_numpy()
    never = rng.random(n) < still_open["never_probability"].to_numpy()
    log_median = resolution_log_median_days(severity)
    # Days to resolve drawn from the generator's lognormal given that they exceed the complaint's age.
    beyond_age = ndtr(-(np.log(t0 - opened) - log_median) / RESOLUTION_SIGMA)
    days_to_resolve = np.exp(log_median - RESOLUTION_SIGMA * ndtri(beyond_age * (1.0 - rng.random(n))))
    satisfaction = satisfaction_score(days_to_resolve, severity, rng.normal(0, SATISFACTION_NOISE, n))
    resolved = np.where(never, np.inf, np.maximum(opened + days_to_resolve, t0))
    return still_open.drop(columns="never_probability").assign(resolved=resolved, satisfaction=satisfaction)


def _new_complaints(
    complaint_rate: np.ndarray, t0: int, horizon_days: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Complaints opened in the window, per row, by the generator's law (generator columns)."""
    count = rng.poisson(complaint_rate * horizon_days)
    customer = np.repeat(np.arange(len(complaint_rate)), count)
    n = len(customer)
    opened_day = t0 + np.floor(rng.random(n) * horizon_days).astype(np.int64)
    opened = opened_day + rng.uniform(COMPLAINT_HOURS[0] * 3600, COMPLAINT_HOURS[1] * 3600, n) / 86_400
    severity, never, days_to_resolve, satisfaction = complaint_outcomes(rng, n)
    return pd.DataFrame(
        {
            "customer": customer,
            "opened_day": opened_day,
            "opened": opened,
            "resolved": np.where(never, np.inf, opened + days_to_resolve),
            "severity": severity,
            "satisfaction": satisfaction,
        }
    )


def _manager_departures(people: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Each row's manager departure day: the known one before t0, else drawn from t0 on (inf = none)."""
    n = len(people)
    earliest = people["earliest_departure"].to_numpy()
    leaves = rng.random(n) < people["departure_probability"].to_numpy()
    day = earliest + np.floor(rng.random(n) * (MANAGER_DEPARTURE_DAYS[1] - earliest))
    known = people["manager_left_day"].to_numpy()
    return np.where(np.isfinite(known), known, np.where(leaves, day, np.inf))


def _decline_onsets_from(
    people: pd.DataFrame,
    complaints: pd.DataFrame,
    manager_left_day: np.ndarray,
    t0: int,
    replications: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each row's decline onset: the known one before t0, else drawn given that none happened before t0.

    Spontaneous: the generator's start + ceil(Exp / rate), memoryless, so max(start, t0 - 1) + ceil(Exp' / rate)
    given >= t0 (stratified over each customer's replications). A trigger on day e with probability p and
    max delay D starts the phase on ceil(e + 1 + U D); that is before t0 iff U < u0 = (t0 - 2 - e) / D, so given
    it has not, it fires with probability p (1 - u0) / (1 - p u0) and U ~ Uniform(u0, 1) (u0 clipped to [0, 1]).
    """
    n = len(people)
    start = people["start_day"].to_numpy()
    stratum = rng.permuted(np.tile(np.arange(replications), (n // replications, 1)), axis=1).ravel()
    exponential = -np.log1p(-(stratum + rng.random(n)) / replications)
    with np.errstate(divide="ignore"):
        waiting = np.maximum(np.ceil(exponential / people["decline_onset_rate"].to_numpy()), 1)
    onset = np.maximum(start, t0 - 1) + waiting
    for customer, day, probability, max_delay in decline_triggers(
        start, people["promo_propensity"].to_numpy(), complaints, manager_left_day
    ):
        probability = np.broadcast_to(probability, day.shape)
        max_delay = np.broadcast_to(max_delay, day.shape)
        passed = np.clip((t0 - 2 - day) / max_delay, 0, 1)
        still = 1 - probability * passed
        fire_probability = np.divide(
            probability * (1 - passed), still, out=np.zeros(day.shape), where=still > 0
        )
        fires = (rng.random(len(day)) < fire_probability) & np.isfinite(day)
        delay = (passed + rng.random(len(day)) * (1 - passed)) * max_delay
        np.minimum.at(onset, customer[fires], np.ceil(day[fires] + 1 + delay[fires]))
    known = people["decline_day"].to_numpy()
    return np.where(known < t0, known, np.minimum(onset, N_DAYS)).astype(np.int64)
