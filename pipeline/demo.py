"""Step `churn demo`: the main job on the embedded sample world, the loop closed: generate it with a campaign
(unless present), train, evaluate the campaign, and score with the save rates it measured."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.bucket_store import SCORED_MANIFEST
from pipeline.campaigns import simulated_period
from pipeline.config import PROJECT_ROOT, Config
from pipeline.evaluate import EvaluationResult, write_evaluation
from pipeline.generate import campaign_simulation, write_world
from pipeline.history import history_entry
from pipeline.score import ScoringResult, write_winback
from pipeline.train import TrainingResult, train_and_register

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
HISTORY_DIR = PROJECT_ROOT / "data" / "history"
WINBACK_FILE = PROJECT_ROOT / "data" / "out" / "winback.csv"
EVALUATION_FILE = PROJECT_ROOT / "data" / "out" / "evaluation.csv"


@dataclass(frozen=True)
class DemoResult:
    data_dir: Path
    generated: bool
    training: TrainingResult
    evaluation: EvaluationResult
    scoring: ScoringResult


def run_demo(
    cfg: Config, progress: Callable[[str], None] = lambda m: None, note: Callable[[str], None] = lambda m: None
) -> DemoResult:
    """Generate data/sample with its campaign's lists in data/history when either is missing; train; evaluate the
    campaign; score the week with the measured save rates (scoring.save_rates: measured)."""
    campaign = campaign_simulation(cfg)
    first_list = history_entry(HISTORY_DIR, simulated_period(campaign).start)
    generated = not (any(SAMPLE_DIR.glob("transactions.*")) and any(SAMPLE_DIR.glob("contacts.*"))
                     and (Path(first_list) / SCORED_MANIFEST).is_file())
    if generated:
        progress(f"generating {cfg.generate.customers:,} customers and a campaign")
        write_world(SAMPLE_DIR, cfg.generate.customers, cfg.generate.seed, campaign=campaign, history=str(HISTORY_DIR))
    training = train_and_register(SAMPLE_DIR, cfg, progress=progress)
    evaluation = write_evaluation(SAMPLE_DIR, HISTORY_DIR, EVALUATION_FILE, cfg, progress=progress)
    measured = cfg.model_copy(update={"scoring": cfg.scoring.model_copy(update={"save_rates": "measured"})})
    scoring = write_winback(SAMPLE_DIR, WINBACK_FILE, None, None, measured, progress=progress, note=note,
                            history=HISTORY_DIR)
    return DemoResult(SAMPLE_DIR, generated, training, evaluation, scoring)
