"""Price sensitivity: promotion share, discount depth, and how a customer meets a rise of the list price.

List-price rises are detected per product category from the data itself (a cross-customer statistic, computed
once per as_of in :func:`category_price_rises` and passed to the builders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.aggregate import (
    customer_key,
    customer_series,
    label_codes,
    per_customer,
    reduce_by_customer,
)
from features.cutoff import NS_PER_DAY, window_rows
from features.kernels import repeat_change_sums, trend_ratio
from features.memo import per_frame
from features.tables import as_timestamp


@per_frame
def _window_purchases(transactions: pd.DataFrame, as_of, window_days: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The transactions of the last ``window_days`` and which of them are purchases."""
    recent = window_rows(transactions, "timestamp", end=as_of, days=window_days)
    return recent, recent["amount"].to_numpy() > 0


def promo_share(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Share of gross purchase amount in the last ``window_days`` bought on promotion (NA = not promo)."""
    recent, purchases = _window_purchases(transactions, as_of, window_days)
    key = customer_key(recent["customer_id"])
    amount = recent["amount"].to_numpy()
    on_promo = recent["promo"].to_numpy(dtype=bool, na_value=False)
    gross, n_purchases = reduce_by_customer(key, amount, how="sum", where=purchases)
    promo_amount, _ = reduce_by_customer(key, amount, how="sum", where=purchases & on_promo)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = promo_amount / gross
    return customer_series(key, share, n_purchases > 0, name=f"promo_share_{window_days}d")


def discount_depth(transactions: pd.DataFrame, *, as_of, window_days: int) -> pd.Series:
    """Mean discount ``1 - amount / list_amount`` (clipped to 0..1) over purchases with a list amount > 0."""
    recent, purchases = _window_purchases(transactions, as_of, window_days)
    list_amount = recent["list_amount"].to_numpy(dtype="float64", na_value=np.nan)
    amount = recent["amount"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.clip(1.0 - amount / list_amount, 0.0, 1.0)
    return per_customer(
        recent["customer_id"],
        depth,
        how="mean",
        where=purchases & (list_amount > 0),
        name=f"discount_depth_{window_days}d",
    )


# Summed log price changes are kept in fixed point (integer ticks of 2**-30, about 1e-9), so sums over customer
# buckets are exact in any order and a bucketed run detects exactly the rises of a whole run.
PRICE_TICKS_PER_UNIT = 2**30
PRICE_CELL_COLUMNS = ("category", "periods_back", "n_ratios", "change_ticks")


def price_change_cells(transactions: pd.DataFrame, *, as_of, period_days: int, history_days: int) -> pd.DataFrame:
    """Per category and period back from as_of: how many repeat purchases compare a unit list price with the same
    customer's previous one in that category, and the sum of their log price ratios (in ticks).

    Cells of several groups of customers add up (:func:`combine_price_cells`) to the cells of all of them.
    Periods are half-open like every window: period k is [as_of - (k + 1) * period, as_of - k * period).
    """
    as_of = as_timestamp(as_of)
    transactions = window_rows(transactions, "timestamp", end=as_of, days=history_days)
    list_amount = transactions["list_amount"].to_numpy(dtype="float64", na_value=np.nan)
    quantity = transactions["quantity"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # no list amount or quantity > 0: not finite, unused
        log_price = np.log(list_amount / quantity)
    key = customer_key(transactions["customer_id"])
    category_codes, categories = label_codes(transactions["category"])
    stamps = transactions["timestamp"].to_numpy(dtype="datetime64[ns]").view("i8")
    customers = key.codes
    if np.any(stamps[1:] < stamps[:-1]):  # prepared tables are in time order already
        order = np.argsort(stamps, kind="stable")
        customers, category_codes, stamps, log_price = (a[order] for a in (customers, category_codes, stamps, log_price))
    n_periods = -(-history_days // period_days)
    n_ratios, change = repeat_change_sums(
        customers,
        category_codes,
        stamps,
        log_price,
        key.n,
        len(categories),
        end=as_of.value,
        period=period_days * NS_PER_DAY,
        n_periods=n_periods,
        scale=PRICE_TICKS_PER_UNIT,
    )
    seen = np.flatnonzero(n_ratios)
    return pd.DataFrame(
        {
            "category": pd.array(pd.Index(categories).astype("str").take(seen // n_periods), dtype="str"),
            "periods_back": seen % n_periods,
            "n_ratios": n_ratios[seen],
            "change_ticks": change[seen],
        }
    )


def combine_price_cells(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The cells of several groups of customers added up (exact: integer sums)."""
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(PRICE_CELL_COLUMNS))
    summed = cells.groupby(["category", "periods_back"], sort=True)[["n_ratios", "change_ticks"]].sum()
    return summed.reset_index()


