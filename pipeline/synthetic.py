"""Synthetic sample world with a known latent churn process (pure: no file I/O, no clock, one seeded rng).

Latent process, one discrete day d at a time from each customer's start day (signup, or history start if
earlier): the customer first leaves for good ("dies") with probability h_i(d); if still alive, they make
Poisson(lambda_i(d)) purchases, lambda_i(d) = rate_i(d) * seasonality_segment(d). ``rate`` and ``h`` are piecewise
constant per customer. rate = base rate x a falling multiplier in the decline phase. h = base hazard (frailty,
low share of wallet, browsing propensity, segment) x multipliers for short tenure, open or badly resolved
complaints, account-manager departure and, for price-sensitive customers, the list-price rise; plus an added
hazard that grows through the decline phase. A decline phase starts spontaneously or is triggered by those
events, and also brings browsing visits without purchase. All paths are drawn first; death and purchases last,
from the paths alone, so :func:`pipeline.oracle.true_no_purchase_probability` is exact given the truth tables.
With ``seasonal_churn`` = A > 0 the hazard has a yearly cycle: the day's death draw uses
min(h_i(d) x (1 + A cos(2 pi (day of year - CHURN_SEASON_PEAK_DAY) / 365.25)), HAZARD_CAP); the factor is the
calendar's ``churn_seasonality`` column (present only then) and the paths keep h_i(d) without it.
The pieces of the law that :func:`pipeline.oracle.as_of_no_purchase_probability` replays after a cutoff are
public (complaint_outcomes, hazard_effects, decline_triggers, daily_log_multipliers, daily_rate_and_hazard and
their formula helpers); the generator draws with them in a fixed order, so a seed gives the same world.

Truth tables: ``customers`` (latent traits; ``start_date``; ``decline_start``; ``death_date`` = first day with no
chance to buy, NaT = alive at the end of history), ``paths`` (customer_id, start, end exclusive, rate, hazard;
covering each customer from start_date to the end of history, also after death), ``calendar`` (date,
seasonality_B2C, seasonality_B2B, price_index, promo_intensity; churn_seasonality with ``seasonal_churn``).
:func:`last_days_only` and :func:`transactions_only` cut what a world shows (not its law or truth): the
history a business has kept, the tables it has. A purchase is a transaction with amount > 0;
returns (amount < 0) are outside the latent purchase process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HISTORY_START = pd.Timestamp("2023-01-02")
HISTORY_END = pd.Timestamp("2025-12-29")  # exclusive: the last day of history is 2025-12-28
N_DAYS = (HISTORY_END - HISTORY_START).days
PRICE_RISE_DATE = pd.Timestamp("2024-09-02")
PRICE_RISE = 0.08
DAY_NS = 86_400 * 10**9

SEGMENTS = ("B2C", "B2B")
B2B_SHARE = 0.15
PRE_HISTORY_SHARE = 0.35
CATEGORIES = ("grocery", "household", "apparel", "electronics", "garden", "office")
CATEGORY_PRICE_FACTOR = np.array([0.6, 0.8, 1.1, 2.0, 1.0, 0.9])
PURCHASE_CHANNELS = ("store", "web", "app", "phone")
VISIT_CHANNEL_OF_PURCHASE = np.array(["store", "web", "app", "call"])
COMPLAINT_CATEGORIES = ("product_quality", "service", "price", "delivery", "billing", "other")
COMPLAINT_CATEGORY_P = np.array([0.3, 0.2, 0.12, 0.2, 0.12, 0.06])
SEVERITY_P = np.array([0.25, 0.3, 0.25, 0.13, 0.07])

# Per segment (B2C, B2B): purchase frequency, wallet, basket size, behaviour.
BASE_RATE_PER_DAY = np.array([1 / 30, 1 / 9])
WALLET_MEDIAN = np.array([1_500.0, 60_000.0])
MEAN_QUANTITY = np.array([2.5, 20.0])
COMPLAINTS_PER_YEAR = np.array([0.3, 1.0])
RETURN_PROBABILITY = np.array([0.04, 0.015])
SELECTION_VISIT_PROBABILITY = np.array([0.75, 0.5])
SELECTION_MEDIAN_S = np.array([420.0, 900.0])
BROWSE_PER_PURCHASE = np.array([0.25, 0.15])
SEGMENT_HAZARD_FACTOR = np.array([1.0, 0.6])
SHOP_HOURS = np.array([[8, 21], [7, 18]])
WALLET_ESTIMATE_SHARE_B2B = 0.6
MANAGED_SHARE = np.array([0.03, 0.95])
CUSTOMERS_PER_MANAGER = 35
MANAGER_DEPARTURE_PROBABILITY = 0.4  # except the first manager, who always stays
MANAGER_DEPARTURE_DAYS = (60, N_DAYS - 30)  # a departure day is a uniform integer in [low, high)
MANAGER_KEPT_DAYS = 60  # a customer only gets a manager still employed this many days after their start
# Who takes over a departed manager's customers: drawn from a stream of its own after the rest of the world, so
# adding the ownership columns changed no other draw (every other table is as before).
OWNERSHIP_STREAM = 18
SUCCESSOR_PROBABILITY = 0.6  # a departed manager's customers go to a named successor
MANAGERS_PER_TEAM_LEAD = 8
TEAM_LEAD_PROBABILITY = 0.85  # the share of other managers with a team lead on record
MARGIN_RATE_B2B = 0.25  # known for B2B customers (contract pricing); B2C rows leave it empty (the config default)
COMPLAINT_HOURS = (8, 20)  # complaints are opened at a uniform time of day between these hours

# Latent hazard (per day) and its drivers.
BASE_HAZARD = 0.0009
BASE_DECLINE_ONSET = 0.0011
FRAILTY_SIGMA = 0.7
SHARE_OF_WALLET_EFFECT = 1.5  # log-multiplier per unit of (0.5 - share of wallet)
HAZARD_CAP = 0.3
CHURN_SEASON_PEAK_DAY = 45  # day of the year when a seasonal hazard is highest (mid-February)
SHORT_TENURE = ((0, 90, 3.0), (90, 180, 1.8))  # (from day, to day, hazard multiplier) after signup
UNRESOLVED_FACTOR = 1.5
NEVER_RESOLVED_PROBABILITY = 0.06  # plus 0.03 per severity step above 1
RESOLUTION_SIGMA = 1.0  # log-sd of the days to resolve
SATISFACTION_NOISE = 0.8
AFTER_RESOLUTION_DAYS = 120
SATISFACTION_HAZARD = np.array([3.0, 2.0, 1.3, 1.0, 0.8])  # multiplier after resolution, by satisfaction 1..5
MANAGER_LEFT_DAYS = 150
MANAGER_LEFT_HAZARD = 5.0
PRICE_RISE_DAYS = 180
PRICE_SENSITIVITY_EFFECT = 6.0  # log-multiplier per unit of promo propensity above the threshold
PRICE_SENSITIVITY_THRESHOLD = 0.25

# Decline phase: 30-day steps of falling purchase rate and growing added hazard.
DECLINE_STEP_DAYS = 30
DECLINE_RATE_MULTIPLIER = np.array([0.75, 0.55, 0.4, 0.3])
DECLINE_ADDED_HAZARD = np.array([0.004, 0.01, 0.018, 0.025])
DECLINE_BROWSE_MULTIPLIER = 5.0
DECLINE_SELECTION_MULTIPLIER = 1.6
# (probability, max delay in days) of an event starting a decline phase
DECLINE_AFTER_NEVER_RESOLVED = (0.45, 60)
DECLINE_AFTER_BAD_RESOLUTION = (0.25, 60)  # satisfaction 1-2
DECLINE_AFTER_MANAGER_LEFT = (0.4, 60)
DECLINE_AFTER_PRICE_RISE = (1.0, 90)  # probability scaled by price sensitivity

CHUNK_CUSTOMERS = 8192


@dataclass(frozen=True)
class World:
    """Raw contract tables plus the latent truth they were drawn from."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]


