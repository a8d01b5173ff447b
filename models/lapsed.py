"""Lapsed customers: no longer active at the as-of date, their activity ended within a lookback, with what they
were worth in the year before and why they may have left, in words.

A customer stops being active the day after the ``active_window_days`` following their last purchase day; they
are on this list when that day lies in the ``lookback_days`` up to the as-of date. Their past value is what ``customer_value`` would have
said on their last purchase day: net spend of the ``value_window_days`` up to and including it, scaled to the
churn horizon, times the margin rate.

Their reactivation probability is how often customers like them came back: at past cutoffs whose following
``horizon_days`` lie in the data, the customers lapsed there (by this same definition) who bought again within
those days, as a monotone function of their BG/NBD P(alive) at the cutoff (one rate for those who never bought
twice, whose P(alive) is 1 by construction). :func:`reactivation_outcomes` gives one cutoff's customers and
:func:`fit_reactivation` the map, fitted at training. BG/NBD alone says P(alive) far too high for the silent: a
contact can only win back someone who can still buy, and most lapsed customers have left for good. Without a map
(a model trained before it) the list falls back to BG/NBD's P(alive).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from features import Tables, as_timestamp
from features.aggregate import as_of_day, customer_key, epoch_days
from features.cutoff import events_before, window_rows
from features.price import category_price_drift, price_index_cells
from features.registry import duration_words
from models.bgnbd import BgNbdParams, p_alive, rfm_summary
from models.explain import STALE_COMPLAINT_CODE
from models.value import margin_rates

FACT_COLUMNS = (
    "customer_id", "past_value", "days_since_last_purchase", "last_purchase_date", "reactivation_probability",
    "account_manager_id", "reasons", "reason_codes",
)
# Complaints and departures from this many days before the last purchase on count as why a customer left.
CAUSE_WINDOW_DAYS = 180
Fact = tuple[int, str, str]  # (position among the lapsed customers, words, reason code)
# Fewer lapsed customers with an outcome than this (of those who bought twice or more) and no map is fitted:
# the list then says BG/NBD's P(alive) as before. A rate from fewer than this who never bought twice is not kept.
MIN_CALIBRATION_CUSTOMERS = 200
MIN_ONE_TIME_CUSTOMERS = 30
REACTIVATION_METADATA = "lapsed_reactivation"  # the map's key in the model's metadata


@dataclass(frozen=True)
class LapsedSettings:
    """What :func:`lapsed_customers` needs from the configuration."""

    active_window_days: int
    lookback_days: int
    value_window_days: int
    horizon_days: int
    margin_rate: float
    decline_window_days: int
    price_rise_min_share: float
    stale_complaint_days: int
    top_reasons: int
    price_period_days: int
    price_min_observations: int

    @property
    def price_history_days(self) -> int:
        """The days before as_of whose list prices the price reason needs: every lapsed customer's last value
        window (the earliest ended lookback + active window days ago), plus a period for the rounding."""
        return self.lookback_days + self.active_window_days + self.value_window_days + self.price_period_days


@dataclass(frozen=True)
class ReactivationMap:
    """The observed share of lapsed customers who bought again within the horizon: a step-wise linear map from
    BG/NBD P(alive) (for those who bought twice or more) and one rate for those who never bought twice (None:
    too few of them seen; they then get the map's value at P(alive) = 1)."""

    p_alive: tuple[float, ...]
    rate: tuple[float, ...]
    one_time_rate: float | None
    n_customers: int  # the lapsed (customer, cutoff) rows the map was fitted on
    n_returned: int
    horizon_days: int

    def apply(self, p: np.ndarray, one_time: np.ndarray) -> np.ndarray:
        mapped = np.interp(np.asarray(p, dtype="float64"), self.p_alive, self.rate)
        if self.one_time_rate is None:
            return mapped
        return np.where(one_time, self.one_time_rate, mapped)

    def to_dict(self) -> dict:
        return {"p_alive": list(self.p_alive), "rate": list(self.rate), "one_time_rate": self.one_time_rate,
                "n_customers": self.n_customers, "n_returned": self.n_returned, "horizon_days": self.horizon_days}

    @classmethod
    def from_dict(cls, d: dict) -> ReactivationMap:
        return cls(tuple(float(v) for v in d["p_alive"]), tuple(float(v) for v in d["rate"]),
                   None if d["one_time_rate"] is None else float(d["one_time_rate"]), int(d["n_customers"]),
                   int(d["n_returned"]), int(d["horizon_days"]))


@dataclass(frozen=True)
class _Lapsed:
    """The lapsed customers (positions 0..n-1, in id order) and their transactions before as_of."""

    ids: pd.Index  # str
    last_day: np.ndarray  # per customer: calendar day number of the last purchase
    rows: pd.DataFrame  # their transactions
    who: np.ndarray  # per row: the customer's position
    back: np.ndarray  # per row: days before the customer's last purchase day (0 = that day)
    bought: np.ndarray  # per row: a purchase (amount > 0)

    @property
    def n(self) -> int:
        return len(self.ids)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series(dtype="str"), "past_value": pd.Series(dtype="float64"),
        "days_since_last_purchase": pd.Series(dtype="int64"), "last_purchase_date": pd.Series(dtype="str"),
        "reactivation_probability": pd.Series(dtype="float64"), "account_manager_id": pd.Series(dtype="str"),
        "reasons": pd.Series(dtype="str"), "reason_codes": pd.Series(dtype="str"),
    })


