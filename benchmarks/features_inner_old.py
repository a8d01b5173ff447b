"""Speed and memory of the full feature table at one as_of, bucketed, against a DuckDB SQL reference.

Generates a world with numpy (1,000,000 customers, 10,000,000 transactions, 300,000 complaints and 5,000,000
visits at --scale 1), builds the feature table with the bucketed path, then runs a DuckDB query computing a
comparable core subset (recency, purchase counts and spend by window, promo share, discount depth, complaint
and visit counts). Prints wall times, their ratio and peak resident memory of each step.

    .venv/bin/python -m benchmarks.features_inner_old [--scale 1.0] [--buckets 16]   # from the repository root

(Run it as a module: as a script, its own name would shadow the ``features`` package.)

Each engine first runs once on a tiny world (the one-time start-up of a process, e.g. numba loading its compiled
loops, is printed apart), then on the big one. Peak memory is the process's VmHWM, reset through
/proc/self/clear_refs after the data is generated, so it is the data plus what the step itself needs (Linux only).
"""

from __future__ import annotations

import argparse
import gc
import platform
import time

import duckdb
import numpy as np
import pandas as pd

from features import ChurnDefinition, FeatureSettings, build_feature_table_bucketed, make_tables

AS_OF = pd.Timestamp("2024-07-01")
HISTORY_DAYS = 730
FUTURE_DAYS = 60  # events after as_of, which the features must ignore
NS_PER_DAY = 86_400 * 10**9
CATEGORIES = np.array(["food", "drinks", "tools", "garden", "toys", "books", "health", "office"])
SEGMENTS = np.array(["retail", "wholesale", "online", "enterprise", "smb", "public"])


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), 7)).astype(object)


def _times(rng, n: int) -> np.ndarray:
    """Sorted timestamps over the history before AS_OF and a little after it (logs arrive in time order)."""
    start = (AS_OF - pd.Timedelta(days=HISTORY_DAYS)).value
    span = (HISTORY_DAYS + FUTURE_DAYS) * NS_PER_DAY
    return np.sort(rng.integers(start, start + span, n)).astype("datetime64[ns]")