@dataclass(frozen=True)
class _Population:
    """Per-customer latent traits as aligned numpy arrays (index = customer number)."""

    segment: np.ndarray  # 0 = B2C, 1 = B2B
    signup_day: np.ndarray
    start_day: np.ndarray
    base_rate: np.ndarray
    base_hazard: np.ndarray
    decline_onset_rate: np.ndarray
    frailty: np.ndarray
    wallet: np.ndarray
    share_of_wallet: np.ndarray
    promo_propensity: np.ndarray
    browse_propensity: np.ndarray
    complaint_rate: np.ndarray
    category_weights: np.ndarray
    channel_weights: np.ndarray

    @property
    def n(self) -> int:
        return len(self.segment)


@dataclass(frozen=True)
class LatentWorld:
    """A world drawn up to its customers' lives: traits, managers, complaints, decline onsets, death days,
    purchases (customer, day) and the paths; ``rng`` goes on to draw what the tables show of them
    (:func:`observed_world`). A campaign (:mod:`pipeline.campaigns`) may change lives in between."""

    seed: int
    rng: np.random.Generator
    calendar: pd.DataFrame
    churn_season: np.ndarray | None
    pop: _Population
    manager_of: np.ndarray
    account_managers: pd.DataFrame
    am_departed_day: np.ndarray
    complaints: pd.DataFrame
    decline_day: np.ndarray
    death_day: np.ndarray
    purchases: tuple[np.ndarray, np.ndarray]
    paths: tuple[np.ndarray, ...]
    customer_ids: np.ndarray


def generate_world(n_customers: int, seed: int, *, seasonal_churn: float = 0.0) -> World:
    """A reproducible synthetic world of ``n_customers`` over 2023-01-02 .. 2025-12-28, with its latent truth.

    ``seasonal_churn``: amplitude A in [0, 1) of the hazard's yearly cycle (0: none, the same world as without).
    """
    return observed_world(latent_world(n_customers, seed, seasonal_churn=seasonal_churn))


def latent_world(n_customers: int, seed: int, *, seasonal_churn: float = 0.0) -> LatentWorld:
    """The draws of :func:`generate_world` up to the customers' lives."""
    if n_customers < 1:
        raise ValueError(f"n_customers must be >= 1, got {n_customers}")
    if not 0 <= seasonal_churn < 1:
        raise ValueError(f"seasonal_churn must be in [0, 1), got {seasonal_churn}")
    rng = np.random.default_rng(seed)
    calendar = _calendar()
    churn_season = None
    if seasonal_churn:
        churn_season = churn_seasonality(calendar["date"], seasonal_churn)
        calendar = calendar.assign(churn_seasonality=churn_season)
    pop = _population(rng, n_customers)
    am_departed_day, manager_of = _account_managers(rng, pop)
    complaints = _latent_complaints(rng, pop)
    manager_left_day = np.where(manager_of >= 0, am_departed_day[np.maximum(manager_of, 0)], np.inf)
    effects = hazard_effects(
        pop.signup_day, pop.start_day, pop.promo_propensity, complaints, manager_left_day
    )
    decline_day = _decline_onsets(rng, pop, complaints, manager_left_day)
    season = calendar[["seasonality_B2C", "seasonality_B2B"]].to_numpy().T
    death_day, purchases, paths = _draw_lives(rng, pop, effects, decline_day, season, churn_season)
    managers = _account_managers_table(
        am_departed_day, *_successors_and_team_leads(np.random.default_rng([seed, OWNERSHIP_STREAM]), am_departed_day)
    )
    return LatentWorld(seed, rng, calendar, churn_season, pop, manager_of, managers, am_departed_day, complaints,
                       decline_day, death_day, purchases, paths, _ids("C", np.arange(1, pop.n + 1), 6))


@dataclass(frozen=True)
class LifeChanges:
    """What happened to a latent world's lives after it was drawn (a campaign's contacts): each customer's death
    day now, and the purchases (customer, day) added on days they now live or buy more; ``rng`` draws what the
    tables show of the additions."""

    death_day: np.ndarray
    added: tuple[np.ndarray, np.ndarray]
    rng: np.random.Generator