def price_rises_from_cells(
    cells: pd.DataFrame, *, as_of, period_days: int, min_share: float, lookback_days: int, min_observations: int
) -> pd.Series:
    """Start date of each category's latest list-price rise within ``lookback_days`` (others absent).

    A period whose mean log price ratio is at least ``log(1 + min_share)`` over at least ``min_observations``
    ratios is a rise, dated at the period's start.
    """
    as_of = as_timestamp(as_of)
    n_ratios = cells["n_ratios"].to_numpy(dtype="int64")
    mean_change = cells["change_ticks"].to_numpy(dtype="float64") / PRICE_TICKS_PER_UNIT / np.maximum(n_ratios, 1)
    rose = (n_ratios >= min_observations) & (mean_change >= np.log1p(min_share))
    starts = as_of.value - (cells["periods_back"].to_numpy(dtype="int64") + 1) * period_days * NS_PER_DAY
    recent = rose & (starts >= as_of.value - lookback_days * NS_PER_DAY)
    rises = pd.Series(starts[recent], index=pd.Index(cells["category"].to_numpy()[recent], dtype="str"))
    latest = rises.groupby(level=0).max()
    return pd.Series(
        latest.to_numpy(dtype="int64").astype("datetime64[ns]"),
        index=pd.Index(latest.index, dtype="str", name="category"),
        name="price_rise_date",
    )


def category_price_rises(
    transactions: pd.DataFrame,
    *,
    as_of,
    period_days: int,
    history_days: int,
    min_share: float,
    lookback_days: int,
    min_observations: int,
) -> pd.Series:
    """Start date of each category's latest list-price rise within ``lookback_days`` (others absent).

    Each purchase's unit list price (list_amount / quantity) is compared with the same customer's previous
    purchase in the same category, so the mix of customers (who pay very different prices) cancels out. The
    mean log price ratio of a category's purchases in a period (``period_days`` blocks counted back from
    as_of, over ``history_days``) is its price change then; a change of at least ``log(1 + min_share)`` over
    at least ``min_observations`` ratios is a rise, dated at the period's start. Without quantity, list_amount
    or category nothing is detected.
    """
    cells = price_change_cells(transactions, as_of=as_of, period_days=period_days, history_days=history_days)
    return price_rises_from_cells(
        combine_price_cells([cells]),
        as_of=as_of,
        period_days=period_days,
        min_share=min_share,
        lookback_days=lookback_days,
        min_observations=min_observations,
    )


def _rise_dates(transactions: pd.DataFrame, price_rises: pd.Series) -> np.ndarray:
    """Per transaction, the latest rise date of its category as int64 ns (NaT value where none)."""
    # label codes + take: Series.map on a long string column is an order of magnitude slower.
    codes, categories = label_codes(transactions["category"])
    by_category = price_rises.reindex(pd.Index(categories, dtype="str")).to_numpy(dtype="datetime64[ns]")
    return np.append(by_category, np.datetime64("NaT", "ns"))[codes].view("i8")


