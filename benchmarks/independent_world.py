"""Worlds simulated independently of the pipeline's own generator, to see where the pipeline only works on its world.

Written from DATA_CONTRACT.md and DOMAIN.md alone (never from pipeline/synthetic.py), with other assumptions, in
three kinds of business:

- ``retail``: ``transactions.csv`` only, with ``customer_id``, ``timestamp`` and ``amount``: integer-looking ids
  (``"100234"``), date-only timestamps, a few refunds. Each customer shops on a personal rhythm (weekly to every
  two or three months, more or less regular); trips and baskets peak before Christmas. Churn is likelier in the
  first months of a relationship and after a customer's own spending has fallen from its peak; a fifth of the
  newcomers never come back; new customers arrive all through the period.
- ``b2b``: every table of the contract. Accounts in segments SMB / Mid / Enterprise, account managers of whom some
  leave (with or without a successor; some of their customers follow them), complaints with the business's own
  category names, resolution times and ratings, sales visits, web-shop sessions, calls and a trade fair; order
  lines with list prices, promotions, categories and channels; two list-price rises. An account that decides to
  leave first moves part of its orders to a competitor for three weeks to three months, then stops. The decision
  is driven by open or badly resolved complaints, the manager's departure and price rises (for price-sensitive
  accounts).
- ``subscription``: monthly boxes billed on each subscriber's own day of the month (a payment retried a few days
  later now and then, a skipped month, add-ons, rare refunds), timestamps with the local UTC offset
  (``2025-03-14T06:12:00+01:00``), ``customers.parquet`` with the plan as segment. Churn is an abrupt stop: a
  cancellation between two boxes, frequent after the first boxes and in a summer wave (July to September).

Every world ends on 2025-12-31 and spans ``months`` months before it. ``_truth/customers.csv`` holds each
customer's ``stop_date`` (the day they stopped for good; no purchase on or after it; empty if they did not stop
within the data) and the ``cause`` the simulation drew. numpy and pandas only; the same arguments give the same
files.

    .venv/bin/python -m benchmarks.independent_world --out data/scratch/indep-retail --kind retail \
        [--customers 20000] [--seed 1] [--months 18]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("retail", "b2b", "subscription")
END = np.datetime64("2026-01-01", "D")  # exclusive: the last day of every world is 2025-12-31
NEVER = np.inf  # a day index that never comes


@dataclass(frozen=True)
class World:
    tables: dict[str, pd.DataFrame]  # table name -> frame, written as <name>.csv (or .parquet, see PARQUET)
    truth: pd.DataFrame  # customer_id, stop_date, cause


PARQUET = {("subscription", "customers")}  # tables written as Parquet: a directory may mix formats


def write_independent_world(out: Path, kind: str, customers: int, seed: int, months: int = 18) -> World:
    """Simulate a world of ``kind`` and write it to ``out`` (which must be empty or absent), its truth to
    ``out/_truth/customers.csv``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if customers < 50 or not 6 <= months <= 60:
        raise ValueError("need at least 50 customers and 6 to 60 months")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; pass a new folder")
    start = (END.astype("datetime64[M]") - np.timedelta64(months, "M")).astype("datetime64[D]")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    world = SIMULATE[kind](customers, rng, start)
    (out / "_truth").mkdir(parents=True, exist_ok=True)
    for name, frame in world.tables.items():
        if (kind, name) in PARQUET:
            frame.to_parquet(out / f"{name}.parquet", index=False)
        else:
            frame.to_csv(out / f"{name}.csv", index=False)
    world.truth.to_csv(out / "_truth" / "customers.csv", index=False)
    return world


# ---------------------------------------------------------------------------------------------------- helpers


def _days(start: np.datetime64) -> int:
    return int((END - start).astype(int))


def _dates(start: np.datetime64, day: np.ndarray) -> np.ndarray:
    """Day indexes (from ``start``) as datetime64[D]."""
    return start + np.asarray(day).astype("int64").astype("timedelta64[D]")


