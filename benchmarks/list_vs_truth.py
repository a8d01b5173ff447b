"""A written worklist and lapsed list against a world's truth: who had already stopped for good at the as-of date?

Reads ``DATA/_truth/customers.csv`` (customer_id and stop_date from `benchmarks.independent_world`, or death_date
from `churn generate`) and the lists `churn score` wrote (``LIST`` and ``<LIST stem>_lapsed.csv``), and prints: the
share of the worklist, and of its targeted rows, whose stop date lies before the as-of date; their mean churn
probability against the others'; the share of the lapsed list that stopped for good against its mean reactivation
probability, and by decile of that probability the mean probability against the share still alive.

    .venv/bin/python -m benchmarks.list_vs_truth --data DATA --list OUT/list.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def stopped_before(truth: pd.DataFrame, ids: pd.Series, as_of: str) -> pd.Series:
    """True where the customer's stop date (ISO text) lies before ``as_of``."""
    stop = truth["stop_date"].reindex(ids).fillna("").to_numpy()
    return pd.Series((stop != "") & (stop < as_of), index=ids.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--list", type=Path, required=True)
    args = parser.parse_args()
    truth = pd.read_csv(args.data / "_truth" / "customers.csv", dtype=str, keep_default_na=False)
    truth = truth.set_index("customer_id")
    if "stop_date" not in truth:  # our own generator's truth
        truth = truth.rename(columns={"death_date": "stop_date"})
    worklist = pd.read_csv(args.list, dtype={"customer_id": str, "in_target": str})
    lapsed = pd.read_csv(args.list.with_name(f"{args.list.stem}_lapsed.csv"), dtype={"customer_id": str})
    as_of = str(worklist["as_of"].iloc[0])
    gone = stopped_before(truth, worklist["customer_id"], as_of)
    targeted = worklist["in_target"].str.lower() == "true"
    p = worklist["churn_probability"]
    print(f"as of {as_of}; worklist {len(worklist):,}: stopped for good before it {gone.mean():.3f}; churn "
          f"probability {p[gone].mean():.3f} for those, {p[~gone].mean():.3f} for the others; targeted "
          f"{targeted.sum():,}, of whom stopped for good {gone[targeted].mean():.3f}")
    lapsed_gone = stopped_before(truth, lapsed["customer_id"], as_of)
    reach = lapsed["reactivation_probability"]
    print(f"lapsed {len(lapsed):,}: stopped for good {lapsed_gone.mean():.3f}; mean reactivation probability "
          f"{reach.mean():.3f} ({reach[lapsed_gone].mean():.3f} for those who stopped, "
          f"{reach[~lapsed_gone].mean():.3f} for the others)")
    if len(lapsed) >= 10:
        decile = pd.qcut(reach.rank(method="first"), 10, labels=False)
        by = pd.DataFrame({"probability": reach, "alive": ~lapsed_gone}).groupby(decile.to_numpy()).mean()
        print("by decile of reactivation probability, mean probability / share still alive: " + ", ".join(
            f"{p:.3f}/{a:.3f}" for p, a in zip(by["probability"], by["alive"], strict=True)))


if __name__ == "__main__":
    main()