def _find_lapsed(transactions: pd.DataFrame, today: int, s: LapsedSettings) -> _Lapsed | None:
    key = customer_key(transactions["customer_id"])
    day = epoch_days(transactions["timestamp"])
    bought = (transactions["amount"] > 0).to_numpy()
    last_day = np.full(key.n, -np.inf)
    np.maximum.at(last_day, key.codes[bought], day[bought])
    # Active at as_of: a purchase on or after the day active_window_days before it. So the first day a customer
    # is no longer active is the day after last purchase day + active_window_days; lapsed within the lookback:
    # that day lies in the lookback_days up to as_of.
    ended = last_day + s.active_window_days + 1
    lapsed = np.flatnonzero((ended <= today) & (ended > today - s.lookback_days))
    if len(lapsed) == 0:
        return None
    position = np.full(key.n + 1, -1)
    position[lapsed] = np.arange(len(lapsed))
    who = position[key.codes]
    mine = who >= 0
    ids = pd.Index(key.index(lapsed).astype("str"), dtype="str", name="customer_id")
    order = np.argsort(ids.to_numpy(), kind="stable")  # positions in id order (codes may not be)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    who = rank[who[mine]]
    last = last_day[lapsed][order]
    return _Lapsed(ids[order], last, transactions[mine], who, last[who] - day[mine], bought[mine])