def observed_world(latent: LatentWorld, changes: LifeChanges | None = None) -> World:
    """What the contract tables show of ``latent``, drawn on with ``latent.rng``; with ``changes``, the same tables
    without what a shorter life no longer holds, plus what the added purchases and days show (drawn with
    ``changes.rng``): the tables differ from the world without changes only where the lives do."""
    rng, pop, customer_ids = latent.rng, latent.pop, latent.customer_ids
    transactions = _transactions(rng, pop, latent.purchases, latent.death_day, latent.calendar)
    customers = _customers_table(rng, pop, customer_ids, latent.manager_of)
    visits = _visit_rows(rng, pop, transactions, latent.decline_day, latent.death_day)
    death_day = latent.death_day
    if changes is not None:
        death_day = changes.death_day
        transactions = transactions[transactions["day"].to_numpy() < death_day[transactions["customer"].to_numpy()]]
        visit_day = (visits["timestamp"].to_numpy() - np.datetime64(HISTORY_START, "ns")) // np.timedelta64(DAY_NS, "ns")
        visits = visits[visit_day < death_day[visits["customer"].to_numpy()]]
        added = _transactions(changes.rng, pop, changes.added, death_day, latent.calendar)
        browse_from = np.minimum(latent.death_day, death_day)  # browsing on the days a longer life adds
        more_visits = _visit_rows(changes.rng, pop, added, latent.decline_day, death_day, browse_from)
        transactions = pd.concat([transactions, added], ignore_index=True)
        visits = pd.concat([visits, more_visits], ignore_index=True)
    tables = {
        "customers": customers,
        "transactions": _with_ids(transactions, customer_ids),
        "complaints": _complaints_table(latent.complaints, death_day, customer_ids),
        "visits": _visits_table(visits, customer_ids),
        "account_managers": latent.account_managers,
    }
    truth = {
        "customers": _truth_customers(pop, customer_ids, latent.decline_day, death_day),
        "paths": _truth_paths(latent.paths, customer_ids),
        "calendar": latent.calendar,
    }
    return World(tables=tables, truth=truth)


def churn_seasonality(dates: pd.Series, amplitude: float) -> np.ndarray:
    """The hazard's yearly factor on each date: 1 + amplitude x cos(2 pi (day of year - peak) / 365.25)."""
    day_of_year = pd.DatetimeIndex(dates).day_of_year.to_numpy()
    return 1 + amplitude * np.cos(2 * np.pi * (day_of_year - CHURN_SEASON_PEAK_DAY) / 365.25)


def seasonal_hazard(hazard: np.ndarray, churn_season: np.ndarray) -> np.ndarray:
    """The day's hazard of leaving with the yearly factor (days along the last axis), capped as the path's is."""
    return np.minimum(hazard * churn_season, HAZARD_CAP)


def last_days_only(tables: dict[str, pd.DataFrame], days: int) -> dict[str, pd.DataFrame]:
    """The tables as a business that kept only the last ``days`` days of events would have them: transactions,
    complaints (by opening) and visits from HISTORY_END - days on; customers and managers whole."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    first = HISTORY_END - pd.Timedelta(days=days)
    kept = {"transactions": "timestamp", "complaints": "opened_at", "visits": "timestamp", "contacts": "contacted_at"}
    return {
        name: frame[frame[kept[name]] >= first].reset_index(drop=True) if name in kept else frame
        for name, frame in tables.items()
    }


def transactions_only(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Only the transactions table: what a business without a CRM export has."""
    return {"transactions": tables["transactions"]}


def _calendar() -> pd.DataFrame:
    """Global daily seasonality per segment, list-price index and promotion intensity."""
    dates = pd.date_range(HISTORY_START, periods=N_DAYS, freq="D")
    weekday = dates.day_of_week.to_numpy()
    month, day_of_month = dates.month.to_numpy(), dates.day.to_numpy()
    year_phase = 2 * np.pi * (dates.day_of_year.to_numpy() - 355) / 365.25
    black_week = (month == 11) & (day_of_month >= 22) & (day_of_month <= 30)
    january_sales = (month == 1) & (day_of_month <= 15)
    summer_sales = (month == 7) & (day_of_month <= 14)
    promo_intensity = 1.0 + 1.2 * black_week + 0.7 * january_sales + 0.5 * summer_sales
    weekly_b2c = np.array([0.85, 0.85, 0.9, 0.95, 1.1, 1.45, 0.9])
    weekly_b2b = np.array([1.2, 1.25, 1.25, 1.2, 1.0, 0.1, 0.0])
    summer_dip = (month == 8) | ((month == 7) & (day_of_month > 20))
    christmas_break = ((month == 12) & (day_of_month >= 24)) | ((month == 1) & (day_of_month <= 1))
    return pd.DataFrame(
        {
            "date": dates.as_unit("ns"),
            "seasonality_B2C": weekly_b2c[weekday]
            * (1 + 0.2 * np.cos(year_phase))
            * (1 + 0.25 * (promo_intensity - 1)),
            "seasonality_B2B": weekly_b2b[weekday] * (1 - 0.35 * summer_dip - 0.7 * christmas_break),
            "price_index": np.where(dates >= PRICE_RISE_DATE, 1 + PRICE_RISE, 1.0),
            "promo_intensity": promo_intensity,
        }
    )