def price_rise_exposure_share(
    transactions: pd.DataFrame, price_rises: pd.Series, *, as_of, window_days: int
) -> pd.Series:
    """Share of gross purchase amount in the last ``window_days`` in categories whose list price just rose."""
    if price_rises.empty:
        return pd.Series(dtype="float64", name="price_rise_exposure_share")
    recent, purchases = _window_purchases(transactions, as_of, window_days)
    key = customer_key(recent["customer_id"])
    amount = recent["amount"].to_numpy()
    codes, categories = label_codes(recent["category"])
    rising = np.zeros(len(categories) + 1, dtype=bool)  # the last slot: NA (code -1), never repriced
    rising[:-1] = pd.Index(categories).astype("str").isin(price_rises.index)
    exposed = rising[codes]
    gross, n_purchases = reduce_by_customer(key, amount, how="sum", where=purchases)
    exposed_amount, _ = reduce_by_customer(key, amount, how="sum", where=purchases & exposed)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = exposed_amount / gross
    return customer_series(key, share, n_purchases > 0, name="price_rise_exposure_share")


def spend_trend_since_price_rise(
    transactions: pd.DataFrame, price_rises: pd.Series, *, as_of, cap: float
) -> pd.Series:
    """Net spend in repriced categories since their rise over the same span just before it (1.0 = flat).

    For a rise at date R the span is [R, as_of) against [R - (as_of - R), R); floored at 0, capped at ``cap``.
    """
    if price_rises.empty:
        return pd.Series(dtype="float64", name="spend_trend_since_price_rise")
    as_of = as_timestamp(as_of)
    earliest = 2 * price_rises.to_numpy(dtype="datetime64[ns]").view("i8").min() - as_of.value
    transactions = window_rows(transactions, "timestamp", end=as_of, days=(as_of.value - earliest) / NS_PER_DAY)
    key = customer_key(transactions["customer_id"])
    amount = transactions["amount"].to_numpy()
    rise = _rise_dates(transactions, price_rises)
    repriced = rise != np.iinfo("int64").min
    stamps = transactions["timestamp"].to_numpy(dtype="datetime64[ns]").view("i8")
    span = as_of.value - rise
    after = repriced & (stamps >= rise)
    before = repriced & (stamps < rise) & (stamps >= rise - span)
    spend_after, n_after = reduce_by_customer(key, amount, how="sum", where=after)
    spend_before, n_before = reduce_by_customer(key, amount, how="sum", where=before)
    trend = trend_ratio(np.maximum(spend_after, 0.0), np.maximum(spend_before, 0.0), cap)
    return customer_series(key, trend, n_after + n_before > 0, name="spend_trend_since_price_rise")


# A category's list-price index: every pair of a customer's consecutive purchase days in a category compares their
# unit list prices (the day's mean log price) and covers the days between them. Summed over all customers, the log
# changes of a period over the customer-days they cover is the category's price drift per day then; integrated
# over a span it is the span's price change (a rise shows once however often customers buy). Integer sums (ticks,
# seconds), so buckets add up exactly to a whole run.
PRICE_INDEX_COLUMNS = ("category", "periods_back", "n_pairs", "change_ticks", "covered_seconds")


