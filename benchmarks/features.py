"""`churn features` as a user runs it, against one DuckDB SQL script doing comparable work from the same files.

The world is ``benchmarks.world`` (1,000,000 customers, 10,000,000 transactions, 300,000 complaints and 20,000,000
visits at --scale 1), written once under data/scratch/. Each run starts two processes, one after the other, and
times each from start to exit with its peak memory (VmHWM):

- ``churn features --data D --as-of 2025-07-01 --out F.parquet``: reading and checking every file, the 51
  features of every active customer, the Parquet output;
- ``python -c DUCKDB_SCRIPT D O.parquet``: DuckDB reading the same files and computing a comparable core feature
  set (days since the last purchase, purchase counts and spend per window, promo share and discount depth, complaint
  and visit counts per window, for the customers active at as_of), written as Parquet.

    .venv/bin/python -m benchmarks.features [--scale 1] [--format parquet|csv] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.measure import CHURN, ROOT, machine, python_script, run
from benchmarks.world import write_world

AS_OF = "2025-07-01"
WINDOWS = (30, 90, 365)

DUCKDB_SCRIPT = """
import sys, duckdb
data, out, as_of, windows = sys.argv[1], sys.argv[2], sys.argv[3], [int(w) for w in sys.argv[4].split(",")]
ext = sys.argv[5]
source = (lambda t: f"read_parquet('{data}/{t}.parquet')") if ext == "parquet" else (
    lambda t: f"read_csv('{data}/{t}.csv', header=true)")
def counts(column, name):
    return ", ".join(f"count(*) FILTER (WHERE {column} >= DATE '{as_of}' - INTERVAL {w} DAY) AS {name}_{w}d"
                     for w in windows)
counts_and_spend = ", ".join(
    f"count(*) FILTER (WHERE amount > 0 AND timestamp >= DATE '{as_of}' - INTERVAL {w} DAY) AS purchase_count_{w}d, "
    f"coalesce(sum(amount) FILTER (WHERE timestamp >= DATE '{as_of}' - INTERVAL {w} DAY), 0) AS spend_{w}d"
    for w in windows)
sql = f'''
COPY (
WITH tx AS (
    SELECT customer_id,
        date_diff('day', max(timestamp) FILTER (WHERE amount > 0), DATE '{as_of}') AS days_since_last_purchase,
        {counts_and_spend},
        sum(amount) FILTER (WHERE amount > 0 AND promo AND timestamp >= DATE '{as_of}' - INTERVAL 365 DAY)
            / sum(amount) FILTER (WHERE amount > 0 AND timestamp >= DATE '{as_of}' - INTERVAL 365 DAY)
            AS promo_share_365d,
        avg(greatest(least(1 - amount / list_amount, 1), 0))
            FILTER (WHERE amount > 0 AND list_amount > 0 AND timestamp >= DATE '{as_of}' - INTERVAL 365 DAY)
            AS discount_depth_365d
    FROM {source("transactions")} WHERE timestamp < DATE '{as_of}'
    GROUP BY customer_id
    HAVING count(*) FILTER (WHERE amount > 0 AND timestamp >= DATE '{as_of}' - INTERVAL 90 DAY) > 0
), co AS (
    SELECT customer_id, {counts("opened_at", "complaint_count")} FROM {source("complaints")}
    WHERE opened_at < DATE '{as_of}' GROUP BY customer_id
), vi AS (
    SELECT customer_id, {counts("timestamp", "visit_count")} FROM {source("visits")}
    WHERE timestamp < DATE '{as_of}' GROUP BY customer_id
)
SELECT * FROM tx LEFT JOIN co USING (customer_id) LEFT JOIN vi USING (customer_id) ORDER BY customer_id
) TO '{out}' (FORMAT parquet)
'''
duckdb.sql(sql)
"""


def world(scale: float, fmt: str) -> Path:
    """The benchmark world at ``scale`` in ``fmt``, written under data/scratch/ unless it is there."""
    folder = ROOT / "data" / "scratch" / f"bench-{scale:g}-{fmt}"
    if not (folder / f"visits.{'parquet' if fmt == 'parquet' else 'csv'}").exists():
        print(f"writing the benchmark world to {folder} ...", flush=True)
        write_world(folder, scale, fmt)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = world(args.scale, args.format)
    print(machine())
    ratios = []
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.runs):
            ours = run("churn features", [CHURN, "features", "--data", str(data), "--as-of", AS_OF,
                                          "--out", f"{scratch}/features.parquet"])
            duck = run("duckdb script", python_script(DUCKDB_SCRIPT, str(data), f"{scratch}/duck.parquet", AS_OF,
                                                      ",".join(map(str, WINDOWS)), args.format))
            ratios.append(ours.seconds / duck.seconds)
            print(f"run {k + 1}: {ours.line()}; {duck.line()}; ratio {ratios[-1]:.2f}", flush=True)
    print(f"median ratio over {args.runs} runs: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
