"""The notebooks run top to bottom on a small world, write only to their scratch folder, never change the model
registry, and are committed clean."""

from pathlib import Path

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient

from pipeline.config import load_config
from pipeline.generate import campaign_simulation, write_world
from pipeline.train import train_and_register

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TEST_CONFIG = ROOT / "configs" / "test.yaml"


def test_the_five_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == [
        "01-explore-data",
        "02-features",
        "03-train-and-backtest",
        "04-winback-review",
        "05-campaign-evaluation",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_holds_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert dirty == [], f"{path.name}: cells {dirty} hold outputs; clear them before committing"


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    """A small world with a campaign (notebook 05 evaluates it), its lists kept in the sibling folder history."""
    cfg = load_config(TEST_CONFIG)
    root = tmp_path_factory.mktemp("notebook-world")
    write_world(root / "data", cfg.generate.customers, cfg.generate.seed, campaign=campaign_simulation(cfg),
                history=str(root / "history"))
    return root / "data"


@pytest.fixture(scope="module")
def champion_store(small_world, tmp_path_factory) -> str:
    """A store holding a champion trained by `churn train`'s step on the small world (notebook 03 reads it)."""
    store = tmp_path_factory.mktemp("notebook-store")
    tracking = f"sqlite:///{(store / 'mlflow.db').as_posix()}"
    cfg = load_config(TEST_CONFIG, {"tracking.artifact_location": str(store / "artifacts")})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking)
        train_and_register(small_world, cfg)
    return tracking


def _registry(tracking: str) -> list[tuple]:
    """Every registered version with its aliases."""
    client = mlflow.MlflowClient(tracking_uri=tracking)
    versions = [client.get_model_version(v.name, v.version) for v in client.search_model_versions()]
    return sorted((v.name, v.version, tuple(sorted(v.aliases))) for v in versions)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_small_world_and_writes_only_to_scratch(
    path, small_world, champion_store, tmp_path, monkeypatch
):
    scratch = tmp_path / "scratch"
    tracking = champion_store
    registry = _registry(tracking)
    monkeypatch.setenv("CHURN_NOTEBOOK_DATA", str(small_world))
    monkeypatch.setenv("CHURN_NOTEBOOK_HISTORY", str(small_world.parent / "history"))
    monkeypatch.setenv("CHURN_NOTEBOOK_CONFIG", str(TEST_CONFIG))
    monkeypatch.setenv("CHURN_NOTEBOOK_SCRATCH", str(scratch))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)  # wins over any store a notebook might pick
    before = sorted(p.relative_to(small_world) for p in small_world.rglob("*"))

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert sorted(p.relative_to(small_world) for p in small_world.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert _registry(tracking) == registry, "a notebook registered a model or moved an alias"
    assert registry[0][2] == ("champion",)
