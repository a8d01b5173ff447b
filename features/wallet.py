"""Share of wallet: own spend against the customer's potential (known wallet, else the peer group's high
quantile), and against the customer's own past peak.

Peer-group wallets are a cross-customer statistic: :func:`peer_group_wallets` computes them once per as_of on
the same pre-cutoff slice, and the builders receive them as arguments (so customer buckets agree).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.aggregate import (
    customer_key,
    customer_series,
    reduce_by_customer,
    shared_customer_key,
    text_filled,
)
from features.cutoff import window_positions

UNKNOWN_GROUP = "unknown"


def peer_groups(customers: pd.DataFrame, peer_group_column: str) -> pd.Series:
    """Each customer's peer group as str; NA becomes "unknown"."""
    if peer_group_column not in customers.columns:
        raise ValueError(
            f"peer_group_column {peer_group_column!r} is not a column of the customers table; "
            "set features.peer_group_column to one of: " + ", ".join(map(str, customers.columns))
        )
    return text_filled(customers[peer_group_column], UNKNOWN_GROUP)


def _net_spend(transactions: pd.DataFrame, as_of, window_days: int, key) -> tuple[np.ndarray, np.ndarray]:
    """Net spend per customer of ``key`` (codes of ``transactions``' rows) in the last ``window_days``."""
    rows = window_positions(transactions, "timestamp", end=as_of, days=window_days)
    amount = transactions["amount"].to_numpy()[rows]
    return reduce_by_customer(key._replace(codes=key.codes[rows]), amount, how="sum")


def peer_group_spend(
    transactions: pd.DataFrame, customers: pd.DataFrame, *, as_of, window_days: int, peer_group_column: str
) -> pd.DataFrame:
    """Each customer with a positive net spend in the last ``window_days``: their peer group and that spend.

    Rows of several groups of customers, concatenated, are the rows of all of them (each customer is in one group).
    """
    by_customer, by_transaction = shared_customer_key(customers["customer_id"], transactions["customer_id"])
    spent, _ = _net_spend(transactions, as_of, window_days, by_transaction)
    group_codes, names = pd.factorize(
        pd.concat([peer_groups(customers, peer_group_column), pd.Series([UNKNOWN_GROUP])])
    )
    group = np.full(by_customer.n, group_codes[-1])  # customers missing from the customers table: "unknown"
    group[by_customer.codes] = group_codes[:-1]
    spenders = spent > 0
    # Each spender's group name taken from the few names by Arrow (no Python string object per spender).
    peer_group = pa.array(pd.Index(names).astype("str").array).take(group[spenders])
    return pd.DataFrame({"peer_group": pd.array(peer_group, dtype="str"), "spend": spent[spenders]})


def peer_group_wallets_from_spend(
    spend: pd.DataFrame, *, peer_group_column: str, quantile: float, min_group_size: int
) -> tuple[pd.Series, float]:
    """The ``quantile`` of the spends per peer group (groups of at least ``min_group_size``), and over everyone.

    Quantiles depend only on the values, not on their order, so any split of the customers gives the same result.
    """
    codes, names = pd.factorize(spend["peer_group"])  # grouped by integer codes, not by Python strings
    by_group = spend["spend"].groupby(codes)
    wallets = by_group.quantile(quantile)[by_group.size() >= min_group_size]
    overall = float(spend["spend"].quantile(quantile)) if len(spend) else float("nan")
    index = pd.Index(pd.Index(names).astype("str").take(wallets.index), dtype="str", name=peer_group_column)
    return pd.Series(wallets.to_numpy(dtype="float64"), index=index, name="wallet").sort_index(), overall


def peer_group_wallets(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of,
    window_days: int,
    peer_group_column: str,
    quantile: float,
    min_group_size: int,
) -> tuple[pd.Series, float]:
    """The ``quantile`` of net spend in the last ``window_days`` per peer group, and over all customers.

    Only customers with a positive net spend count. Groups with fewer than ``min_group_size`` such customers
    are left out (their members fall back to the overall value); the overall value is NaN when nobody spent.
    """
    spend = peer_group_spend(
        transactions, customers, as_of=as_of, window_days=window_days, peer_group_column=peer_group_column
    )
    return peer_group_wallets_from_spend(
        spend, peer_group_column=peer_group_column, quantile=quantile, min_group_size=min_group_size
    )


def share_of_wallet(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    peer_wallets: pd.Series,
    overall_wallet: float,
    *,
    as_of,
    window_days: int,
    peer_group_column: str,
) -> pd.Series:
    """Net spend in the last ``window_days`` (floored at 0) as a share of the wallet, capped at 1.0.

    Wallet = customers.wallet_estimate when > 0, else the peer group's wallet, else the overall one.
    """
    by_customer, by_transaction = shared_customer_key(customers["customer_id"], transactions["customer_id"])
    spent, n_rows = _net_spend(transactions, as_of, window_days, by_transaction)
    fallback = float(peer_wallets.get(UNKNOWN_GROUP, overall_wallet))
    wallet = np.full(by_customer.n, fallback)
    group_codes, group_names = pd.factorize(peer_groups(customers, peer_group_column))
    peer = peer_wallets.reindex(pd.Index(group_names, dtype="str")).to_numpy(dtype="float64")[group_codes]
    known = customers["wallet_estimate"].to_numpy(dtype="float64", na_value=np.nan)
    peer[np.isnan(peer)] = overall_wallet  # masks, not np.where with a scalar: numpy's slow general path
    wallet[by_customer.codes] = np.where(known > 0, known, peer)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.minimum(np.maximum(spent, 0.0) / wallet, 1.0)
    share[~(wallet > 0)] = 0.0
    return customer_series(by_transaction, share, n_rows > 0, name=f"share_of_wallet_{window_days}d")


def spend_vs_peak_ratio(
    transactions: pd.DataFrame, *, as_of, window_days: int, lookback_days: int
) -> pd.Series:
    """Net spend of the last ``window_days`` over the best such window in ``lookback_days`` (1.0 = at peak).

    Windows are consecutive, counted back from as_of (lookback_days // window_days of them); spends are
    floored at 0; with no positive spend in any window the ratio is 1.0.
    """
    key = customer_key(transactions["customer_id"])
    window = pd.Timedelta(days=window_days)
    spends, counts = zip(
        *(
            _net_spend(transactions, pd.Timestamp(as_of) - k * window, window_days, key)
            for k in range(lookback_days // window_days)
        )
    )
    spends = np.maximum(np.vstack(spends), 0.0)
    peak = spends.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = spends[0] / peak
    ratio[~(peak > 0)] = 1.0
    return customer_series(key, ratio, np.sum(counts, axis=0) > 0, name="spend_vs_peak_ratio")