def lapsed_customers(
    tables: Tables,
    as_of,
    settings: LapsedSettings,
    bgnbd: BgNbdParams,
    reactivation: ReactivationMap | None = None,
    price_cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every customer whose activity ended in the ``lookback_days`` up to ``as_of``, with :data:`FACT_COLUMNS`.

    From events strictly before ``as_of`` only. ``bgnbd``: the parameters fitted on all customers at ``as_of``
    (so a bucket of customers gets what the whole would); ``reactivation``: the map from training (None: BG/NBD's
    P(alive) as it is); ``price_cells``: :func:`features.price.price_index_cells` of all customers at ``as_of``
    over ``settings.price_history_days`` (None: of ``tables``' customers). Sorted by customer_id.
    """
    as_of = as_timestamp(as_of)
    s = settings
    known = events_before(tables, as_of)
    today = as_of_day(as_of)
    found = _find_lapsed(known.transactions, today, s)
    if found is None:
        return _empty()
    in_value_window = found.back < s.value_window_days
    spend = np.bincount(found.who[in_value_window], found.rows["amount"].to_numpy()[in_value_window], found.n)
    margin = margin_rates(pd.Series(found.ids), known.customers, s.margin_rate)
    past_value = np.clip(spend, 0.0, None) * s.horizon_days / s.value_window_days * margin

    customers = known.customers.assign(customer_id=known.customers["customer_id"].astype("str"))
    customers = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    manager = customers["account_manager_id"].reindex(found.ids)
    alive, one_time = _p_alive(found, as_of, bgnbd)
    probability = alive if reactivation is None else reactivation.apply(alive, one_time)
    if price_cells is None:
        price_cells = price_index_cells(known.transactions, as_of=as_of, period_days=s.price_period_days,
                                        history_days=s.price_history_days)
    facts = [
        *_complaint_facts(known.complaints, found, today, s.stale_complaint_days),
        *_departure_facts(known.account_managers, manager, found, s.active_window_days),
        *_price_facts(found, today, price_cells, s),
        *_decline_facts(found, s.decline_window_days),
    ]
    reasons, codes = _worded(facts, _recency_facts(found, today, s.value_window_days), s.top_reasons)
    last_dates = pd.to_datetime(found.last_day, unit="D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "customer_id": pd.array(found.ids, dtype="str"),
            "past_value": past_value,
            "days_since_last_purchase": (today - found.last_day).astype("int64"),
            "last_purchase_date": pd.array(last_dates, dtype="str"),
            "reactivation_probability": probability,
            "account_manager_id": pd.array(manager.to_numpy(dtype=object, na_value=None), dtype="str"),
            "reasons": pd.array(reasons, dtype="str"),
            "reason_codes": pd.array(codes, dtype="str"),
        }
    )


def _p_alive(found: _Lapsed, as_of: pd.Timestamp, bgnbd: BgNbdParams) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD P(alive) at as_of per lapsed customer, and whether they never bought on two different days."""
    summary = rfm_summary(found.rows, as_of).reindex(found.ids, fill_value=0.0)
    return p_alive(bgnbd, summary).to_numpy(), (summary["frequency"] == 0).to_numpy()


def reactivation_outcomes(tables: Tables, cutoff, settings: LapsedSettings, bgnbd: BgNbdParams) -> pd.DataFrame:
    """The customers lapsed at ``cutoff`` (as on the lapsed list), their BG/NBD P(alive) there (``bgnbd``: fitted
    on all customers at the cutoff), whether they never bought twice, and whether they bought again in the
    ``horizon_days`` from the cutoff on. Who is lapsed and their P(alive) come from events before the cutoff only;
    the caller makes sure the horizon lies in the data. Sorted by customer_id."""
    cutoff = as_timestamp(cutoff)
    found = _find_lapsed(events_before(tables, cutoff).transactions, as_of_day(cutoff), settings)
    if found is None:
        return pd.DataFrame({"customer_id": pd.Series(dtype="str"), "p_alive": pd.Series(dtype="float64"),
                             "one_time": pd.Series(dtype="bool"), "returned": pd.Series(dtype="bool")})
    alive, one_time = _p_alive(found, cutoff, bgnbd)
    horizon = window_rows(tables.transactions, "timestamp", end=cutoff + pd.Timedelta(days=settings.horizon_days),
                          days=settings.horizon_days)
    bought = horizon[(horizon["amount"] > 0).to_numpy()]
    returned = found.ids.isin(pd.Index(bought["customer_id"].astype("str").unique()))
    return pd.DataFrame({"customer_id": pd.array(found.ids, dtype="str"), "p_alive": alive, "one_time": one_time,
                         "returned": returned})


def fit_reactivation(outcomes: pd.DataFrame, horizon_days: int) -> ReactivationMap | None:
    """The map from P(alive) to the share who bought again (isotonic: never falling as P(alive) rises), from the
    rows of :func:`reactivation_outcomes` at one or more cutoffs; None with fewer than
    MIN_CALIBRATION_CUSTOMERS rows of customers who bought twice or more."""
    rows = outcomes.sort_values(["p_alive", "customer_id", "returned"], kind="stable")
    repeat = rows[~rows["one_time"].to_numpy(dtype=bool)]
    if len(repeat) < MIN_CALIBRATION_CUSTOMERS:
        return None
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(repeat["p_alive"].to_numpy(dtype="float64"), repeat["returned"].to_numpy(dtype="float64"))
    once = rows[rows["one_time"].to_numpy(dtype=bool)]
    one_time_rate = float(once["returned"].mean()) if len(once) >= MIN_ONE_TIME_CUSTOMERS else None
    return ReactivationMap(tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_),
                           one_time_rate, len(rows), int(rows["returned"].sum()), horizon_days)


def _worded(facts: list[Fact], fallback: list[str], top: int) -> tuple[list[str], list[str]]:
    """Per customer the first ``top`` facts (in the order given) joined, else the fallback (recency) fact."""
    found: dict[int, list[tuple[str, str]]] = {}
    for customer, text, code in facts:
        found.setdefault(customer, []).append((text, code))
    reasons, codes = [], []
    for customer, recency in enumerate(fallback):
        chosen = found.get(customer, [(recency, "recency")])[:top]
        reasons.append("; ".join(text for text, _ in chosen))
        codes.append(";".join(dict.fromkeys(code for _, code in chosen)))
    return reasons, codes


def _when(days_after_last_purchase: np.ndarray) -> list[str]:
    """"3 weeks before the last purchase", "2 months after the last purchase", "on the day of the last purchase"."""
    words = []
    for days in days_after_last_purchase.tolist():
        if days == 0:
            words.append("on the day of the last purchase")
        else:
            side = "before" if days < 0 else "after"
            words.append(f"{duration_words(abs(days))} {side} the last purchase")
    return words


def _complaint_facts(complaints: pd.DataFrame, found: _Lapsed, today: int, stale_days: int) -> Iterator[Fact]:
    """The latest complaint opened from CAUSE_WINDOW_DAYS before the last purchase on, unless it was resolved
    to the customer's satisfaction (rated 4 or 5)."""
    position = found.ids.get_indexer(complaints["customer_id"].astype("str"))
    satisfied = (complaints["resolved_at"].notna() & (complaints["satisfaction"] >= 4)).to_numpy(
        dtype=bool, na_value=False)
    opened = epoch_days(complaints["opened_at"])
    relative = opened - found.last_day[np.maximum(position, 0)]
    keep = (position >= 0) & (relative >= -CAUSE_WINDOW_DAYS) & ~satisfied
    if not keep.any():
        return
    c = complaints[keep].assign(who=position[keep], opened_day=opened[keep], relative=relative[keep])
    latest = c.sort_values(["who", "opened_at"], kind="stable").groupby("who").tail(1)
    resolved = epoch_days(latest["resolved_at"])
    category = latest["category"].astype("object").where(latest["category"].notna(), None)
    for who, cat, when, opened_day, resolved_day, rating in zip(
        latest["who"].tolist(), category.tolist(), _when(latest["relative"].to_numpy()),
        latest["opened_day"].tolist(), resolved.tolist(), latest["satisfaction"].astype("object").tolist(),
        strict=True,
    ):
        about = f"complaint about {cat.replace('_', ' ')}" if cat not in (None, "other") else "complaint"
        if np.isnan(resolved_day):
            age = today - opened_day
            if age > stale_days:
                yield who, f"{about} {when}, open {age:.0f} days: check whether it was closed", STALE_COMPLAINT_CODE
            else:
                yield who, f"{about} {when}, still open", "open_complaint"
            continue
        rated = f", rated {rating:.0f} out of 5" if rating is not None and not pd.isna(rating) else ""
        yield who, f"{about} {when}, resolved in {duration_words(resolved_day - opened_day)}{rated}", "complaint"


def _departure_facts(
    managers: pd.DataFrame, manager: pd.Series, found: _Lapsed, active_window_days: int
) -> Iterator[Fact]:
    """The account manager left (before as_of) from CAUSE_WINDOW_DAYS before the last purchase on, while the
    customer was still active: a departure after they had lapsed cannot be why they left."""
    if managers.empty:
        return
    table = managers.assign(account_manager_id=managers["account_manager_id"].astype("str"))
    departed_at = table.drop_duplicates("account_manager_id", keep="last").set_index("account_manager_id")["departed_at"]
    departed = epoch_days(departed_at.reindex(manager.astype("str").to_numpy()))
    relative = departed - found.last_day
    hit = np.flatnonzero(np.isfinite(relative) & (relative >= -CAUSE_WINDOW_DAYS) & (relative <= active_window_days))
    for who, when in zip(hit.tolist(), _when(relative[hit]), strict=True):
        yield who, f"account manager {manager.iloc[who]} left {when}", "account_manager"


def _price_facts(found: _Lapsed, today: int, cells: pd.DataFrame, s: LapsedSettings) -> Iterator[Fact]:
    """The list prices of the categories the customer bought rose, for all customers: each category's price index
    (:func:`features.price.category_price_drift`) integrated over the customer's ``value_window_days`` up to their
    last purchase, weighted by their spend in it then; a rise of at least ``price_rise_min_share``.

    Not the prices the customer paid: buying a dearer item of a category whose list prices held is no rise.
    """
    rows = found.rows
    if "category" not in rows or cells.empty:
        return
    drift = category_price_drift(cells, min_observations=s.price_min_observations)
    if not drift.to_numpy().any():
        return
    category = rows["category"]
    amount = rows["amount"].to_numpy()
    usable = found.bought & (found.back < s.value_window_days) & category.notna().to_numpy() & (amount > 0)
    spend = pd.DataFrame({"who": found.who[usable], "category": category.astype("str").to_numpy()[usable],
                          "amount": amount[usable]}).groupby(["who", "category"], sort=True)["amount"].sum()
    if spend.empty:
        return
    who = spend.index.get_level_values("who").to_numpy()
    period = s.price_period_days
    starts = today - (np.arange(drift.shape[1]) + 1) * period  # period k: [today - (k + 1) * period, today - k * period)
    first = found.last_day - s.value_window_days + 1  # the value window: [first, last purchase day]
    overlap = np.clip(np.minimum(starts + period, found.last_day[:, None] + 1) - np.maximum(starts, first[:, None]),
                      0, None)
    at = drift.index.get_indexer(spend.index.get_level_values("category"))
    rates = np.vstack([drift.to_numpy(), np.zeros((1, drift.shape[1]))])[at]  # unknown category (-1): no change
    change = np.einsum("ij,ij->i", overlap[who], rates)
    weight = spend.to_numpy()
    log_rise = np.bincount(who, change * weight, found.n) / np.maximum(np.bincount(who, weight, found.n), 1e-300)
    rise = np.expm1(log_rise)
    span = duration_words(s.value_window_days)
    for customer in np.flatnonzero(rise >= s.price_rise_min_share).tolist():
        yield customer, (f"list prices in the categories they bought rose {rise[customer]:.0%} over the {span} up "
                         "to their last purchase"), "price"


def _decline_facts(found: _Lapsed, window: int) -> Iterator[Fact]:
    """Fewer purchases in the ``window`` days up to the last purchase than in the ``window`` days before."""
    recent = np.bincount(found.who[found.bought & (found.back < window)], minlength=found.n)
    before = np.bincount(found.who[found.bought & (found.back >= window) & (found.back < 2 * window)],
                         minlength=found.n)
    for who in np.flatnonzero(recent < before).tolist():
        yield who, f"orders fell from {before[who]} to {recent[who]} in the {window} days up to the last purchase", \
            "decline"


def _recency_facts(found: _Lapsed, today: int, window: int) -> list[str]:
    """No purchase for N days, and how often they used to buy (over their last ``window`` days) when known."""
    recent = found.bought & (found.back < window)
    days = pd.Series(found.back[recent]).groupby(found.who[recent]).agg(["max", "nunique"]).reindex(range(found.n))
    gap = (days["max"] / (days["nunique"] - 1)).where(days["nunique"] > 1).to_numpy()
    silent = today - found.last_day
    return [
        f"no purchase for {quiet:.0f} days" + (f" (used to buy every {g:.0f} days)" if np.isfinite(g) else "")
        for quiet, g in zip(silent.tolist(), gap.tolist(), strict=True)
    ]
