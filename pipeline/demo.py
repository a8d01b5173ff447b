"""Step `churn demo`: the main job on the embedded sample world: generate (unless present), train, score."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PROJECT_ROOT, Config
from pipeline.generate import write_world
from pipeline.score import ScoringResult, write_winback
from pipeline.train import TrainingResult, train_and_register

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
WINBACK_FILE = PROJECT_ROOT / "data" / "out" / "winback.csv"


@dataclass(frozen=True)
class DemoResult:
    data_dir: Path
    generated: bool
    training: TrainingResult
    scoring: ScoringResult


def run_demo(
    cfg: Config, progress: Callable[[str], None] = lambda m: None, note: Callable[[str], None] = lambda m: None
) -> DemoResult:
    """Generate data/sample when it has no transactions file, then train and score on it."""
    generated = not any(SAMPLE_DIR.glob("transactions.*"))
    if generated:
        progress(f"generating {cfg.generate.customers:,} customers")
        write_world(SAMPLE_DIR, cfg.generate.customers, cfg.generate.seed)
    training = train_and_register(SAMPLE_DIR, cfg, progress=progress)
    scoring = write_winback(SAMPLE_DIR, WINBACK_FILE, None, None, cfg, progress=progress, note=note)
    return DemoResult(SAMPLE_DIR, generated, training, scoring)