def _moments(start: np.datetime64, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return _dates(start, day).astype("datetime64[s]") + np.asarray(seconds).astype("int64").astype("timedelta64[s]")


def _iso(moments: np.ndarray) -> np.ndarray:
    """``2025-03-14T10:23:41`` (datetime64[s])."""
    return np.datetime_as_string(moments, unit="s")


def _iso_of_days(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Fractional day indexes as ``2025-03-14T10:23:41``."""
    return _iso(_moments(start, np.floor(days), np.round((days % 1) * 86_400)))


def _date_text(start: np.datetime64, day: np.ndarray) -> np.ndarray:
    """Day indexes as ``2025-03-14``; NEVER or NaN as empty text."""
    day = np.asarray(day, dtype=float)
    known = np.isfinite(day)
    text = np.full(len(day), "", dtype=object)
    text[known] = np.datetime_as_string(_dates(start, day[known]), unit="D")
    return text


def _days_to(start: np.datetime64, n_days: int, month: int, day: int) -> np.ndarray:
    """Signed days from each day of the period to the nearest (month, day), across year ends."""
    dates = _dates(start, np.arange(n_days))
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    distances = []
    for shift in (-1, 0, 1):
        target = np.array([f"{y + shift:04d}-{month:02d}-{day:02d}" for y in years], dtype="datetime64[D]")
        distances.append((dates - target).astype(int))
    stacked = np.stack(distances)
    return stacked[np.argmin(np.abs(stacked), axis=0), np.arange(n_days)]


def _month_of(start: np.datetime64, n_days: int) -> np.ndarray:
    return _dates(start, np.arange(n_days)).astype("datetime64[M]").astype(int) % 12 + 1


def _spread_over(rng, first: np.ndarray, last: np.ndarray, rate_per_day: float | np.ndarray):
    """Poisson(rate x days) events per customer, uniform over each customer's [first, last) day range:
    (customer index, fractional day)."""
    span = np.clip(last - first, 0, None)
    counts = rng.poisson(rate_per_day * span)
    who = np.repeat(np.arange(len(first)), counts)
    return who, first[who] + rng.random(len(who)) * span[who]


def _truth(ids: np.ndarray, start: np.datetime64, stop_day: np.ndarray, cause: np.ndarray) -> pd.DataFrame:
    """Stops after the data's last day are not known in it: empty, like those that never came."""
    stopped = stop_day < _days(start)
    stop_day = np.where(stopped, stop_day, NEVER)
    return pd.DataFrame({
        "customer_id": ids,
        "stop_date": _date_text(start, stop_day),
        "cause": np.where(stopped, cause, ""),
    })


# ------------------------------------------------------------------------------------------------------ retail

RETAIL_BASE_HAZARD = 0.0011  # per day, for a settled customer whose spending holds (~9.5% stop in 90 days)


def _retail(n: int, rng: np.random.Generator, start: np.datetime64) -> World:
    n_days = _days(start)
    to_christmas = _days_to(start, n_days, 12, 18)
    trips = 1 + 1.3 * np.exp(-0.5 * (to_christmas / 10) ** 2)  # more trips in the weeks before Christmas
    gifts = 1 + 0.5 * np.exp(-0.5 * (to_christmas / 8) ** 2)  # and bigger baskets

    existing = rng.random(n) < 0.4
    arrival = np.where(existing, 0, rng.integers(0, n_days, n))
    tenure_before = np.where(existing, rng.gamma(2.0, 250.0, n), 0.0)  # days of relationship before the data
    rhythm = rng.choice(3, n, p=[0.2, 0.45, 0.35])  # weekly, monthly, every two or three months
    mean_gap = np.choose(rhythm, [
        rng.lognormal(np.log(8), 0.25, n), rng.lognormal(np.log(30), 0.3, n), rng.lognormal(np.log(75), 0.25, n),
    ])
    regularity = rng.uniform(1.2, 6.0, n)  # gamma shape of the gaps: 1.2 erratic, 6 like clockwork
    basket = rng.lognormal(np.log(35) + np.choose(rhythm, [-0.5, 0.0, 0.4]), 0.55)
    one_off = ~existing & (rng.random(n) < 0.2)
    declines = rng.random(n) < 0.3
    decline_from = np.where(declines, arrival + rng.integers(0, n_days, n), NEVER)
    decline_per_day = rng.uniform(0.002, 0.008, n)  # log spending level lost per day once declining

    level, peak = np.zeros(n), np.zeros(n)  # log spending level and its running peak
    threshold = rng.gamma(regularity, mean_gap / regularity)
    progress = np.where(existing, rng.random(n) * threshold, 0.0)
    alive = np.zeros(n, dtype=bool)
    stop, cause = np.full(n, NEVER), np.full(n, "", dtype=object)
    bought = []
    for d in range(n_days):
        arrives = arrival == d
        alive |= arrives
        step = 0.01 * rng.standard_normal(n) - np.where(d >= decline_from, decline_per_day, 0.0)
        level = np.where(alive, level + step, level)
        peak = np.maximum(peak, level)
        progress += np.where(alive, np.exp(0.5 * level) * trips[d], 0.0)
        buys = np.flatnonzero(alive & ((progress >= threshold) | (arrives & ~existing)))
        if len(buys):
            amount = basket[buys] * np.exp(level[buys]) * rng.lognormal(0, 0.3, len(buys)) * gifts[d]
            bought.append((buys, np.full(len(buys), d), amount))
            progress[buys] = 0.0
            threshold[buys] = rng.gamma(regularity[buys], mean_gap[buys] / regularity[buys])
        tenure = tenure_before + (d - arrival)
        early = 3.0 * np.exp(-tenure / 60)
        fallen = np.exp(2.5 * (peak - level)) - 1
        hazard = RETAIL_BASE_HAZARD * (1 + early) * (1 + fallen)
        leaves = alive & (d > arrival) & ((rng.random(n) < hazard) | (one_off & (d == arrival + 1)))
        if leaves.any():
            alive &= ~leaves
            stop[leaves] = d + 1  # today's purchase, if any, was their last
            cause[leaves] = np.where(
                one_off[leaves], "one_off",
                np.where(np.maximum(early, fallen)[leaves] < 0.5, "base",
                         np.where(early[leaves] > fallen[leaves], "early", "spending_fell")))

    who = np.concatenate([b[0] for b in bought])
    day = np.concatenate([b[1] for b in bought])
    amount = np.round(np.maximum(np.concatenate([b[2] for b in bought]), 1.0), 2)
    refunded = rng.random(len(who)) < 0.02
    refund_day = day[refunded] + rng.integers(1, 21, refunded.sum())
    share = np.where(rng.random(refunded.sum()) < 0.5, 1.0, rng.uniform(0.2, 0.8, refunded.sum()))
    keep = refund_day < n_days
    who = np.concatenate([who, who[refunded][keep]])
    day = np.concatenate([day, refund_day[keep]])
    amount = np.concatenate([amount, -np.round(amount[refunded][keep] * share[keep], 2)])

    ids = (100_000 + rng.permutation(n)).astype(str)  # integer-looking, no leading zeros
    order = np.lexsort((rng.random(len(day)), day))  # a till export: by day, customers mixed
    transactions = pd.DataFrame({
        "customer_id": ids[who[order]],
        "timestamp": _date_text(start, day[order]),
        "amount": amount[order],
    })
    return World({"transactions": transactions}, _truth(ids, start, stop, cause))


# --------------------------------------------------------------------------------------------------------- b2b

SEGMENTS = np.array(["SMB", "Mid", "Enterprise"])
B2B_BASE_HAZARD = np.array([0.0009, 0.0005, 0.00025])  # per day, by segment, nothing going wrong
B2B_CATEGORIES = np.array(["fasteners", "tools", "electrical", "safety", "consumables"])
B2B_UNIT_PRICE = np.array([0.8, 35.0, 12.0, 9.0, 4.0])  # list price of a typical unit, by category
COMPLAINT_CATEGORIES = np.array(
    ["late_delivery", "wrong_item", "damaged_goods", "invoice_error", "rep_unresponsive", "pricing"]
)
ORDER_CHANNELS = np.array(["webshop", "phone", "field_sales", "edi"])
ORDER_CHANNEL_SHARES = np.array([[0.6, 0.35, 0.05, 0.0], [0.45, 0.3, 0.25, 0.0], [0.0, 0.1, 0.2, 0.7]])


def _b2b(n: int, rng: np.random.Generator, start: np.datetime64) -> World:
    n_days = _days(start)
    seg = rng.choice(3, n, p=[0.65, 0.27, 0.08])
    existing = rng.random(n) < 0.85
    arrival = np.where(existing, 0, rng.integers(0, n_days, n))
    signup = np.where(existing, -rng.integers(60, 3000, n), arrival)
    first_order = np.where(existing, 0, arrival + rng.integers(1, 15, n)).astype(float)
    first_order[rng.random(n) < 0.02] = NEVER  # prospects: signed up, never ordered
    mean_gap = np.choose(seg, [rng.lognormal(np.log(30), 0.4, n), rng.lognormal(np.log(14), 0.35, n),
                               rng.lognormal(np.log(7), 0.3, n)])
    order_value = np.choose(seg, [rng.lognormal(np.log(450), 0.6, n), rng.lognormal(np.log(1800), 0.5, n),
                                  rng.lognormal(np.log(7000), 0.5, n)])
    contract_discount = np.choose(seg, [rng.uniform(0, 0.08, n), rng.uniform(0.08, 0.15, n),
                                        rng.uniform(0.15, 0.25, n)])
    price_sensitive = rng.random(n) < np.array([0.4, 0.25, 0.1])[seg]
    buys_category = rng.random((n, len(B2B_CATEGORIES))) < 0.45
    buys_category[np.arange(n), rng.integers(0, len(B2B_CATEGORIES), n)] = True

    # Account managers: a few team leads (who stay), the others may leave, some with a successor.
    n_managers = max(8, n // 400)
    n_leads = max(2, n_managers // 8)
    manager_ids = np.array([f"AM{k:03d}" for k in range(1, n_managers + 1)])
    team_lead = np.where(np.arange(n_managers) < n_leads, -1, rng.integers(0, n_leads, n_managers))
    # A fifth of the others leave (some shortly before the data begins), three in five with a successor.
    n_leaving = max(2, round(0.2 * (n_managers - n_leads)))
    leaving = rng.choice(np.arange(n_leads, n_managers), n_leaving, replace=False)
    departed = np.full(n_managers, NEVER)
    departed[leaving] = rng.integers(-60, n_days - 14, n_leaving)
    stayers = np.flatnonzero(np.isinf(departed) & (np.arange(n_managers) >= n_leads))
    successor = np.full(n_managers, -1)
    handed_over = leaving[: int(np.ceil(0.6 * n_leaving))]
    successor[handed_over] = rng.choice(stayers, len(handed_over))
    owned = (seg > 0) | (rng.random(n) < 0.45)  # every Mid and Enterprise account has a manager, half the SMBs
    manager = np.where(owned, rng.integers(n_leads, n_managers, n), -1)
    left_on = np.where(manager >= 0, departed[np.maximum(manager, 0)], NEVER)
    follows = (left_on >= 0) & np.isfinite(left_on) & (rng.random(n) < np.array([0.2, 0.3, 0.35])[seg])
    follow_day = np.where(follows, left_on + rng.integers(10, 120, n), NEVER)

    # Two list-price rises: one category early, every category later.
    rises = [(int(n_days * 0.35), buys_category[:, 2], 0.10), (int(n_days * 0.7), np.ones(n, dtype=bool), 0.05)]
    price_index = np.ones((n_days, len(B2B_CATEGORIES)))
    price_index[rises[0][0]:, 2] *= 1 + rises[0][2]
    price_index[rises[1][0]:, :] *= 1 + rises[1][2]

    month = _month_of(start, n_days)
    weekday = (_dates(start, np.arange(n_days)).astype(int) + 3) % 7  # 0 = Monday
    to_christmas = _days_to(start, n_days, 12, 28)
    working = np.where(weekday < 5, 1.4, 0.0) * np.where(month == 8, 0.7, 1.0)
    working *= np.where(np.abs(to_christmas) <= 5, 0.25, 1.0)

    shape = 4.0
    threshold = rng.gamma(shape, mean_gap / shape)
    progress = rng.random(n) * threshold
    defect_from, stop = np.full(n, NEVER), np.full(n, NEVER)
    cause = np.full(n, "", dtype=object)
    open_until, open_severity = np.full(n, -NEVER), np.zeros(n)
    sour_from, sour_until = np.full(n, NEVER), np.full(n, -NEVER)  # after a badly rated resolution
    glad_from, glad_until = np.full(n, NEVER), np.full(n, -NEVER)  # after a well rated one
    orders, complaints = [], []
    for d in range(n_days):
        active = (first_order <= d) & (stop > d)
        defecting = defect_from <= d
        complaint_mult = (np.where(open_until > d, 2.0 + 1.0 * open_severity, 1.0)
                          * np.where((sour_from <= d) & (d < sour_until), 4.0, 1.0)
                          * np.where((glad_from <= d) & (d < glad_until), 0.8, 1.0))
        since_left = d - left_on
        manager_mult = np.where(since_left >= 0, 1 + 4 * np.exp(-np.clip(since_left, 0, None) / 120), 1.0)
        price_mult = np.ones(n)
        for day_of_rise, sees, _ in rises:
            if d >= day_of_rise:
                price_mult += sees * np.where(price_sensitive, 5.0, 0.5) * np.exp(-(d - day_of_rise) / 90)
        hazard = B2B_BASE_HAZARD[seg] * complaint_mult * manager_mult * price_mult
        decides = active & ~defecting & ((rng.random(n) < hazard) | (follow_day == d))
        if decides.any():
            who = np.flatnonzero(decides)
            defect_from[who] = d
            stop[who] = d + rng.integers(20, 100, len(who))
            pulls = np.log(np.stack([complaint_mult[who], manager_mult[who], price_mult[who]]))
            named = np.array(["complaint", "manager_left", "price_rise"])[np.argmax(pulls, axis=0)]
            cause[who] = np.where(follow_day[who] == d, "followed_manager",
                                  np.where(pulls.max(axis=0) < np.log(1.5), "other", named))
            defecting = defect_from <= d
        progress += np.where(active, working[d] * np.where(defecting, 0.45, 1.0), 0.0)
        ordering = np.flatnonzero(active & ((progress >= threshold) | (first_order == d)))
        if not len(ordering):
            continue
        value = order_value[ordering] * rng.lognormal(0, 0.35, len(ordering))
        value *= np.where(defecting[ordering], 0.55, 1.0)
        orders.append((ordering, np.full(len(ordering), d), value))
        progress[ordering] = 0.0
        threshold[ordering] = rng.gamma(shape, mean_gap[ordering] / shape)
        # A complaint follows some orders; it hurts while open and after a bad resolution.
        hit = ordering[rng.random(len(ordering)) < np.array([0.04, 0.03, 0.02])[seg[ordering]]]
        if len(hit):
            severity = rng.choice(np.arange(1, 6), len(hit), p=[0.25, 0.3, 0.25, 0.12, 0.08])
            opened = d + rng.integers(0, 4, len(hit)) + rng.uniform(8 / 24, 18 / 24, len(hit))
            takes = rng.lognormal(np.log(2.5) + 0.35 * severity, 0.9)
            never = rng.random(len(hit)) < 0.06 + 0.03 * severity
            resolved = np.where(never, NEVER, opened + takes)
            rating = np.clip(np.round(5.3 - 0.9 * np.log1p(takes) - 0.25 * severity
                                      + rng.normal(0, 0.7, len(hit))), 1, 5)
            open_severity[hit] = np.maximum(np.where(open_until[hit] > d, open_severity[hit], 0), severity)
            open_until[hit] = np.maximum(open_until[hit], resolved)
            sour = ~never & (rating <= 2)
            sour_from[hit[sour]], sour_until[hit[sour]] = resolved[sour], resolved[sour] + 150
            glad = ~never & (rating >= 4)
            glad_from[hit[glad]], glad_until[hit[glad]] = resolved[glad], resolved[glad] + 180
            complaints.append((hit, opened, resolved, severity, rating))

    ids = np.array([f"K-{k:06d}" for k in rng.choice(900_000, n, replace=False) + 1])  # leading zeros matter
    who = np.concatenate([o[0] for o in orders])
    order_day = np.concatenate([o[1] for o in orders])
    value = np.concatenate([o[2] for o in orders])
    channel = _draw_rows(rng, ORDER_CHANNEL_SHARES[seg[who]])
    channel = np.where((ORDER_CHANNELS[channel] == "field_sales") & (manager[who] < 0), 1, channel)
    order_second = rng.integers(7 * 3600, 18 * 3600, len(who))
    transactions = _order_lines(rng, who, order_day, order_second, value, channel, seg, buys_category,
                                contract_discount, price_sensitive, price_index)
    transactions["customer_id"] = ids[transactions.pop("who")]
    transactions["timestamp"] = _iso(_moments(start, transactions.pop("day"), transactions.pop("second")))
    transactions = transactions[["transaction_id", "customer_id", "timestamp", "amount", "quantity",
                                 "list_amount", "promo", "category", "channel"]]

    complaints_frame = _complaints_table(rng, start, n_days, ids, complaints)
    ordered_from = np.where(np.isfinite(first_order), first_order, n_days)
    gone = np.minimum(stop, n_days)
    visits = _b2b_visits(rng, start, n_days, ids, seg, manager, left_on, ordered_from, defect_from, gone,
                         who, order_day, order_second, channel)

    yearly = order_value * 365 / mean_gap
    known_wallet = rng.random(n) < np.array([0.25, 0.5, 0.8])[seg]
    margin = np.round(np.array([0.28, 0.22, 0.15])[seg] + rng.normal(0, 0.03, n), 3)
    customers = pd.DataFrame({
        "customer_id": ids,
        "signup_date": _date_text(start, signup),
        "segment": SEGMENTS[seg],
        "account_manager_id": np.where(manager >= 0, manager_ids[np.maximum(manager, 0)], ""),
        "wallet_estimate": np.where(known_wallet, np.round(yearly * rng.uniform(1.2, 3.5, n), -2), np.nan),
        "margin_rate": np.where(rng.random(n) < 0.7, np.clip(margin, 0.05, 0.5), np.nan),
    }).iloc[rng.permutation(n)]
    account_managers = pd.DataFrame({
        "account_manager_id": manager_ids,
        "departed_at": _date_text(start, departed),
        "successor_id": np.where(successor >= 0, manager_ids[np.maximum(successor, 0)], ""),
        "team_lead_id": np.where(team_lead >= 0, manager_ids[np.maximum(team_lead, 0)], ""),
    })
    tables = {"customers": customers, "transactions": transactions, "complaints": complaints_frame,
              "visits": visits, "account_managers": account_managers}
    return World(tables, _truth(ids, start, stop, cause))


def _draw_rows(rng, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row of a probability matrix."""
    drawn = (rng.random((len(probabilities), 1)) > np.cumsum(probabilities, axis=1)).sum(axis=1)
    return np.minimum(drawn, probabilities.shape[1] - 1)  # a cumulative sum that ends just below 1


def _order_lines(rng, who, day, second, value, channel, seg, buys_category, contract_discount, price_sensitive,
                 price_index) -> pd.DataFrame:
    """Split each order's value into 1-6 lines of the customer's categories, priced from the list."""
    n_lines = 1 + np.minimum(rng.poisson(np.array([0.4, 0.8, 1.5])[seg[who]]), 5)
    order = np.repeat(np.arange(len(who)), n_lines)
    line = np.arange(len(order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    buyer = who[order]
    allowed = buys_category[buyer].astype(float)
    category = _draw_rows(rng, allowed / allowed.sum(axis=1, keepdims=True))
    weight = rng.exponential(1.0, len(order))
    weight /= np.bincount(order, weights=weight)[order]
    item_factor = rng.lognormal(0, 0.25, len(order))  # the item within the category
    unit_list = B2B_UNIT_PRICE[category] * item_factor * price_index[day[order], category]
    promo = rng.random(len(order)) < np.where(price_sensitive[buyer], 0.2, 0.06)
    discount = contract_discount[buyer] + np.where(promo, rng.uniform(0.1, 0.25, len(order)), 0.0)
    quantity = np.maximum(1, np.round(value[order] * weight / (unit_list * (1 - discount))))
    list_amount = np.round(quantity * unit_list, 2)
    return pd.DataFrame({
        "transaction_id": [f"INV{o + 1:07d}-{k + 1}" for o, k in zip(order, line)],
        "who": buyer,
        "day": day[order],
        "second": second[order],
        "amount": np.round(list_amount * (1 - discount), 2),
        "quantity": quantity,
        "list_amount": list_amount,
        "promo": promo,
        "category": B2B_CATEGORIES[category],
        "channel": ORDER_CHANNELS[channel[order]],
    })


def _complaints_table(rng, start, n_days, ids, complaints) -> pd.DataFrame:
    who = np.concatenate([c[0] for c in complaints])
    opened = np.concatenate([c[1] for c in complaints])
    resolved = np.concatenate([c[2] for c in complaints])
    severity = np.concatenate([c[3] for c in complaints]).astype(int)
    rating = np.concatenate([c[4] for c in complaints])
    keep = opened < n_days
    who, opened, resolved, severity, rating = who[keep], opened[keep], resolved[keep], severity[keep], rating[keep]
    unresolved = ~(resolved < n_days)  # never resolved, or not yet when the data was extracted
    rated = ~unresolved & (rng.random(len(who)) < 0.75)
    category = rng.choice(len(COMPLAINT_CATEGORIES), len(who), p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
    resolved_text = np.full(len(who), "", dtype=object)
    resolved_text[~unresolved] = _iso_of_days(start, resolved[~unresolved])
    frame = pd.DataFrame({
        "customer_id": ids[who],
        "opened_at": _iso_of_days(start, opened),
        "resolved_at": resolved_text,
        "category": COMPLAINT_CATEGORIES[category],
        "severity": severity,
        "satisfaction": pd.array(np.where(rated, rating, np.nan), dtype="Int64"),
    })
    return frame.sort_values("opened_at", kind="stable").reset_index(drop=True)


def _b2b_visits(rng, start, n_days, ids, seg, manager, left_on, ordered_from, defect_from, gone,
                who, order_day, order_second, channel) -> pd.DataFrame:
    """Web-shop sessions before web orders and while comparing (more when leaving), the manager's visits
    (none in the 45 days after the manager left), calls, and a March trade fair."""
    parts = []
    web = channel == 0
    sessions = 1 + rng.poisson(0.8, web.sum())
    before = np.repeat(order_day[web] + order_second[web] / 86_400, sessions) - rng.uniform(0, 2, sessions.sum())
    parts.append((np.repeat(who[web], sessions), before, "webshop", rng.lognormal(np.log(300), 0.8, len(before))))
    uses_web = np.bincount(who[web], minlength=len(ids)) > 0
    settled_until = np.minimum(defect_from, gone)
    for first, last, rate in ((ordered_from, settled_until, 0.03), (np.minimum(defect_from, gone), gone, 0.15)):
        customer, moment = _spread_over(rng, first.astype(float), last.astype(float), rate * uses_web)
        parts.append((customer, moment, "webshop", rng.lognormal(np.log(400), 0.8, len(customer))))
    owned = manager >= 0
    every = np.array([120.0, 60.0, 30.0])[seg]
    customer, moment = _spread_over(rng, ordered_from.astype(float), gone.astype(float), owned / every)
    after_leaving = moment - left_on[customer]
    keep = ~((after_leaving >= 0) & (after_leaving < 45))
    parts.append((customer[keep], moment[keep], "sales_visit", rng.uniform(1800, 7200, keep.sum())))
    customer, moment = _spread_over(rng, ordered_from.astype(float), gone.astype(float), 0.01)
    parts.append((customer, moment, "phone", rng.lognormal(np.log(300), 0.6, len(customer))))
    march_fairs = np.flatnonzero(_days_to(start, n_days, 3, 12) == 0)
    for fair in march_fairs:
        there = np.flatnonzero((ordered_from <= fair) & (gone > fair) & (rng.random(len(ids)) < 0.08))
        parts.append((there, fair + rng.uniform(0.4, 0.7, len(there)), "trade_fair",
                      rng.uniform(600, 3600, len(there))))
    customer = np.concatenate([p[0] for p in parts])
    moment = np.concatenate([p[1] for p in parts])
    keep = (moment >= 0) & (moment < n_days)
    frame = pd.DataFrame({
        "customer_id": ids[customer[keep]],
        "timestamp": _iso_of_days(start, moment[keep]),
        "channel": np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])[keep],
        "duration_s": np.round(np.concatenate([p[3] for p in parts])[keep]),
    })
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ subscription

PLANS = np.array(["basic", "standard", "premium"])
PLAN_PRICE = np.array([19.90, 29.90, 49.90])
ADDON_PRICES = np.array([4.90, 7.90, 12.90])


def _cancel_chance(cycle: int, month: np.ndarray) -> np.ndarray:
    """Chance of cancelling before box ``cycle`` (the first box is cycle 0): high after the first boxes, and
    a summer wave when the box would come in July to September."""
    after_first = {1: 0.12, 2: 0.07, 3: 0.05}.get(cycle, 0.022)
    return after_first * np.where((month >= 7) & (month <= 9), 2.8, 1.0)


def _subscription(n: int, rng: np.random.Generator, start: np.datetime64) -> World:
    n_days = _days(start)
    existing = rng.random(n) < 0.6
    signup = np.where(existing, -rng.integers(30, 1500, n), rng.integers(0, n_days, n))
    signup_date = _dates(start, signup)
    signup_month = signup_date.astype("datetime64[M]")
    billing_day = np.minimum((signup_date - signup_month.astype("datetime64[D]")).astype(int), 27)
    plan = rng.choice(3, n, p=[0.5, 0.35, 0.15])

    alive = np.ones(n, dtype=bool)
    paused_until = np.full(n, -1)
    last_box = np.full(n, -NEVER)
    stop, cause = np.full(n, NEVER), np.full(n, "", dtype=object)
    boxes = []
    for cycle in range(int((n_days - signup.min()) / 28) + 2):
        due_month = signup_month + cycle
        due = np.where(cycle == 0, signup, (due_month.astype("datetime64[D]") + billing_day - start).astype(int))
        in_data = (due >= 0) & (due < n_days)
        month = due_month.astype(int) % 12 + 1
        if cycle > 0:
            cancels = alive & in_data & (rng.random(n) < _cancel_chance(cycle, month))
            # cancelled some days before the box would have been billed, after the last one was
            stop[cancels] = np.maximum(due[cancels] - rng.integers(0, 12, cancels.sum()), last_box[cancels] + 1)
            cause[cancels] = np.where(cycle <= 3, "after_first_boxes",
                                      np.where((month[cancels] >= 7) & (month[cancels] <= 9), "summer", "other"))
            alive &= ~cancels
            pauses = alive & in_data & (paused_until < cycle) & (rng.random(n) < 0.015)
            paused_until[pauses] = cycle + rng.integers(0, 2, pauses.sum())  # this box, maybe the next too
            skips = (paused_until >= cycle) | (rng.random(n) < 0.03)
        else:
            skips = np.zeros(n, dtype=bool)
        billed = np.flatnonzero(alive & in_data & ~skips)
        retried = np.where(rng.random(len(billed)) < 0.15, rng.integers(1, 4, len(billed)), 0)
        day = due[billed] + retried
        inside = day < n_days
        billed, day = billed[inside], day[inside]
        last_box[billed] = day
        boxes.append((billed, day))

    who = np.concatenate([b[0] for b in boxes])
    day = np.concatenate([b[1] for b in boxes])
    minute = rng.integers(0, 120, len(who))  # the billing run starts at 06:00 local time
    addon = rng.random(len(who)) < 0.25
    refund = rng.random(len(who)) < 0.015
    refund_day = day[refund] + rng.integers(2, 7, refund.sum())
    late = refund_day < n_days
    rows = {
        "customer": np.concatenate([who, who[addon], who[refund][late]]),
        "day": np.concatenate([day, day[addon], refund_day[late]]),
        "minute": np.concatenate([minute, minute[addon] + 1, rng.integers(120, 900, late.sum())]),
        "amount": np.concatenate([PLAN_PRICE[plan[who]], rng.choice(ADDON_PRICES, addon.sum()),
                                  -PLAN_PRICE[plan[who[refund][late]]]]),
        "category": np.concatenate([np.full(len(who), "box"), np.full(addon.sum(), "addon"),
                                    np.full(late.sum(), "box")]),
        "channel": np.concatenate([np.full(len(who), "auto_renewal"), np.full(addon.sum(), "app"),
                                   np.full(late.sum(), "support")]),
    }
    order = np.lexsort((rows["minute"], rows["day"]))
    rows = {k: v[order] for k, v in rows.items()}
    local = pd.Series(_dates(start, rows["day"]).astype("datetime64[s]")
                      + (6 * 60 + rows["minute"]).astype("timedelta64[m]"))
    stamped = local.dt.tz_localize("Europe/Berlin").dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    ids = np.array([f"sub_{(k * 2_654_435_761 + 97) % 2**32:08x}" for k in rng.permutation(n)])
    transactions = pd.DataFrame({
        "transaction_id": [f"ord_{k:08d}" for k in rng.permutation(len(order)) + 1],
        "customer_id": ids[rows["customer"]],
        "timestamp": stamped.str[:-2] + ":" + stamped.str[-2:],  # +0100 -> +01:00 (ISO 8601 extended)
        "amount": np.round(rows["amount"], 2),
        "category": rows["category"],
        "channel": rows["channel"],
    })
    customers = pd.DataFrame({
        "customer_id": ids,
        "signup_date": pd.to_datetime(signup_date),
        "segment": PLANS[plan],
    })
    return World({"transactions": transactions, "customers": customers}, _truth(ids, start, stop, cause))


SIMULATE = {"retail": _retail, "b2b": _b2b, "subscription": _subscription}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=18)
    args = parser.parse_args()
    began = time.perf_counter()
    world = write_independent_world(args.out, args.kind, args.customers, args.seed, args.months)
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in world.tables.items())
    stopped = (world.truth["stop_date"] != "").mean()
    print(f"{args.kind} world in {args.out}: {rows} rows; {stopped:.0%} of customers stopped; "
          f"{time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