def _population(rng: np.random.Generator, n: int) -> _Population:
    segment = (rng.random(n) < B2B_SHARE).astype(np.int8)
    before_history = rng.random(n) < PRE_HISTORY_SHARE
    years_before = np.minimum(rng.exponential(3.0, n), 12.0)
    signup_day = np.where(
        before_history, -np.ceil(years_before * 365).astype(np.int64) - 1, rng.integers(0, N_DAYS - 1, n)
    )
    share_of_wallet = np.where(segment == 1, rng.beta(3, 3, n), rng.beta(4, 3, n))
    frailty = rng.lognormal(-0.5 * FRAILTY_SIGMA**2, FRAILTY_SIGMA, n)
    browse_propensity = rng.lognormal(-0.125, 0.5, n)
    wallet_driver = np.exp(SHARE_OF_WALLET_EFFECT * (0.5 - share_of_wallet))
    segment_factor = SEGMENT_HAZARD_FACTOR[segment]
    return _Population(
        segment=segment,
        signup_day=signup_day,
        start_day=np.maximum(signup_day, 0),
        base_rate=BASE_RATE_PER_DAY[segment] * rng.lognormal(-0.18, 0.6, n),
        base_hazard=BASE_HAZARD * segment_factor * frailty * wallet_driver * np.sqrt(browse_propensity),
        decline_onset_rate=BASE_DECLINE_ONSET * segment_factor * frailty * wallet_driver,
        frailty=frailty,
        wallet=WALLET_MEDIAN[segment] * rng.lognormal(0.0, 0.7, n),
        share_of_wallet=share_of_wallet,
        promo_propensity=np.where(segment == 1, rng.beta(1.2, 5, n), rng.beta(1.5, 3.5, n)),
        browse_propensity=browse_propensity,
        complaint_rate=COMPLAINTS_PER_YEAR[segment] / 365 * rng.lognormal(-0.32, 0.8, n) * frailty**0.3,
        category_weights=rng.dirichlet(np.full(len(CATEGORIES), 0.6), n),
        channel_weights=np.where(
            segment[:, None] == 1,
            rng.dirichlet([0.3, 1.0, 0.3, 2.0], n),
            rng.dirichlet([1.5, 1.0, 0.8, 0.05], n),
        ),
    )


def _account_managers(rng: np.random.Generator, pop: _Population) -> tuple[np.ndarray, np.ndarray]:
    """Departure day per manager (inf = stays) and the manager number per customer (-1 = none)."""
    managed = np.flatnonzero(rng.random(pop.n) < MANAGED_SHARE[pop.segment])
    n_managers = max(4, int(np.ceil(len(managed) / CUSTOMERS_PER_MANAGER)))
    departs = rng.random(n_managers) < MANAGER_DEPARTURE_PROBABILITY
    departs[0] = False  # someone always stays, so every customer has an eligible manager
    departed_day = np.where(departs, rng.integers(*MANAGER_DEPARTURE_DAYS, n_managers), np.inf)
    eligible = departed_day[None, :] > pop.start_day[managed, None] + MANAGER_KEPT_DAYS
    scores = np.where(eligible, rng.random((len(managed), n_managers)), -1.0)
    manager_of = np.full(pop.n, -1)
    manager_of[managed] = scores.argmax(axis=1)
    return departed_day, manager_of


def _latent_complaints(rng: np.random.Generator, pop: _Population) -> pd.DataFrame:
    """Every complaint of the latent path (also those after death; the observed table drops those)."""
    span = N_DAYS - pop.start_day
    counts = rng.poisson(pop.complaint_rate * span)
    customer = np.repeat(np.arange(pop.n), counts)
    n = len(customer)
    opened_day = pop.start_day[customer] + np.floor(rng.random(n) * span[customer]).astype(np.int64)
    opened = opened_day + rng.uniform(COMPLAINT_HOURS[0] * 3600, COMPLAINT_HOURS[1] * 3600, n) / 86_400
    severity, never_resolved, days_to_resolve, satisfaction = complaint_outcomes(rng, n)
    resolved = np.where(never_resolved, np.inf, opened + days_to_resolve)
    return pd.DataFrame(
        {
            "customer": customer,
            "opened_day": opened_day,
            "opened": opened,  # fractional days since history start
            "resolved": resolved,
            "category": rng.choice(len(COMPLAINT_CATEGORIES), n, p=COMPLAINT_CATEGORY_P),
            "severity": severity,
            "satisfaction": satisfaction,
        }
    )


