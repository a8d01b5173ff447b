"""Step: generate the synthetic world and write it (tables + _truth/) as a data directory."""

from __future__ import annotations

from pathlib import Path

from pipeline.io import write_tables
from pipeline.synthetic import generate_world, last_days_only, transactions_only

TRUTH_FOLDER = "_truth"


def write_world(
    out: Path,
    n_customers: int,
    seed: int,
    fmt: str = "csv",
    *,
    history_days: int | None = None,
    only_transactions: bool = False,
    seasonal_churn: float = 0.0,
) -> str:
    """Generate ``n_customers`` with ``seed`` into ``out``; returns a one-line summary.

    ``history_days`` keeps only the last days of events, ``only_transactions`` only the transactions table;
    the truth is always the whole world's. ``seasonal_churn``: see :func:`pipeline.synthetic.generate_world`.
    """
    world = generate_world(n_customers, seed, seasonal_churn=seasonal_churn)
    tables = world.tables
    if history_days is not None:
        tables = last_days_only(tables, history_days)
    if only_transactions:
        tables = transactions_only(tables)
    out = Path(out)
    write_tables(tables, out, fmt)
    write_tables(world.truth, out / TRUTH_FOLDER, fmt)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in tables.items())
    return f"Wrote {counts} to {out} (truth in {out / TRUTH_FOLDER})"
