"""Lapsed customers: no longer active at the as-of date, their activity ended within a lookback, with what they
were worth in the year before and why they may have left, in words.

A customer stops being active the day after the ``active_window_days`` following their last purchase day; they
are on this list when that day lies in the ``lookback_days`` up to the as-of date. Their past value is what ``customer_value`` would have
said on their last purchase day: net spend of the ``value_window_days`` up to and including it, scaled to the
churn horizon, times the margin rate. Their reactivation probability is the BG/NBD probability that they are still
"alive" (have not left for good) at the as-of date, from the model fitted on every customer's purchases before it:
a contact can only win back someone who can still buy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import Tables, as_timestamp
from features.aggregate import as_of_day, customer_key, epoch_days
from features.cutoff import events_before
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


def lapsed_customers(tables: Tables, as_of, settings: LapsedSettings, bgnbd: BgNbdParams) -> pd.DataFrame:
    """Every customer whose activity ended in the ``lookback_days`` up to ``as_of``, with :data:`FACT_COLUMNS`.

    From events strictly before ``as_of`` only. ``bgnbd``: the parameters fitted on all customers at ``as_of``
    (so a bucket of customers gets what the whole would). Sorted by customer_id.
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
    summary = rfm_summary(found.rows, as_of).reindex(found.ids, fill_value=0.0)
    facts = [
        *_complaint_facts(known.complaints, found, today, s.stale_complaint_days),
        *_departure_facts(known.account_managers, manager, found),
        *_price_facts(found, s),
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
            "reactivation_probability": p_alive(bgnbd, summary).to_numpy(),
            "account_manager_id": pd.array(manager.to_numpy(dtype=object, na_value=None), dtype="str"),
            "reasons": pd.array(reasons, dtype="str"),
            "reason_codes": pd.array(codes, dtype="str"),
        }
    )


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


def _departure_facts(managers: pd.DataFrame, manager: pd.Series, found: _Lapsed) -> Iterator[Fact]:
    """The account manager left (before as_of) from CAUSE_WINDOW_DAYS before the last purchase on."""
    if managers.empty:
        return
    table = managers.assign(account_manager_id=managers["account_manager_id"].astype("str"))
    departed_at = table.drop_duplicates("account_manager_id", keep="last").set_index("account_manager_id")["departed_at"]
    departed = epoch_days(departed_at.reindex(manager.astype("str").to_numpy()))
    relative = departed - found.last_day
    hit = np.flatnonzero(np.isfinite(relative) & (relative >= -CAUSE_WINDOW_DAYS))
    for who, when in zip(hit.tolist(), _when(relative[hit]), strict=True):
        yield who, f"account manager {manager.iloc[who]} left {when}", "account_manager"


def _price_facts(found: _Lapsed, s: LapsedSettings) -> Iterator[Fact]:
    """Unit list prices paid rose over the customer's last year: last against first unit list price of each
    category bought at least twice, weighted by spend."""
    rows = found.rows
    if "list_amount" not in rows or "quantity" not in rows or "category" not in rows:
        return
    unit = (rows["list_amount"] / rows["quantity"]).to_numpy(dtype="float64", na_value=np.nan)
    category = rows["category"].astype("object").to_numpy()
    usable = (found.bought & (found.back < s.value_window_days) & np.isfinite(unit) & (unit > 0)
              & pd.notna(category))
    if not usable.any():
        return
    priced = pd.DataFrame({"who": found.who[usable], "category": category[usable], "back": found.back[usable],
                           "unit": unit[usable], "amount": rows["amount"].to_numpy()[usable]})
    priced = priced.sort_values(["who", "category", "back"], ascending=[True, True, False], kind="stable")
    per = priced.groupby(["who", "category"], sort=False).agg(
        first=("unit", "first"), last=("unit", "last"), n=("unit", "size"), amount=("amount", "sum"))
    per = per[per["n"] >= 2]
    weight = per["amount"].clip(lower=0)
    change = ((per["last"] / per["first"] - 1.0) * weight).groupby(level="who").sum() / weight.groupby(
        level="who").sum()
    rising = change[np.isfinite(change) & (change >= s.price_rise_min_share)]
    for who, rise in rising.items():
        yield int(who), f"the list prices they paid rose {rise:.0%} over their last year", "price"


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