def complaint_outcomes(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Severity, never resolved, days to resolve and satisfaction of ``n`` new complaints."""
    severity = rng.choice(5, n, p=SEVERITY_P) + 1
    never_resolved = rng.random(n) < never_resolved_probability(severity)
    days_to_resolve = rng.lognormal(resolution_log_median_days(severity), RESOLUTION_SIGMA, n)
    satisfaction = satisfaction_score(days_to_resolve, severity, rng.normal(0, SATISFACTION_NOISE, n))
    return severity, never_resolved, days_to_resolve, satisfaction


def never_resolved_probability(severity: np.ndarray) -> np.ndarray:
    return NEVER_RESOLVED_PROBABILITY + 0.03 * (severity - 1)


def resolution_log_median_days(severity: np.ndarray) -> np.ndarray:
    """Log of the median days to resolve a complaint (those that do get resolved)."""
    return np.log(2.0 * (1 + 0.3 * (severity - 1)))


def satisfaction_score(days_to_resolve: np.ndarray, severity: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The 1-5 rating of a resolution: lower when slow or severe; ``noise`` ~ Normal(0, SATISFACTION_NOISE)."""
    return np.clip(
        np.round(4.6 - 0.5 * np.log1p(days_to_resolve) - 0.15 * (severity - 1) + noise), 1, 5
    ).astype(np.int64)


def hazard_effects(
    signup_day: np.ndarray,
    start_day: np.ndarray,
    promo_propensity: np.ndarray,
    complaints: pd.DataFrame,
    manager_left_day: np.ndarray,
) -> pd.DataFrame:
    """Hazard multipliers as (customer, from day, to day exclusive, log multiplier) intervals.

    Customers are the positions of the per-customer arrays; ``complaints`` has the columns of the latent
    complaints (customer, opened_day, resolved (inf = never), severity, satisfaction); ``manager_left_day`` is
    the departure day of each customer's manager (inf = none or stays).
    """
    n = len(signup_day)
    everyone = np.arange(n)
    parts = [
        (everyone, signup_day + lo, signup_day + hi, np.full(n, np.log(mult)))
        for lo, hi, mult in SHORT_TENURE
    ]
    c = complaints
    open_factor = 1 + 0.5 * c["severity"].to_numpy()
    never = np.isinf(c["resolved"].to_numpy())
    resolved_day = np.floor(np.where(never, N_DAYS, c["resolved"].to_numpy())).astype(np.int64)
    customer = c["customer"].to_numpy()
    # An event on day d changes the hazard from day d + 1: the day's death draw comes first.
    parts.append(
        (
            customer,
            c["opened_day"].to_numpy() + 1,
            np.where(never, N_DAYS, resolved_day + 1),
            np.log(open_factor * np.where(never, UNRESOLVED_FACTOR, 1.0)),
        )
    )
    resolved = ~never
    parts.append(
        (
            customer[resolved],
            resolved_day[resolved] + 1,
            resolved_day[resolved] + 1 + AFTER_RESOLUTION_DAYS,
            np.log(SATISFACTION_HAZARD[c["satisfaction"].to_numpy()[resolved] - 1]),
        )
    )
    left = np.flatnonzero(np.isfinite(manager_left_day))
    left_day = manager_left_day[left].astype(np.int64)
    parts.append(
        (left, left_day, left_day + MANAGER_LEFT_DAYS, np.full(len(left), np.log(MANAGER_LEFT_HAZARD)))
    )
    rise_day = (PRICE_RISE_DATE - HISTORY_START).days
    sensitivity = np.maximum(promo_propensity - PRICE_SENSITIVITY_THRESHOLD, 0)
    sensitive = np.flatnonzero(sensitivity > 0)
    parts.append(
        (
            sensitive,
            np.full(len(sensitive), rise_day),
            np.full(len(sensitive), rise_day + PRICE_RISE_DAYS),
            PRICE_SENSITIVITY_EFFECT * sensitivity[sensitive],
        )
    )
    customer, lo, hi, log_mult = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    lo = np.clip(lo, start_day[customer], N_DAYS)
    hi = np.clip(hi, start_day[customer], N_DAYS)
    keep = hi > lo
    return pd.DataFrame(
        {"customer": customer[keep], "lo": lo[keep], "hi": hi[keep], "log_mult": log_mult[keep]}
    )


def _decline_onsets(
    rng: np.random.Generator, pop: _Population, complaints: pd.DataFrame, manager_left_day: np.ndarray
) -> np.ndarray:
    """First day of each customer's decline phase (may lie after death or beyond history: N_DAYS)."""
    onset = pop.start_day + np.ceil(rng.exponential(1.0, pop.n) / pop.decline_onset_rate)
    for customer, day, probability, max_delay in decline_triggers(
        pop.start_day, pop.promo_propensity, complaints, manager_left_day
    ):
        fires = (rng.random(len(customer)) < probability) & np.isfinite(day)
        delay = rng.uniform(0, 1, len(customer)) * max_delay
        np.minimum.at(onset, customer[fires], np.ceil(day[fires] + 1 + delay[fires]))
    return np.minimum(onset, N_DAYS).astype(np.int64)


def decline_triggers(
    start_day: np.ndarray,
    promo_propensity: np.ndarray,
    complaints: pd.DataFrame,
    manager_left_day: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | float, np.ndarray | float]]:
    """Events that may start a decline phase: (customer, day (inf = none), probability, max delay in days).

    An event that fires (with its probability) starts the phase on day ceil(day + 1 + U * max delay),
    U ~ Uniform(0, 1); the phase starts at the earliest of those days and the spontaneous onset.
    """
    n = len(start_day)
    resolved = complaints["resolved"].to_numpy()
    never = np.isinf(resolved)
    bad = ~never & (complaints["satisfaction"].to_numpy() <= 2)
    trigger_day = np.where(never, complaints["opened"].to_numpy(), np.where(bad, resolved, np.inf))
    trigger_p = np.where(never, DECLINE_AFTER_NEVER_RESOLVED[0], DECLINE_AFTER_BAD_RESOLUTION[0])
    trigger_delay = np.where(never, DECLINE_AFTER_NEVER_RESOLVED[1], DECLINE_AFTER_BAD_RESOLUTION[1])
    rise_day = (PRICE_RISE_DATE - HISTORY_START).days
    sensitivity = np.maximum(promo_propensity - PRICE_SENSITIVITY_THRESHOLD, 0) / (
        1 - PRICE_SENSITIVITY_THRESHOLD
    )
    # Only customers who knew the old prices react to the rise.
    sensitivity = np.where(start_day < rise_day, sensitivity, 0.0)
    return [
        (complaints["customer"].to_numpy(), trigger_day, trigger_p, trigger_delay),
        (np.arange(n), manager_left_day, DECLINE_AFTER_MANAGER_LEFT[0], DECLINE_AFTER_MANAGER_LEFT[1]),
        (
            np.arange(n),
            np.full(n, float(rise_day)),
            DECLINE_AFTER_PRICE_RISE[0] * sensitivity,
            DECLINE_AFTER_PRICE_RISE[1],
        ),
    ]


def _draw_lives(
    rng: np.random.Generator,
    pop: _Population,
    effects: pd.DataFrame,
    decline_day: np.ndarray,
    season: np.ndarray,
    churn_season: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]:
    """Death day per customer, purchases as (customer, day) and the piecewise-constant paths, chunk by chunk.

    Customers x days arrays are built one chunk of customers at a time to bound memory. ``churn_season``: the
    hazard's daily yearly factor (None: none); the paths hold the hazard without it.
    """
    death_day = np.empty(pop.n, dtype=np.int64)
    purchases, paths = [], []
    effects = effects.sort_values("customer", kind="stable")
    bounds = np.searchsorted(
        effects["customer"].to_numpy(), np.arange(0, pop.n + CHUNK_CUSTOMERS, CHUNK_CUSTOMERS)
    )
    days = np.arange(N_DAYS)
    for k, first in enumerate(range(0, pop.n, CHUNK_CUSTOMERS)):
        rows = np.arange(first, min(first + CHUNK_CUSTOMERS, pop.n))
        chunk_effects = effects.iloc[bounds[k] : bounds[k + 1]]
        log_multiplier = daily_log_multipliers(chunk_effects, rows, days)
        rate, hazard = daily_rate_and_hazard(
            pop.base_rate[rows],
            pop.base_hazard[rows],
            pop.start_day[rows],
            decline_day[rows],
            log_multiplier,
            days,
        )
        # Death on day d: the first day whose cumulative hazard -sum log(1 - h) reaches an Exp(1) draw,
        # the same law as a Bernoulli(h_d) death draw at the start of each day.
        dying = hazard if churn_season is None else seasonal_hazard(hazard, churn_season[None, :])
        cumulative_hazard = np.cumsum(-np.log1p(-dying), axis=1)
        death_day[rows] = (cumulative_hazard < rng.exponential(1.0, len(rows))[:, None]).sum(axis=1)
        alive = (days[None, :] >= pop.start_day[rows, None]) & (days[None, :] < death_day[rows, None])
        counts = rng.poisson(np.where(alive, rate * season[pop.segment[rows]], 0.0))
        local, day = np.nonzero(counts)
        n_bought = counts[local, day]
        purchases.append((np.repeat(rows[local], n_bought), np.repeat(day, n_bought)))
        paths.append(_run_lengths(rows, pop.start_day[rows], rate, hazard))
    customer = np.concatenate([p[0] for p in purchases])
    day = np.concatenate([p[1] for p in purchases])
    return death_day, (customer, day), tuple(np.concatenate(cols) for cols in zip(*paths, strict=True))