def price_index_cells(transactions: pd.DataFrame, *, as_of, period_days: int, history_days: int) -> pd.DataFrame:
    """Per category and period back from ``as_of`` (period k is [as_of - (k + 1) * period, as_of - k * period)):
    the pairs of a customer's consecutive purchase days in the category whose later day falls in the period, the
    sum of their log unit-list-price changes (ticks) and of the time between their days (seconds).

    Purchases (amount > 0) with a positive unit list price (list_amount / quantity) and a category only; each
    customer's purchase days in a category are one price (the mean log unit price that day), so items of different
    price bought on one day are no change. Cells of groups of customers add up (:func:`combine_price_index_cells`).
    """
    as_of = as_timestamp(as_of)
    rows = window_rows(transactions, "timestamp", end=as_of, days=history_days)
    empty = pd.DataFrame({"category": pd.Series(dtype="str"), "periods_back": pd.Series(dtype="int64"),
                          "n_pairs": pd.Series(dtype="int64"), "change_ticks": pd.Series(dtype="int64"),
                          "covered_seconds": pd.Series(dtype="int64")})
    if not {"list_amount", "quantity", "category"} <= set(rows.columns) or rows.empty:
        return empty
    list_amount = rows["list_amount"].to_numpy(dtype="float64", na_value=np.nan)
    quantity = rows["quantity"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_price = np.log(list_amount / quantity)
    usable = (rows["amount"].to_numpy() > 0) & np.isfinite(log_price) & rows["category"].notna().to_numpy()
    if not usable.any():
        return empty
    stamps = rows["timestamp"].to_numpy(dtype="datetime64[ns]").view("i8")[usable]
    category_codes, categories = label_codes(rows["category"])
    customer, day, category, mean_log_price = _purchase_days(
        customer_key(rows["customer_id"]).codes[usable], category_codes[usable],
        (stamps - as_of.value) // NS_PER_DAY,  # negative: days before as_of
        log_price[usable], len(categories),
    )
    later = np.flatnonzero((customer[1:] == customer[:-1]) & (category[1:] == category[:-1])) + 1
    if len(later) == 0:
        return empty
    change = np.rint((mean_log_price[later] - mean_log_price[later - 1]) * PRICE_TICKS_PER_UNIT).astype("int64")
    pairs = pd.DataFrame({
        "category": pd.Index(categories).astype("str").to_numpy()[category[later]],
        "periods_back": (-day[later] - 1) // period_days,
        "n_pairs": 1,
        "change_ticks": change,
        "covered_seconds": (day[later] - day[later - 1]) * 86_400,
    })
    return combine_price_index_cells([pairs])


def _purchase_days(customer: np.ndarray, category: np.ndarray, day: np.ndarray, log_price: np.ndarray,
                   n_categories: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each (customer, category, day) once, in that order, with the mean log price of its rows: one sort of a
    single integer key (a groupby on three columns took seconds on millions of rows)."""
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    key = (customer.astype(np.int64) * n_categories + category.astype(np.int64)) * span + (day - first_day)
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=log_price, minlength=len(unique)) / counts
    customer_category, day_offset = np.divmod(unique, span)
    return customer_category // n_categories, day_offset + first_day, customer_category % n_categories, mean


def combine_price_index_cells(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Price-index cells of several groups of customers added up (exact: integer sums)."""
    cells = pd.concat(parts, ignore_index=True)
    summed = cells.groupby(["category", "periods_back"], sort=True)[["n_pairs", "change_ticks", "covered_seconds"]]
    summed = summed.sum().reset_index()
    return summed.astype({"category": "str", "periods_back": "int64", "n_pairs": "int64", "change_ticks": "int64",
                          "covered_seconds": "int64"})


def category_price_drift(cells: pd.DataFrame, *, min_observations: int) -> pd.DataFrame:
    """Per category (rows) and period back (columns 0..): the log list-price change per day in that period; 0 where
    fewer than ``min_observations`` pairs end in it (too few to tell)."""
    n_periods = int(cells["periods_back"].max()) + 1 if len(cells) else 0
    drift = pd.DataFrame(0.0, index=pd.Index(sorted(set(cells["category"])), dtype="str", name="category"),
                         columns=range(n_periods))
    known = cells[(cells["n_pairs"] >= min_observations) & (cells["covered_seconds"] > 0)]
    per_day = (known["change_ticks"] / PRICE_TICKS_PER_UNIT) / (known["covered_seconds"] / 86_400)
    for category, back, value in zip(known["category"], known["periods_back"], per_day, strict=True):
        drift.loc[category, back] = value
    return drift
