"""Step: generate the synthetic world and write it (tables + _truth/) as a data directory."""

from __future__ import annotations

from pathlib import Path

from pipeline.io import write_tables
from pipeline.synthetic import generate_world

TRUTH_FOLDER = "_truth"


def write_world(out: Path, n_customers: int, seed: int, fmt: str = "csv") -> str:
    """Generate ``n_customers`` with ``seed`` into ``out``; returns a one-line summary."""
    world = generate_world(n_customers, seed)
    out = Path(out)
    write_tables(world.tables, out, fmt)
    write_tables(world.truth, out / TRUTH_FOLDER, fmt)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in world.tables.items())
    return f"Wrote {counts} to {out} (truth in {out / TRUTH_FOLDER})"