def daily_log_multipliers(effects: pd.DataFrame, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Dense (rows x days) sum of the hazard log multipliers in force, for consecutive ``rows`` and ``days``."""
    n, n_days = len(rows), len(days)
    local = effects["customer"].to_numpy() - rows[0]
    width = n_days + 1
    lo = np.clip(effects["lo"].to_numpy() - days[0], 0, n_days)
    hi = np.clip(effects["hi"].to_numpy() - days[0], 0, n_days)
    log_mult = effects["log_mult"].to_numpy()
    steps = np.bincount(local * width + lo, log_mult, n * width)
    steps -= np.bincount(local * width + hi, log_mult, n * width)
    # Rounding removes the float residue of +x then -x, so a path only changes where an effect does.
    return np.round(np.cumsum(steps.reshape(n, width)[:, :n_days], axis=1), 9)


def daily_rate_and_hazard(
    base_rate: np.ndarray,
    base_hazard: np.ndarray,
    start_day: np.ndarray,
    decline_day: np.ndarray,
    log_multiplier: np.ndarray,
    days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense daily rate (before seasonality) and hazard per customer over ``days``; zero before the start day."""
    days_in_decline = days[None, :] - decline_day[:, None]
    in_decline = days_in_decline >= 0
    step = np.clip(days_in_decline // DECLINE_STEP_DAYS, 0, len(DECLINE_RATE_MULTIPLIER) - 1)
    started = days[None, :] >= start_day[:, None]
    hazard = base_hazard[:, None] * np.exp(log_multiplier) + np.where(
        in_decline, DECLINE_ADDED_HAZARD[step], 0.0
    )
    hazard = np.where(started, np.minimum(hazard, HAZARD_CAP), 0.0)
    rate = np.where(
        started, base_rate[:, None] * np.where(in_decline, DECLINE_RATE_MULTIPLIER[step], 1.0), 0.0
    )
    return rate, hazard


def _run_lengths(
    rows: np.ndarray, start_day: np.ndarray, rate: np.ndarray, hazard: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Piecewise-constant (customer, start, end, rate, hazard) runs of the dense paths from each start day."""
    days = np.arange(N_DAYS)
    changes = np.zeros(rate.shape, dtype=bool)
    changes[:, 1:] = (rate[:, 1:] != rate[:, :-1]) | (hazard[:, 1:] != hazard[:, :-1])
    boundary = (changes & (days[None, :] > start_day[:, None])) | (days[None, :] == start_day[:, None])
    local, start = np.nonzero(boundary)
    same_customer_next = np.append(local[1:] == local[:-1], False)
    end = np.where(same_customer_next, np.append(start[1:], N_DAYS), N_DAYS)
    return rows[local], start, end, rate[local, start], hazard[local, start]


def _transactions(
    rng: np.random.Generator,
    pop: _Population,
    purchases: tuple[np.ndarray, np.ndarray],
    death_day: np.ndarray,
    calendar: pd.DataFrame,
) -> pd.DataFrame:
    """Purchases with basket, promotion, category and channel, plus returns; customer as a number."""
    customer, day = purchases
    n = len(customer)
    segment = pop.segment[customer]
    hours = SHOP_HOURS[segment]
    seconds = rng.uniform(hours[:, 0] * 3600, hours[:, 1] * 3600)
    category = _choose_rows(rng, pop.category_weights[customer])
    channel = _choose_rows(rng, pop.channel_weights[customer])
    quantity = 1 + rng.poisson(MEAN_QUANTITY[segment] - 1)
    mean_basket = pop.wallet * pop.share_of_wallet / (365 * pop.base_rate)
    unit_list_price = (
        mean_basket[customer]
        / MEAN_QUANTITY[segment]
        * CATEGORY_PRICE_FACTOR[category]
        * calendar["price_index"].to_numpy()[day]
        * rng.lognormal(-0.02, 0.2, n)
    )
    list_amount = np.round(quantity * np.maximum(unit_list_price, 0.5), 2)
    promo_p = np.clip(pop.promo_propensity[customer] * calendar["promo_intensity"].to_numpy()[day], 0, 0.95)
    promo = rng.random(n) < promo_p
    discount = np.where(promo, np.round(rng.uniform(0.1, 0.4, n), 2), 0.0)
    bought = pd.DataFrame(
        {
            "customer": customer,
            "day": day,
            "seconds": seconds,
            "amount": np.maximum(np.round(list_amount * (1 - discount), 2), 0.01),
            "quantity": quantity.astype(np.float64),
            "list_amount": list_amount,
            "promo": promo,
            "category": category,
            "channel": channel,
        }
    )
    return pd.concat([bought, _returns(rng, pop, bought, death_day)], ignore_index=True)


def _returns(
    rng: np.random.Generator, pop: _Population, bought: pd.DataFrame, death_day: np.ndarray
) -> pd.DataFrame:
    """Some purchases come back 1-30 days later as negative amounts (only while the customer is still alive)."""
    customer = bought["customer"].to_numpy()
    returned = bought[rng.random(len(bought)) < RETURN_PROBABILITY[pop.segment[customer]]]
    quantity = returned["quantity"].to_numpy()
    units_back = np.floor(rng.random(len(returned)) * quantity) + 1
    fraction = units_back / quantity
    day = returned["day"].to_numpy() + rng.integers(1, 31, len(returned))
    out = returned.assign(
        day=day,
        seconds=rng.uniform(9 * 3600, 18 * 3600, len(returned)),
        amount=-np.maximum(np.round(returned["amount"].to_numpy() * fraction, 2), 0.01),
        quantity=-units_back,
        list_amount=np.round(returned["list_amount"].to_numpy() * fraction, 2),
    )
    return out[(day < death_day[returned["customer"].to_numpy()]) & (day < N_DAYS)]


def _choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (rows x options) probability matrix."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _with_ids(transactions: pd.DataFrame, customer_ids: np.ndarray) -> pd.DataFrame:
    """The contract transactions table, ordered by time, with ids T0000001... in that order."""
    timestamp = _timestamps(transactions["day"].to_numpy(), transactions["seconds"].to_numpy())
    order = np.lexsort((transactions["customer"].to_numpy(), timestamp))
    t = transactions.iloc[order]
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids[t["customer"].to_numpy()], dtype="str"),
            "timestamp": timestamp[order],
            "amount": t["amount"].to_numpy(),
            "transaction_id": _ids("T", np.arange(1, len(t) + 1), 7),
            "quantity": t["quantity"].to_numpy(),
            "list_amount": t["list_amount"].to_numpy(),
            "promo": pd.array(t["promo"].to_numpy(), dtype="boolean"),
            "category": pd.array(np.array(CATEGORIES)[t["category"].to_numpy()], dtype="str"),
            "channel": pd.array(np.array(PURCHASE_CHANNELS)[t["channel"].to_numpy()], dtype="str"),
        }
    )


def _visit_rows(
    rng: np.random.Generator,
    pop: _Population,
    transactions: pd.DataFrame,
    decline_day: np.ndarray,
    death_day: np.ndarray,
    browse_from: np.ndarray | None = None,
) -> pd.DataFrame:
    """Selection visits before purchases (longer when less loyal) and browsing visits without a purchase (from
    ``browse_from``, default each customer's start, to their death); customer as a number."""
    bought = transactions[transactions["amount"] > 0]
    customer = bought["customer"].to_numpy()
    selected = bought[rng.random(len(bought)) < SELECTION_VISIT_PROBABILITY[pop.segment[customer]]]
    customer = selected["customer"].to_numpy()
    duration = _selection_seconds(rng, pop, customer, selected["day"].to_numpy() >= decline_day[customer])
    gap = rng.uniform(30, 900, len(selected))
    before_purchase = _timestamps(selected["day"].to_numpy(), selected["seconds"].to_numpy()) - np.round(
        duration + gap
    ).astype(np.int64) * np.timedelta64(10**9, "ns")
    browse_customer, browse_day, browse_in_decline = _browsing(rng, pop, decline_day, death_day, browse_from)
    browse_channel = rng.choice(3, len(browse_customer), p=[0.2, 0.5, 0.3])  # store, web, app
    browse_duration = _selection_seconds(rng, pop, browse_customer, browse_in_decline)
    return pd.DataFrame(
        {
            "customer": np.concatenate([customer, browse_customer]),
            "timestamp": np.concatenate(
                [before_purchase, _timestamps(browse_day, rng.uniform(7 * 3600, 23 * 3600, len(browse_day)))]
            ),
            "channel": np.concatenate(
                [
                    VISIT_CHANNEL_OF_PURCHASE[selected["channel"].to_numpy()],
                    VISIT_CHANNEL_OF_PURCHASE[browse_channel],
                ]
            ),
            "duration_s": np.round(np.concatenate([duration, browse_duration]), 0),
        }
    )


def _visits_table(rows: pd.DataFrame, customer_ids: np.ndarray) -> pd.DataFrame:
    """The contract visits table of :func:`_visit_rows`' rows, in time order."""
    visits = rows.sort_values(["timestamp", "customer"], kind="stable")
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids[visits["customer"].to_numpy()], dtype="str"),
            "timestamp": visits["timestamp"].to_numpy(),
            "channel": pd.array(visits["channel"].to_numpy(), dtype="str"),
            "duration_s": visits["duration_s"].to_numpy(),
        }
    )


def _selection_seconds(
    rng: np.random.Generator, pop: _Population, customer: np.ndarray, in_decline: np.ndarray
) -> np.ndarray:
    """Time spent choosing: longer for price-sensitive customers and in the decline phase."""
    return (
        SELECTION_MEDIAN_S[pop.segment[customer]]
        * np.exp(0.8 * pop.promo_propensity[customer])
        * np.where(in_decline, DECLINE_SELECTION_MULTIPLIER, 1.0)
        * rng.lognormal(0.0, 0.6, len(customer))
    )


def _browsing(
    rng: np.random.Generator, pop: _Population, decline_day: np.ndarray, death_day: np.ndarray,
    browse_from: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Browsing visits without purchase: (customer, day, in decline), more frequent in the decline phase, on the
    days from ``browse_from`` (default: each customer's start) to their death."""
    rate = BROWSE_PER_PURCHASE[pop.segment] * pop.base_rate * pop.browse_propensity
    first = pop.start_day if browse_from is None else browse_from
    end = np.minimum(death_day, N_DAYS)
    turn = np.clip(decline_day, first, end)
    customers, days, declining = [], [], []
    for lo, hi, daily_rate, in_decline in (
        (first, turn, rate, False),
        (turn, end, rate * DECLINE_BROWSE_MULTIPLIER, True),
    ):
        span = np.maximum(hi - lo, 0)
        count = rng.poisson(daily_rate * span)
        customer = np.repeat(np.arange(pop.n), count)
        customers.append(customer)
        days.append(lo[customer] + np.floor(rng.random(len(customer)) * span[customer]).astype(np.int64))
        declining.append(np.full(len(customer), in_decline))
    return np.concatenate(customers), np.concatenate(days), np.concatenate(declining)


def _complaints_table(
    complaints: pd.DataFrame, death_day: np.ndarray, customer_ids: np.ndarray
) -> pd.DataFrame:
    """Observed complaints: those opened before death; resolutions after the end of history are still open."""
    c = complaints[complaints["opened_day"].to_numpy() < death_day[complaints["customer"].to_numpy()]]
    c = c.sort_values(["opened", "customer"], kind="stable")
    resolved = c["resolved"].to_numpy()
    known = resolved < N_DAYS
    opened_at = _fractional_days_to_timestamps(c["opened"].to_numpy())
    resolved_at = _fractional_days_to_timestamps(np.where(known, resolved, 0.0))
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids[c["customer"].to_numpy()], dtype="str"),
            "opened_at": opened_at,
            "resolved_at": pd.Series(resolved_at).where(known).to_numpy(),
            "category": pd.array(np.array(COMPLAINT_CATEGORIES)[c["category"].to_numpy()], dtype="str"),
            "severity": pd.array(c["severity"].to_numpy(), dtype="Int64"),
            "satisfaction": pd.Series(c["satisfaction"].to_numpy(), dtype="Int64").where(known).array,
        }
    )


