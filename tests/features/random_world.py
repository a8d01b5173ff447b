"""Small random worlds around T with events piled on window boundaries, and their futures rewritten."""

from __future__ import annotations

import numpy as np
import pandas as pd

T = pd.Timestamp("2024-04-01")
DAY = pd.Timedelta(days=1)
BOUNDARIES = np.array([0, -1, -7, -14, -28, -42, -56, -60])  # days from T where windows start or end


def _times(rng, n: int, low: int, high: int) -> pd.DatetimeIndex:
    """Times at low..high days from T; a third exactly on a boundary, some at odd hours, some 1 ns before."""
    days = np.where(rng.random(n) < 0.35, rng.choice(BOUNDARIES, n), rng.integers(low, high, n)).astype(
        "int64"
    )
    hours = rng.choice([0, 0, 0, 6, 23], n)
    nudge = np.where(rng.random(n) < 0.15, -1, 0)
    return pd.DatetimeIndex(
        T + pd.to_timedelta(days, "D") + pd.to_timedelta(hours, "h") + pd.to_timedelta(nudge, "ns")
    )


def _maybe(rng, values: np.ndarray, share_na: float) -> list:
    return [None if na else v for v, na in zip(values.tolist(), rng.random(len(values)) < share_na)]


def _transactions(rng, ids, n, low, high) -> pd.DataFrame:
    amount = np.round(rng.uniform(1, 200, n), 2) * rng.choice([1, 1, 1, 1, 1, -1, 0], n)
    return pd.DataFrame(
        {
            "customer_id": rng.choice(ids, n),
            "timestamp": _times(rng, n, low, high),
            "amount": amount,
            "quantity": _maybe(rng, rng.integers(1, 5, n).astype(float), 0.2),
            "list_amount": _maybe(rng, np.abs(amount) * rng.choice([1.0, 1.0, 1.25, 1.5], n), 0.2),
            "promo": pd.array(_maybe(rng, rng.random(n) < 0.4, 0.2), dtype="boolean"),
            "category": _maybe(rng, rng.choice(["food", "tools", "garden"], n), 0.15),
        }
    )


def _complaints(rng, ids, n, low, high) -> pd.DataFrame:
    opened = _times(rng, n, low, high)
    resolved = opened + pd.to_timedelta(rng.integers(0, 30 * 24, n), "h")
    return pd.DataFrame(
        {
            "customer_id": rng.choice(ids, n),
            "opened_at": opened,
            "resolved_at": resolved.where(rng.random(n) < 0.7),
            "category": _maybe(rng, rng.choice(["service", "price", "billing", "weird"], n), 0.2),
            "satisfaction": pd.array(_maybe(rng, rng.integers(1, 6, n), 0.3), dtype="Int64"),
        }
    )


def _visits(rng, ids, n, low, high) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": rng.choice(ids, n),
            "timestamp": _times(rng, n, low, high),
            "channel": _maybe(rng, rng.choice(["web", "app", "store", "sales_visit"], n), 0.1),
        }
    )


def random_world(seed: int, n_customers: int = 6) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i}" for i in range(n_customers)])
    n = n_customers
    return {
        "transactions": _transactions(rng, ids, int(rng.integers(5, 8 * n)), -70, 25),
        "customers": pd.DataFrame(
            {
                "customer_id": ids,
                "signup_date": _times(rng, n, -400, 10).where(rng.random(n) < 0.7),
                "segment": _maybe(rng, rng.choice(["x", "y"], n), 0.3),
                "account_manager_id": _maybe(rng, rng.choice(["m1", "m2", "m3"], n), 0.3),
                "wallet_estimate": _maybe(rng, rng.uniform(0, 2000, n), 0.7),
            }
        ),
        "complaints": _complaints(rng, ids, int(rng.integers(0, 2 * n)), -60, 20),
        "visits": _visits(rng, ids, int(rng.integers(0, 5 * n)), -60, 20),
        "account_managers": pd.DataFrame(
            {
                "account_manager_id": ["m1", "m2", "m3"],
                "departed_at": _times(rng, 3, -60, 20).where(rng.random(3) < 0.7),
            }
        ),
    }


def rewrite_future(
    frames: dict[str, pd.DataFrame], seed: int, *, drop_only: bool = False
) -> dict[str, pd.DataFrame]:
    """The same world before T; everything at or after T removed, and (unless drop_only) new random future.

    Future here: events at or after T (new customers included), resolutions and their ratings at or after T of
    complaints opened before T, departures at or after T, signups at or after T.
    """
    rng = np.random.default_rng(seed)
    ids = np.array(list(frames["customers"]["customer_id"]) + ["newcomer"])
    out = {name: frame.copy() for name, frame in frames.items()}

    def keep_past(name, column, extra):
        past = out[name][out[name][column] < T]
        extra[column] = extra[column].where(extra[column] >= T, T)  # boundary picks may land before T
        return past if drop_only else pd.concat([past, extra], ignore_index=True)

    n = int(rng.integers(0, 10))
    out["transactions"] = keep_past("transactions", "timestamp", _transactions(rng, ids, n, 0, 30))
    out["visits"] = keep_past("visits", "timestamp", _visits(rng, ids, n, 0, 30))
    out["complaints"] = keep_past("complaints", "opened_at", _complaints(rng, ids, n, 0, 30))
    c = out["complaints"]
    unresolved_at_t = (c["opened_at"] < T) & ~(c["resolved_at"] < T)
    k = int(unresolved_at_t.sum())
    new_resolution = (T + pd.to_timedelta(rng.integers(0, 20 * 24, k), "h")).where(rng.random(k) < 0.6)
    c.loc[unresolved_at_t, "resolved_at"] = new_resolution
    c.loc[unresolved_at_t, "satisfaction"] = pd.array(rng.integers(1, 6, k), dtype="Int64")
    m = out["account_managers"]
    not_gone = ~(m["departed_at"] < T)
    m.loc[not_gone, "departed_at"] = (
        T + pd.to_timedelta(rng.integers(0, 30, int(not_gone.sum())), "D")
    ).where(rng.random(int(not_gone.sum())) < 0.5)
    cu = out["customers"]
    future_signup = cu["signup_date"] >= T
    cu.loc[future_signup, "signup_date"] = T + pd.to_timedelta(
        rng.integers(0, 30, int(future_signup.sum())), "D"
    )
    return out
