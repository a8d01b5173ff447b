"""What `churn train` leaves in MLflow: a scikit-learn model that loads with the usual tools, its code and
metadata, and a run, experiment and model version an analyst can read."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier

from models.estimator import ChurnClassifier
from pipeline.io import data_fingerprint
from pipeline.tracking import (
    EXPERIMENT_KIND_TAG,
    MODEL_CODE_MODULES,
    MODEL_REQUIREMENTS,
    artifact_root,
    connect,
    load_bundle,
    tracking_uri,
)

CHAMPION = "models:/churn-model@champion"
# The top-level name each requirement is imported by.
IMPORT_NAMES = {"lightgbm": "lightgbm", "scikit-learn": "sklearn", "scipy": "scipy", "pandas": "pandas",
                "numpy": "numpy", "numba": "numba"}


@pytest.fixture(scope="module")
def run(trained, cfg):
    _, client = connect(cfg)
    return client.get_run(trained.result.outcome.run_id)


def _imports(module: str) -> set[str]:
    """Every module named by an import statement of ``module``'s source (absolute imports only)."""
    path = Path(__import__(module, fromlist=["_"]).__file__)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_the_model_code_that_travels_imports_nothing_else_of_this_project():
    project = {"models", "features", "pipeline"}
    allowed_third_party = {IMPORT_NAMES[name] for name in MODEL_REQUIREMENTS}
    for module in MODEL_CODE_MODULES:
        for name in _imports(module):
            top = name.split(".")[0]
            if top in project:
                assert name in MODEL_CODE_MODULES, f"{module} imports {name}, which does not travel with the model"
            elif top not in allowed_third_party:
                assert top in {"__future__", "hashlib", "json", "os", "concurrent", "dataclasses"}, (module, name)


def test_the_champion_loads_as_a_scikit_learn_classifier(trained):
    model = mlflow.sklearn.load_model(CHAMPION)
    assert isinstance(model, ChurnClassifier)
    assert is_classifier(model)
    copy = clone(model)
    assert copy.get_params()["method"] == model.method and not hasattr(copy, "calibrator_")
    rows = trained.snapshots[list(model.schema.names)]
    pyfunc = mlflow.pyfunc.load_model(CHAMPION).predict(rows)
    np.testing.assert_array_equal(np.asarray(pyfunc), model.predict_proba(rows))
    assert np.unique(pyfunc[:, 1]).size > 10


def test_the_logged_requirements_are_pinned_and_name_no_unpublished_package(cfg, trained):
    requirements = Path(mlflow.pyfunc.get_model_dependencies(CHAMPION)).read_text().split()
    names = [line.split("==")[0] for line in requirements]
    assert names == ["mlflow", *MODEL_REQUIREMENTS]
    assert all("==" in line for line in requirements)
    assert "churn-pipeline" not in names


def test_the_metadata_travels_with_the_model_and_scoring_reads_it(cfg, trained):
    bundle = load_bundle(cfg)
    info = mlflow.models.get_model_info(CHAMPION)
    metadata = bundle.metadata
    assert metadata == info.metadata
    assert metadata["feature_schema_hash"] == bundle.model.schema.fingerprint
    assert metadata["feature_schema"]["names"] == list(bundle.model.schema.names)
    assert metadata["config"]["churn"] == {"active_window_days": 90, "horizon_days": 90}
    assert set(metadata["training_distributions"]) == set(bundle.model.schema.names)
    metrics = trained.result.backtest.metrics
    shipped = metrics[metrics["candidate"] == f"model_{trained.result.calibration}"].sort_values("eval_cutoff")
    assert metadata["emp_targeting_fraction"] == shipped["emp_fraction"].iloc[-1]
    assert bundle.version == "churn-model v1"


def test_scoring_computes_contributions_as_its_configuration_says(cfg, store):
    from pipeline.config import load_config

    assert load_bundle(cfg).model.contribution_method == "grouped"
    switched = load_config(store.config_file, {"model.contributions": "lightgbm"})
    assert load_bundle(switched).model.contribution_method == "lightgbm"