def _customers_table(
    rng: np.random.Generator, pop: _Population, customer_ids: np.ndarray, manager_of: np.ndarray
) -> pd.DataFrame:
    """Observed customers: signup, segment, manager; a noisy wallet estimate for some B2B customers."""
    known_wallet = (pop.segment == 1) & (rng.random(pop.n) < WALLET_ESTIMATE_SHARE_B2B)
    estimate = np.round(pop.wallet * rng.lognormal(0.0, 0.25, pop.n), -2)
    manager_ids = _ids("AM", np.maximum(manager_of, 0) + 1, 3)
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids, dtype="str"),
            "signup_date": _day_dates(pop.signup_day),
            "segment": pd.array(np.array(SEGMENTS)[pop.segment], dtype="str"),
            "account_manager_id": pd.array(np.where(manager_of >= 0, manager_ids, None), dtype="str"),
            "wallet_estimate": np.where(known_wallet, estimate, np.nan),
            "margin_rate": np.where(pop.segment == 1, MARGIN_RATE_B2B, np.nan),
        }
    )


def _successors_and_team_leads(rng: np.random.Generator, departed_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Manager number of each manager's successor and team lead (-1 = none).

    A departed manager has a successor (with SUCCESSOR_PROBABILITY) among those still employed on their last day;
    team leads are managers who never leave, one per MANAGERS_PER_TEAM_LEAD, and lead most of the others.
    """
    n = len(departed_day)
    departed = np.flatnonzero(np.isfinite(departed_day))
    successor = np.full(n, -1)
    has_successor = rng.random(len(departed)) < SUCCESSOR_PROBABILITY
    for manager, named in zip(departed, has_successor, strict=True):
        staying = np.flatnonzero(departed_day > departed_day[manager])
        if named and len(staying):
            successor[manager] = rng.choice(staying)
    stayers = np.flatnonzero(~np.isfinite(departed_day))
    leads = rng.choice(stayers, size=max(1, n // MANAGERS_PER_TEAM_LEAD), replace=False)
    team_lead = np.where(rng.random(n) < TEAM_LEAD_PROBABILITY, rng.choice(leads, size=n), -1)
    team_lead[leads] = -1
    return successor, team_lead


def _account_managers_table(departed_day: np.ndarray, successor: np.ndarray, team_lead: np.ndarray) -> pd.DataFrame:
    departed = np.isfinite(departed_day)
    dates = _day_dates(np.where(departed, departed_day, 0).astype(np.int64))
    ids = _ids("AM", np.arange(1, len(departed_day) + 1), 3)

    def manager_ids(numbers: np.ndarray) -> pd.arrays.ArrowStringArray:
        return pd.array(np.where(numbers >= 0, ids[np.maximum(numbers, 0)], None), dtype="str")

    return pd.DataFrame(
        {
            "account_manager_id": pd.array(ids, dtype="str"),
            "departed_at": pd.Series(dates).where(departed).to_numpy(),
            "successor_id": manager_ids(successor),
            "team_lead_id": manager_ids(team_lead),
        }
    )


def _truth_customers(
    pop: _Population, customer_ids: np.ndarray, decline_day: np.ndarray, death_day: np.ndarray
) -> pd.DataFrame:
    def date_or_nat(day: np.ndarray) -> np.ndarray:
        return pd.Series(_day_dates(np.minimum(day, N_DAYS))).where(day < N_DAYS).to_numpy()

    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids, dtype="str"),
            "segment": pd.array(np.array(SEGMENTS)[pop.segment], dtype="str"),
            "signup_date": _day_dates(pop.signup_day),
            "start_date": _day_dates(pop.start_day),
            "base_rate": pop.base_rate,
            "base_hazard": pop.base_hazard,
            "decline_onset_rate": pop.decline_onset_rate,
            "frailty": pop.frailty,
            "share_of_wallet": pop.share_of_wallet,
            "wallet": pop.wallet,
            "promo_propensity": pop.promo_propensity,
            "browse_propensity": pop.browse_propensity,
            "complaint_rate": pop.complaint_rate,
            "decline_start": date_or_nat(decline_day),
            "death_date": date_or_nat(death_day),
        }
    )


def _truth_paths(paths: tuple[np.ndarray, ...], customer_ids: np.ndarray) -> pd.DataFrame:
    customer, start, end, rate, hazard = paths
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer_ids[customer], dtype="str"),
            "start": _day_dates(start),
            "end": _day_dates(end),
            "rate": rate,
            "hazard": hazard,
        }
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded string ids such as C000123 (wider when the numbers need it)."""
    width = max(width, len(str(int(numbers.max())))) if len(numbers) else width
    return (prefix + pd.Series(numbers).astype("str").str.zfill(width)).to_numpy(dtype=object)


def _day_dates(day: np.ndarray) -> np.ndarray:
    """Midnight datetime64[ns] of day numbers counted from the history start."""
    return np.datetime64(HISTORY_START, "ns") + day.astype(np.int64) * np.timedelta64(DAY_NS, "ns")


def _timestamps(day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Day numbers plus seconds into the day, to the whole second."""
    return _day_dates(day) + np.round(seconds).astype(np.int64) * np.timedelta64(10**9, "ns")


def _fractional_days_to_timestamps(days: np.ndarray) -> np.ndarray:
    whole = np.floor(days).astype(np.int64)
    return _timestamps(whole, (days - whole) * 86_400)
