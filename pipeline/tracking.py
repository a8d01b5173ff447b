"""The only door to MLflow: tracking URI, training/scoring runs, the registered model and its champion alias.

The model is logged as a pyfunc whose ``predict`` returns churn probabilities (not labels) and accepts
categorical features as plain strings; the whole ``ModelBundle`` (ChurnModel + metadata) travels as one
artifact and is what scoring loads back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from models.estimator import ChurnModel
from pipeline.config import PROJECT_ROOT, Config
from pipeline.errors import ModelError

BUNDLE_ARTIFACT = "bundle"
ESTIMATE_TAG = "estimate.kind"  # which estimate a version's figures are (backtest or cross_fitted)
MLFLOW_MAX_METRICS_PER_BATCH = 1000  # the limit of one log_batch call


@dataclass
class ModelBundle:
    """What travels with a trained model: the model and everything scoring and drift checks need."""

    model: ChurnModel
    metadata: dict = field(default_factory=dict)  # feature schema, distributions, config, backtest summary
    version: str | None = None


def _mlflow():
    """Import mlflow with telemetry off unless the user has chosen otherwise."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # its INFO and WARNING chatter is noise for analysts
    import mlflow

    return mlflow


def tracking_uri(cfg: Config) -> str:
    """MLFLOW_TRACKING_URI when set, else the config's default with relative sqlite paths under the project."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    uri = cfg.tracking.default_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = PROJECT_ROOT / uri[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path)
    return uri


def _artifact_root(cfg: Config) -> str:
    path = Path(cfg.tracking.artifact_location)
    path = path if path.is_absolute() else PROJECT_ROOT / path
    return path.as_uri()


def connect(cfg: Config):
    """Point MLflow at the store and the experiment; returns (mlflow module, MlflowClient)."""
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = mlflow.MlflowClient()
    if client.get_experiment_by_name(cfg.tracking.experiment) is None:
        client.create_experiment(cfg.tracking.experiment, artifact_location=_artifact_root(cfg))
    mlflow.set_experiment(cfg.tracking.experiment)
    return mlflow, client


class _ChurnPyfunc:
    """Factory for the pyfunc wrapper class (defined lazily so importing this module does not import mlflow)."""

    @staticmethod
    def make():
        mlflow = _mlflow()

        class ChurnProbabilityModel(mlflow.pyfunc.PythonModel):
            """pyfunc whose predict returns a frame with churn_probability."""

            def load_context(self, context):
                with open(context.artifacts[BUNDLE_ARTIFACT], "rb") as handle:
                    self.bundle = pickle.load(handle)

            def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
                churn = self.bundle.model.predict_proba(model_input)[:, 1]
                return pd.DataFrame({"churn_probability": churn}, index=model_input.index)

        return ChurnProbabilityModel()


def _requirements() -> list[str]:
    """The packages the logged model needs, pinned to the running versions (skips MLflow's slow inference)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("churn-pipeline", "lightgbm", "scikit-learn", "pandas", "numpy")]


def made_up_input_example(bundle: ModelBundle, n_rows: int = 3) -> pd.DataFrame:
    """An input example built from the schema alone (never real customer rows)."""
    schema = bundle.model.schema
    columns = {}
    for name in schema.names:
        if schema.kinds[name] == "categorical":
            cats = schema.categories[name] or ("unknown",)
            columns[name] = [cats[i % len(cats)] for i in range(n_rows)]
        else:
            columns[name] = np.linspace(0.0, 1.0, n_rows)
    return pd.DataFrame(columns)


def flatten(mapping: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"} for MLflow params."""
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return flat


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    experiment_id: str
    version: str
    promoted: bool
    decision: str
    tracking_uri: str


def log_training_run(
    cfg: Config,
    bundle: ModelBundle,
    *,
    data_fingerprint: str,
    metrics: dict[str, float],
    metric_steps: dict[str, list[tuple[int, float]]],
    tables: dict[str, pd.DataFrame],
    figures: dict[str, bytes],
    comparison_metric: str,
    comparison_value: float,
    tags: dict[str, str] | None = None,
) -> RunOutcome:
    """Log one training run, register its model, and move the champion alias only if it beats the champion.

    ``tags`` go on the run and on the registered version (e.g. which estimate the metrics are).
    """
    mlflow, client = connect(cfg)
    name, alias = cfg.tracking.registered_model, cfg.tracking.alias
    tags = tags or {}
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        mlflow.log_params(flatten({k: v for k, v in cfg.as_dict().items() if k != "source"}))
        mlflow.set_tags({"data_fingerprint": data_fingerprint, **tags})
        mlflow.log_text(yaml.safe_dump(cfg.as_dict(), sort_keys=False), "config.yaml")
        mlflow.log_metrics(metrics)
        _log_metric_steps(client, run.info.run_id, metric_steps)
        for file_name, frame in tables.items():
            mlflow.log_text(frame.to_csv(index=False), file_name)
        for file_name, png in figures.items():
            (scratch / file_name).write_bytes(png)
            mlflow.log_artifact(str(scratch / file_name), "plots")
        mlflow.log_text(json.dumps(bundle.metadata, indent=2, default=str), "model_metadata.json")

        bundle_path = scratch / "bundle.pkl"
        bundle_path.write_bytes(pickle.dumps(bundle))
        example = made_up_input_example(bundle)
        output = pd.DataFrame({"churn_probability": bundle.model.predict_proba(example)[:, 1]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_ChurnPyfunc.make(),
            artifacts={BUNDLE_ARTIFACT: str(bundle_path)},
            signature=mlflow.models.infer_signature(example, output),
            input_example=example,
            pip_requirements=_requirements(),
        )
        with contextlib.redirect_stderr(io.StringIO()):  # register_model prints "Successfully registered ..."
            version = str(mlflow.register_model(info.model_uri, name).version)
        client.set_model_version_tag(name, version, comparison_metric, repr(comparison_value))
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
        promoted, decision = _promote_if_better(
            client, name, alias, version, comparison_metric, comparison_value, tags.get(ESTIMATE_TAG)
        )
        mlflow.set_tag("champion_decision", decision)
    return RunOutcome(run.info.run_id, run.info.experiment_id, version, promoted, decision, tracking_uri(cfg))


def _log_metric_steps(client, run_id: str, metric_steps: dict[str, list[tuple[int, float]]]) -> None:
    """Every (step, value) of every metric in a few batched writes (one write per point took seconds)."""
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    points = [Metric(key, value, timestamp, step) for key, steps in metric_steps.items() for step, value in steps]
    for start in range(0, len(points), MLFLOW_MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[start : start + MLFLOW_MAX_METRICS_PER_BATCH])


def _promote_if_better(client, name, alias, version, metric, value, kind=None) -> tuple[bool, str]:
    """Move ``alias`` to ``version`` when its ``metric`` beats the current holder's; ``kind``: which estimate the
    value is (said in the decision when the two were estimated differently)."""
    try:
        current = client.get_model_version_by_alias(name, alias)
    except Exception:  # noqa: BLE001 - MLflow raises a generic error when the alias does not exist yet
        current = None
    if current is None:
        client.set_registered_model_alias(name, alias, version)
        return True, f"version {version} is the first {alias}"
    current_value = float(current.tags.get(metric, "nan"))
    current_kind = current.tags.get(ESTIMATE_TAG)
    caveat = (
        f" (the figures are estimated differently: {kind or 'unknown'} vs {current_kind or 'unknown'})"
        if kind != current_kind else ""
    )
    if not np.isfinite(current_value) or value > current_value:
        client.set_registered_model_alias(name, alias, version)
        return True, (
            f"version {version} becomes {alias}: {metric} {value:.4f} beats version {current.version}'s "
            f"{current_value:.4f}{caveat}"
        )
    return False, (
        f"{alias} stays version {current.version}: version {version}'s {metric} {value:.4f} "
        f"does not beat {current_value:.4f}{caveat}"
    )


def load_bundle(cfg: Config, model_uri: str | None = None) -> ModelBundle:
    """Load a ModelBundle from ``model_uri`` (any MLflow model URI) or the registered champion."""
    mlflow, client = connect(cfg)
    uri = model_uri or f"models:/{cfg.tracking.registered_model}@{cfg.tracking.alias}"
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types for "not found"
        raise ModelError(
            f"Could not load the model {uri} from {tracking_uri(cfg)}: {str(exc).splitlines()[0]}",
            "train one first with `churn train --data DIR`, or pass an existing --model URI",
        ) from None
    bundle = pyfunc.unwrap_python_model().bundle
    bundle.version = _version_label(client, uri, pyfunc.metadata.run_id)
    return bundle


def _version_label(client, uri: str, run_id: str) -> str:
    """ "churn-model v3" for registry URIs (by alias or number), else "run <id>"."""
    if not uri.startswith("models:/"):
        return f"run {run_id}"
    reference = uri[len("models:/"):]
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return f"{name} v{client.get_model_version_by_alias(name, alias).version}"
    name, _, number = reference.partition("/")
    return f"{name} v{number}"


def log_scoring_run(cfg: Config, metrics: dict[str, float], tags: dict[str, str], report_path: Path | None) -> str:
    """Log a scoring run (counts, drift) to the experiment; returns the run id."""
    mlflow, _client = connect(cfg)
    with mlflow.start_run(run_name="score") as run:
        mlflow.set_tags({"kind": "scoring", **tags})
        mlflow.log_metrics(metrics)
        if report_path is not None and report_path.exists():
            mlflow.log_artifact(str(report_path))
    return run.info.run_id
