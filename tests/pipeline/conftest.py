"""Session fixtures for the end-to-end tests of `churn train` and `churn score`.

One small generated world (300 customers, configs/test.yaml), one temporary MLflow store (never the repo's
data/mlflow: MLFLOW_TRACKING_URI and the config's tracking section both point into a temp folder), and one
training run whose backtest plans and booster rows are recorded on the way for the tests to inspect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import pipeline.train
from models.estimator import ChurnBooster
from pipeline.cli import app
from pipeline.config import PROJECT_ROOT, Config, load_config
from pipeline.train import TrainingResult, train_and_register

TEST_CONFIG = PROJECT_ROOT / "configs" / "test.yaml"
N_CUSTOMERS = 300
WORLD_SEED = 5
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Store:
    """The temporary MLflow store, and a config file (configs/test.yaml) whose tracking points at it."""

    root: Path
    uri: str
    config_file: Path

    def config_with(self, tmp_path: Path, **sections) -> Path:
        """A config file like ``config_file`` with the given sections' keys replaced (e.g. training={...})."""
        raw = yaml.safe_load(self.config_file.read_text())
        for section, values in sections.items():
            raw[section].update(values)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path


@dataclass(frozen=True)
class Trained:
    """The session's training run and what it was built from, recorded by spies on the way."""

    result: TrainingResult
    snapshots: pd.DataFrame  # the training snapshots handed to the backtest
    plans: list  # the backtest's CutoffPlans, in the order they were fitted
    booster_rows: list[pd.Index]  # rows of each booster fit (per plan, then the final), incl. early stopping
    began: float  # time.time() just before train_and_register was called
    backtest_began: float  # time.time() when the backtest began, after the snapshots were built


def invoke(*args: str):
    """Run the `churn` command in-process (stdout and stderr together in ``.output``)."""
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def cli():
    """The `churn` command, run in-process: cli("score", "--data", ...)."""
    return invoke


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Store:
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    raw = yaml.safe_load(TEST_CONFIG.read_text())
    raw["tracking"].update(default_uri=uri, artifact_location=str(root / "artifacts"))
    config_file = root / "test_config.yaml"
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        yield Store(root, uri, config_file)


@pytest.fixture(scope="session")
def cfg(store) -> Config:
    return load_config(store.config_file)


@pytest.fixture(scope="session")
def world(tmp_path_factory, store) -> Path:
    """A generated data directory, through `churn generate` as a user would make it."""
    out = tmp_path_factory.mktemp("world")
    result = invoke(
        "generate", "--out", out, "--customers", N_CUSTOMERS, "--seed", WORLD_SEED,
        "--config", store.config_file,
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def last_event_day_after(world) -> pd.Timestamp:
    """The day after the last event in the world's files, read straight from the CSVs."""
    events = (("transactions", "timestamp"), ("complaints", "opened_at"), ("visits", "timestamp"))
    stamps = [pd.to_datetime(pd.read_csv(world / f"{t}.csv", usecols=[c])[c]).max() for t, c in events]
    return max(stamps).normalize() + DAY


@pytest.fixture(scope="session")
def purchases(world) -> pd.DataFrame:
    """The world's purchases (amount > 0), read straight from transactions.csv."""
    tx = pd.read_csv(
        world / "transactions.csv", usecols=["customer_id", "timestamp", "amount"], dtype={"customer_id": str}
    )
    return tx[tx["amount"] > 0].assign(timestamp=lambda f: pd.to_datetime(f["timestamp"]))


@pytest.fixture(scope="session")
def trained(world, cfg) -> Trained:
    """Train once for the session (the first model in the store: version 1, the first champion)."""
    seen = {"snapshots": None, "plans": [], "booster_rows": [], "backtest_began": None}
    real_backtest, real_fit = pipeline.train.run_backtest, ChurnBooster.fit

    def recording_backtest(snapshots, plans, *args, **kwargs):
        seen["snapshots"], seen["plans"], seen["backtest_began"] = snapshots, list(plans), time.time()
        return real_backtest(snapshots, plans, *args, **kwargs)

    def recording_fit(self, train_x, train_y, eval_set=None):
        seen["booster_rows"].append(train_x.index.append(eval_set[0].index))
        return real_fit(self, train_x, train_y, eval_set)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.train, "run_backtest", recording_backtest)
        patch.setattr(ChurnBooster, "fit", recording_fit)
        began = time.time()
        result = train_and_register(world, cfg)
    return Trained(result, seen["snapshots"], seen["plans"], seen["booster_rows"], began, seen["backtest_began"])
