"""The world the model-quality benchmarks read: the data directory given, or a sample world generated for the run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.generate import write_world


@contextmanager
def sample_world(data: Path | None, customers: int, seed: int) -> Iterator[Path]:
    """``data`` itself, or a world of ``customers`` generated with ``seed`` into a temporary folder (removed after)."""
    if data is not None:
        yield data
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "world"
        write_world(folder, customers, seed)
        yield folder