def test_the_experiment_is_marked_for_model_training(cfg, trained):
    _, client = connect(cfg)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"


def test_the_run_says_what_ran_and_spans_the_whole_training(run, trained, last_event_day_after):
    assert run.info.run_name == f"train h90 as of {last_event_day_after.date()}"
    # started when train_and_register began, before the snapshots were built
    assert trained.began * 1000 - 1000 <= run.info.start_time <= trained.backtest_began * 1000
    description = run.data.tags["mlflow.note.content"]
    assert "Churn = no purchase in the 90 days after a cutoff" in description
    assert "Backtest, mean over 3 evaluation cutoff(s)" in description
    assert f"calibrated ({trained.result.calibration})" in description


def test_the_training_data_is_logged_as_a_dataset(run, world, trained):
    (dataset_input,) = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.digest == data_fingerprint(world) == run.data.tags["data_fingerprint"]
    assert str(world) in dataset.source
    assert {tag.key: tag.value for tag in dataset_input.tags}["mlflow.data.context"] == "training"
    columns = [c["name"] for c in json.loads(dataset.schema)["mlflow_colspec"]]
    assert "churned" in columns and "days_since_last_purchase" in columns
    shipped_rows = trained.snapshots["as_of"] + pd.Timedelta(days=90) <= trained.snapshots["as_of"].max()
    assert json.loads(dataset.profile)["num_rows"] == int(shipped_rows.sum())


def test_the_shipped_models_summary_metrics_come_first(run, trained):
    names = sorted(run.data.metrics)
    shipped = [n for n in names if n.startswith("model/")]
    assert len(shipped) >= 8 and names[: len(shipped)] == shipped
    means = trained.result.backtest.metrics.groupby("candidate")["roc_auc"].mean()
    assert run.data.metrics["model/roc_auc"] == pytest.approx(means[f"model_{trained.result.calibration}"])
    assert run.data.metrics["vs/baseline_bgnbd/roc_auc"] == pytest.approx(means["baseline_bgnbd"])


def test_the_registered_version_describes_its_backtest_and_the_champion_decision(cfg, trained, run):
    _, client = connect(cfg)
    version = client.get_model_version("churn-model", trained.result.outcome.version)
    assert version.description.startswith(run.data.tags["mlflow.note.content"])
    assert version.description.endswith("Champion: version 1 is the first champion.")


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer:UserWarning")
def test_the_dataset_schema_is_mlflows_own_without_its_value_by_value_pass():
    import mlflow
    from mlflow.types.utils import _infer_schema

    from pipeline.tracking import frame_schema

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((3000, 3)), columns=["a", "b", "c"]).assign(
        n=rng.integers(0, 5, 3000), customer_id=pd.array([f"C{i}" for i in range(3000)], dtype="str"),
        as_of=pd.Timestamp("2025-01-01"), churned=rng.random(3000) < 0.2,
    )
    frame.loc[2500, "b"] = np.nan  # past the rows the types are read from: still optional
    schema = frame_schema(mlflow, frame, sample_rows=1000)
    assert schema == _infer_schema(frame)
    assert [c.name for c in schema.inputs if not c.required] == ["b"]


def test_artifacts_go_beside_a_sqlite_store_named_by_the_environment_else_where_mlflow_says(cfg, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert artifact_root(cfg, tracking_uri(cfg)) == Path(cfg.tracking.artifact_location).as_uri()  # the config's
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert artifact_root(cfg, "http://tracking.example:5000") is None  # the server's own artifact root
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert artifact_root(cfg, uri) == (tmp_path / "elsewhere" / "artifacts").as_uri()
    before = mlflow.get_tracking_uri()
    try:
        _, client = connect(cfg, "an-experiment-elsewhere")
        made = client.get_experiment_by_name("an-experiment-elsewhere")
    finally:
        mlflow.set_tracking_uri(before)  # the other tests' store
    assert made.artifact_location == (tmp_path / "elsewhere" / "artifacts").as_uri()