def _strings(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def generate(n_customers: int, n_transactions: int, n_complaints: int, n_visits: int, seed: int = 0):
    """A contract-shaped world; activity per customer is skewed (gamma weights)."""
    rng = np.random.default_rng(seed)
    customer_ids = _ids("C", n_customers)
    weights = rng.gamma(0.7, 1.0, n_customers)
    weights /= weights.sum()

    def pick(n):
        return _strings(customer_ids[rng.choice(n_customers, n, p=weights)])

    n_managers = 2_000
    manager_ids = _ids("M", n_managers)
    departed = np.where(
        rng.random(n_managers) < 0.1,
        (AS_OF - pd.to_timedelta(rng.integers(-30, 400, n_managers), unit="D")).to_numpy(),
        np.datetime64("NaT"),
    )
    customers = pd.DataFrame(
        {
            "customer_id": _strings(customer_ids),
            "signup_date": (
                AS_OF - pd.to_timedelta(rng.integers(30, 1500, n_customers), unit="D")
            ).to_numpy(),
            "segment": _strings(
                np.where(rng.random(n_customers) < 0.95, SEGMENTS[rng.integers(0, 6, n_customers)], None)
            ),
            "account_manager_id": _strings(
                np.where(
                    rng.random(n_customers) < 0.7, manager_ids[rng.integers(0, n_managers, n_customers)], None
                )
            ),
            "wallet_estimate": np.where(
                rng.random(n_customers) < 0.2, rng.gamma(2.0, 2_000.0, n_customers), np.nan
            ),
        }
    )

    stamps = _times(rng, n_transactions)
    category = rng.integers(0, len(CATEGORIES), n_transactions)
    # Half the categories get a 4-8% list-price rise 60 days before as_of.
    rise = np.where(
        (category % 2 == 0) & (stamps >= (AS_OF - pd.Timedelta(days=60)).to_datetime64()),
        1.04 + 0.01 * category,
        1.0,
    )
    quantity = rng.integers(1, 10, n_transactions).astype("float64")
    list_amount = np.round(quantity * (5.0 + 3.0 * category) * rise, 2)
    promo = rng.random(n_transactions) < 0.25
    paid = list_amount * np.where(promo, 1.0 - rng.uniform(0.1, 0.3, n_transactions), 1.0)
    returned = rng.random(n_transactions) < 0.03
    transactions = pd.DataFrame(
        {
            "customer_id": pick(n_transactions),
            "timestamp": stamps,
            "amount": np.where(returned, -paid, paid),
            "quantity": quantity,
            "list_amount": list_amount,
            "promo": pd.array(promo, dtype="boolean"),
            "category": _strings(CATEGORIES[category]),
            "channel": _strings(
                np.array(["store", "web", "app", "phone"])[rng.integers(0, 4, n_transactions)]
            ),
        }
    )

    opened = _times(rng, n_complaints)
    resolved = rng.random(n_complaints) < 0.85
    complaints = pd.DataFrame(
        {
            "customer_id": pick(n_complaints),
            "opened_at": opened,
            "resolved_at": np.where(
                resolved,
                opened + (rng.exponential(5.0, n_complaints) * NS_PER_DAY).astype("timedelta64[ns]"),
                np.datetime64("NaT"),
            ),
            "category": _strings(
                np.array(["product_quality", "service", "price", "delivery", "billing", "misc"])[
                    rng.integers(0, 6, n_complaints)
                ]
            ),
            "severity": pd.array(rng.integers(1, 6, n_complaints), dtype="Int64"),
            "satisfaction": pd.Series(rng.integers(1, 6, n_complaints), dtype="Int64").where(resolved),
        }
    )
    visits = pd.DataFrame(
        {
            "customer_id": pick(n_visits),
            "timestamp": _times(rng, n_visits),
            "channel": _strings(
                np.array(["store", "web", "app", "call", "sales_visit"])[rng.integers(0, 5, n_visits)]
            ),
            "duration_s": rng.exponential(300.0, n_visits),
        }
    )
    account_managers = pd.DataFrame({"account_manager_id": _strings(manager_ids), "departed_at": departed})
    return make_tables(
        {
            "transactions": transactions,
            "customers": customers,
            "complaints": complaints,
            "visits": visits,
            "account_managers": account_managers,
        }
    )


DUCKDB_CORE = """
WITH tx AS (
    SELECT customer_id,
        date_diff('day', max(timestamp) FILTER (WHERE amount > 0), $as_of) AS days_since_last_purchase,
        {counts_and_spend},
        sum(amount) FILTER (WHERE amount > 0 AND promo AND timestamp >= $as_of - INTERVAL 365 DAY)
            / sum(amount) FILTER (WHERE amount > 0 AND timestamp >= $as_of - INTERVAL 365 DAY)
            AS promo_share_365d,
        avg(greatest(least(1 - amount / list_amount, 1), 0))
            FILTER (WHERE amount > 0 AND list_amount > 0 AND timestamp >= $as_of - INTERVAL 365 DAY)
            AS discount_depth_365d
    FROM transactions WHERE timestamp < $as_of
    GROUP BY customer_id
    HAVING count(*) FILTER (WHERE amount > 0 AND timestamp >= $as_of - INTERVAL 90 DAY) > 0
), co AS (
    SELECT customer_id, {complaint_counts} FROM complaints WHERE opened_at < $as_of GROUP BY customer_id
), vi AS (
    SELECT customer_id, {visit_counts} FROM visits WHERE timestamp < $as_of GROUP BY customer_id
)
SELECT * FROM tx LEFT JOIN co USING (customer_id) LEFT JOIN vi USING (customer_id) ORDER BY customer_id
"""


def duckdb_core(tables, windows) -> pd.DataFrame:
    """The core subset in SQL, as a pandas frame (absent counts filled with 0, like the defaults)."""

    def counts(column, name):
        return ", ".join(
            f"count(*) FILTER (WHERE {column} >= $as_of - INTERVAL {w} DAY) AS {name}_{w}d" for w in windows
        )

    counts_and_spend = ", ".join(
        f"count(*) FILTER (WHERE amount > 0 AND timestamp >= $as_of - INTERVAL {w} DAY) "
        f"AS purchase_count_{w}d, "
        f"coalesce(sum(amount) FILTER (WHERE timestamp >= $as_of - INTERVAL {w} DAY), 0) AS spend_{w}d"
        for w in windows
    )
    sql = DUCKDB_CORE.format(
        counts_and_spend=counts_and_spend,
        complaint_counts=counts("opened_at", "complaint_count"),
        visit_counts=counts("timestamp", "visit_count"),
    )
    con = duckdb.connect()
    for name in ("transactions", "complaints", "visits"):
        con.register(name, getattr(tables, name))
    result = con.execute(sql, {"as_of": AS_OF.to_pydatetime()}).df()
    con.close()
    return result.fillna(0)


def _reset_peak() -> None:
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _memory_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field))
    return int(line.split()[1]) / 1024


def timed(step, *args):
    _reset_peak()
    start = time.perf_counter()
    result = step(*args)
    return result, time.perf_counter() - start, _memory_mb("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--buckets", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(n * args.scale) for n in (1_000_000, 10_000_000, 300_000, 5_000_000)]
    start = time.perf_counter()
    tables = generate(*sizes)
    print(
        f"generated {sizes} (customers, transactions, complaints, visits) "
        f"in {time.perf_counter() - start:.1f}s"
    )
    _reset_peak()
    print(f"data resident: {_memory_mb('VmRSS'):.0f} MB")

    settings, churn = FeatureSettings(), ChurnDefinition()
    # Both engines first run once on a tiny world, so the figures below are the work on the big one: what a
    # process pays once (numba loading its compiled loops from the cache, DuckDB's first query) is printed apart.
    tiny = generate(1_000, 10_000, 300, 5_000, seed=1)
    _, features_startup_s, _ = timed(build_feature_table_bucketed, tiny, AS_OF, settings, churn, args.buckets)
    _, duck_startup_s, _ = timed(duckdb_core, tiny, settings.windows_days)
    print(f"start-up (first call in the process, tiny world): features {features_startup_s:.1f}s, "
          f"duckdb {duck_startup_s:.1f}s")
    features, features_s, features_peak = timed(
        build_feature_table_bucketed, tables, AS_OF, settings, churn, args.buckets
    )
    n_rows, n_columns = features.shape
    del features
    core, duck_s, duck_peak = timed(duckdb_core, tables, settings.windows_days)
    print(
        f"full features ({n_columns - 1} features x {n_rows} customers, {args.buckets} buckets): "
        f"{features_s:.1f}s, peak {features_peak:.0f} MB"
    )
    print(
        f"duckdb core subset ({core.shape[1] - 1} columns x {len(core)} customers): {duck_s:.1f}s, "
        f"peak {duck_peak:.0f} MB"
    )
    print(f"ratio features / duckdb: {features_s / duck_s:.2f}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, duckdb {duckdb.__version__}"
    )


if __name__ == "__main__":
    main()
