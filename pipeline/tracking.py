"""The only door to MLflow: tracking URI, training/scoring runs, the registered model and its champion alias.

The model (a scikit-learn ``ChurnClassifier``) is logged with ``mlflow.sklearn``: ``mlflow.sklearn.load_model``
gives the estimator back, and its pyfunc ``predict`` is ``predict_proba`` (columns: stays, churns), taking
categorical features as plain strings. The modules it is made of travel with it (``code_paths``), so a Python
environment with only its logged requirements loads it. What scoring needs besides (feature schema and hash,
churn definition, training distributions, medians, backtest figures, config) is the model's MLflow metadata.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from models.estimator import ChurnClassifier
from pipeline.config import PROJECT_ROOT, Config
from pipeline.errors import ModelError
from pipeline.outputs import folder_lock

ESTIMATE_TAG = "estimate.kind"  # which estimate a version's figures are (backtest or cross_fitted)
MLFLOW_MAX_METRICS_PER_BATCH = 1000  # the limit of one log_batch call
FEATURES_TAG = "feature_schema_hash"  # on each model version: the features it was trained on
# How long a tracking server may take to answer its health check before the command stops with an error.
SERVER_TIMEOUT_S = 10.0
DATA_END_TAG = "data_end"  # on each model version: the day after the last purchase of the data it learnt from
CHURN_TAG = "churn_definition"  # on each model version: the churn it predicts (see churn_definition_tag)
# The modules a pickled ChurnClassifier needs (tests/pipeline/test_tracking.py checks that they import nothing
# else of this project), and the packages they import.
MODEL_CODE_MODULES = ("models", "models.estimator", "models.contributions", "models.cell_kernels")
MODEL_REQUIREMENTS = ("lightgbm", "scikit-learn", "scipy", "pandas", "numpy", "numba")
# Tells the MLflow UI that the experiment trains models (it opens on runs, not on GenAI traces).
EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"


@dataclass
class ModelBundle:
    """What travels with a trained model: the model and everything scoring and drift checks need."""

    model: ChurnClassifier
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


def artifact_root(cfg: Config, uri: str) -> str | None:
    """Where a new experiment of the store at ``uri`` keeps its artifacts: the config's artifact_location for the
    config's own store; beside the file for a sqlite store named by MLFLOW_TRACKING_URI (not in this project's
    data/); else None, the tracking server's own default."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        path = Path(cfg.tracking.artifact_location)
        path = path if path.is_absolute() else PROJECT_ROOT / path
        return path.as_uri()
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        return (Path(uri[len(prefix):]).resolve().parent / "artifacts").as_uri()
    return None


def _store_setup_lock(uri: str):
    """A lock held while a store is opened for the first time: two commands creating one new sqlite store at
    once would both run its schema migrations (alembic's "duplicate column" error)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return contextlib.nullcontext()
    folder = Path(uri[len(prefix):]).parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder_lock(folder)


def check_reachable(cfg: Config, timeout_s: float = SERVER_TIMEOUT_S) -> None:
    """Fail at once, with what to do, when the tracking store is an MLflow server that does not answer: MLflow
    itself retries for minutes, and `churn train` would learn it only after training. Any HTTP answer counts as
    reachable (a refusal is reported by :func:`connect`); other stores are files or databases MLflow opens."""
    uri = tracking_uri(cfg)
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"The MLflow tracking server at {uri} does not answer ({reason}).",
            "start it (e.g. `mlflow server --port 5000`), correct MLFLOW_TRACKING_URI, or unset it to use the "
            f"local store ({cfg.tracking.default_uri})",
        ) from None


def connect(cfg: Config, experiment_name: str | None = None):
    """Point MLflow at the store and the experiment (default: the training experiment); returns (mlflow module,
    MlflowClient)."""
    check_reachable(cfg)
    mlflow = _mlflow()
    uri = tracking_uri(cfg)
    name = experiment_name or cfg.tracking.experiment
    mlflow.set_tracking_uri(uri)
    try:
        with _store_setup_lock(uri):
            client = mlflow.MlflowClient()
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                client.create_experiment(name, artifact_location=artifact_root(cfg, uri),
                                         tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
            elif EXPERIMENT_KIND_TAG not in experiment.tags:  # made before the tag was set
                client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
            mlflow.set_experiment(name)
    except mlflow.exceptions.MlflowException as exc:
        raise ModelError(
            f"The MLflow tracking store at {uri} refused the request: {str(exc).splitlines()[0]}",
            "check MLFLOW_TRACKING_URI and the server's credentials (MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)",
        ) from None
    return mlflow, client


def _model_code(folder: Path) -> Path:
    """A copy of the modules the pickled model needs, as the package ``models`` under ``folder``: logged as
    the model's ``code_paths``, so that loading it needs no installed churn-pipeline."""
    package = folder / "models"
    package.mkdir()
    for name in MODEL_CODE_MODULES:
        source = Path(importlib.import_module(name).__file__)
        shutil.copyfile(source, package / source.name)
    return package


def _requirements() -> list[str]:
    """The packages the logged model needs, pinned to the running versions (skips MLflow's slow inference)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


def frame_schema(mlflow, frame: pd.DataFrame, sample_rows: int = 1000):
    """The MLflow schema of ``frame``: column types as inferred from its first rows, and a column required
    where it holds no missing value. What ``mlflow.data.from_pandas`` infers itself, but MLflow checks every
    value of every column in Python for the latter (24 s for 349,000 snapshot rows of 120 columns)."""
    from mlflow.types import ColSpec, Schema

    inferred = mlflow.models.infer_signature(frame.head(sample_rows)).inputs
    complete = frame.notna().all()
    return Schema([ColSpec(c.type, c.name, required=bool(complete[c.name])) for c in inferred.inputs])


def made_up_input_example(model: ChurnClassifier, n_rows: int = 3) -> pd.DataFrame:
    """An input example built from the schema alone (never real customer rows)."""
    schema = model.schema
    columns = {}
    for name in schema.names:
        if schema.kinds[name] == "categorical":
            cats = schema.categories[name] or ("unknown",)
            columns[name] = [cats[i % len(cats)] for i in range(n_rows)]
        else:
            columns[name] = np.linspace(0.0, 1.0, n_rows)
    return pd.DataFrame(columns)


def _plain(mapping: dict) -> dict:
    """``mapping`` with only YAML-safe values (numpy numbers as floats, dates as text): MLflow writes a model's
    metadata into its MLmodel file."""
    return json.loads(json.dumps(mapping, default=str))


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


@dataclass(frozen=True)
class RunRecord:
    """How a training run reads in MLflow: its name, its description, when it began, the data it trained on."""

    name: str
    description: str
    started_at: float  # seconds since the epoch: the run spans the whole training, not only its logging
    data_source: str
    data_fingerprint: str
    training_rows: pd.DataFrame  # the shipped model's training rows (features and label), logged as a dataset
    target: str


def churn_definition_tag(active_window_days: int, horizon_days: int) -> str:
    """The churn a model predicts, as its version's ``churn_definition`` tag."""
    return f"active_window_days={active_window_days}, horizon_days={horizon_days}"


def log_training_run(
    cfg: Config,
    bundle: ModelBundle,
    record: RunRecord,
    *,
    metrics: dict[str, float],
    metric_steps: dict[str, list[tuple[int, float]]],
    tables: dict[str, pd.DataFrame],
    figures: dict[str, bytes],
    comparison_metric: str,
    comparison_value: float,
    tags: dict[str, str] | None = None,
    promote: bool = False,
) -> RunOutcome:
    """Log one training run, register its model, and move the champion alias only if it beats the champion
    (``promote``: whatever the comparison says).

    The registered version's description is the run's, followed by the champion decision. ``tags`` go on the
    run and on the registered version (e.g. which estimate the metrics are).
    """
    mlflow, client = connect(cfg)  # imports mlflow quietly: before any other mlflow import
    from mlflow.tracking.context.registry import resolve_tags  # who and what started it, as start_run records

    name, alias = cfg.tracking.registered_model, cfg.tracking.alias
    tags = tags or {}
    experiment_id = mlflow.get_experiment_by_name(cfg.tracking.experiment).experiment_id
    created = client.create_run(
        experiment_id, start_time=int(record.started_at * 1000), run_name=record.name,
        tags=resolve_tags({"mlflow.note.content": record.description, "kind": "training"}),
    )
    with mlflow.start_run(run_id=created.info.run_id) as run, tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        mlflow.log_params(flatten({k: v for k, v in cfg.as_dict().items() if k != "source"}))
        mlflow.set_tags({"data_fingerprint": record.data_fingerprint, **tags})
        mlflow.log_text(yaml.safe_dump(cfg.as_dict(), sort_keys=False), "config.yaml")
        mlflow.log_metrics(metrics)
        _log_metric_steps(client, run.info.run_id, metric_steps)
        for file_name, frame in tables.items():
            mlflow.log_text(frame.to_csv(index=False), file_name)
        for file_name, png in figures.items():
            (scratch / file_name).write_bytes(png)
            mlflow.log_artifact(str(scratch / file_name), "plots")
        mlflow.log_text(json.dumps(bundle.metadata, indent=2, default=str), "model_metadata.json")

        model = bundle.model
        example = made_up_input_example(model)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
            code_paths=[str(_model_code(scratch))],
            pip_requirements=_requirements(),
            signature=mlflow.models.infer_signature(example, model.predict_proba(example)),
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            metadata=_plain(bundle.metadata),
            tags={"mlflow.note.content": record.description},
        )
        with warnings.catch_warnings():  # MLflow finds two registrations of its own local-path source type
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(
                record.training_rows, source=record.data_source, targets=record.target,
                name="training snapshots", digest=record.data_fingerprint,
            )
            # The dataset's schema is a cached property: given here, MLflow does not infer it value by value.
            dataset.__dict__["schema"] = frame_schema(mlflow, record.training_rows)
        mlflow.log_input(dataset, context="training")
        with contextlib.redirect_stderr(io.StringIO()):  # register_model prints "Successfully registered ..."
            version = str(mlflow.register_model(info.model_uri, name).version)
        client.set_model_version_tag(name, version, comparison_metric, repr(comparison_value))
        features = str(bundle.metadata.get("feature_schema_hash", ""))
        client.set_model_version_tag(name, version, FEATURES_TAG, features)
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
        if promote:
            client.set_registered_model_alias(name, alias, version)
            promoted, decision = True, f"version {version} becomes {alias}: promoted on request (--promote)"
        else:
            promoted, decision = _promote_if_better(
                client, name, alias, version, comparison_metric, comparison_value, features,
                tags.get(ESTIMATE_TAG), tags.get(DATA_END_TAG), tags.get(CHURN_TAG),
            )
        client.update_model_version(name, version, description=f"{record.description} Champion: {decision}.")
        mlflow.set_tag("champion_decision", decision)
    return RunOutcome(run.info.run_id, run.info.experiment_id, version, promoted, decision, tracking_uri(cfg))


def _log_metric_steps(client, run_id: str, metric_steps: dict[str, list[tuple[int, float]]]) -> None:
    """Every (step, value) of every metric in a few batched writes (one write per point took seconds)."""
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    points = [Metric(key, value, timestamp, step) for key, steps in metric_steps.items() for step, value in steps]
    for start in range(0, len(points), MLFLOW_MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[start : start + MLFLOW_MAX_METRICS_PER_BATCH])


def _is_churn_model(info) -> bool:
    """Whether an MLflow model (its ModelInfo) is a churn model as this version of `churn train` writes them."""
    return "sklearn" in info.flavors and "feature_schema" in (info.metadata or {})


def _promote_if_better(
    client, name, alias, version, metric, value, features: str, kind=None, data_end: str | None = None,
    churn: str | None = None,
) -> tuple[bool, str]:
    """Move ``alias`` to ``version`` when the champion cannot score today's features; else, when both predict
    the same churn (``churn``, see :func:`churn_definition_tag`), when the champion learnt from data that ends
    earlier than ``data_end`` (ISO date), or ends on the same day and ``metric`` beats its; ``kind``: which
    estimate the value is (said in the decision when the two were estimated differently).

    A model of another churn (another horizon or active window) never replaces the champion by itself: its
    figures measure another question, and the weekly list would change meaning unannounced (``churn train
    --promote`` does it on purpose). Figures estimated on data that ends at other dates come from other cutoffs
    and seasons and are not comparable: the model of the newer data wins (a retrain on this month's export
    replaces last month's model).
    """
    mlflow = _mlflow()
    try:
        current = client.get_model_version_by_alias(name, alias)
    except Exception:  # noqa: BLE001 - MLflow raises a generic error when the alias does not exist yet
        current = None
    if current is None:
        client.set_registered_model_alias(name, alias, version)
        return True, f"version {version} is the first {alias}"
    if not _is_churn_model(mlflow.models.get_model_info(f"models:/{name}/{current.version}")):
        client.set_registered_model_alias(name, alias, version)
        return True, (
            f"version {version} becomes {alias}: version {current.version} was written by an older churn-pipeline "
            "and cannot be scored"
        )
    if features and current.tags.get(FEATURES_TAG) != features:
        # A champion built on other features cannot score what the pipeline now builds: scoring would refuse it.
        client.set_registered_model_alias(name, alias, version)
        return True, (f"version {version} becomes {alias}: version {current.version} was trained on other "
                      "features, which scoring no longer builds")
    current_churn = current.tags.get(CHURN_TAG)
    if churn and current_churn and churn != current_churn:
        return False, (f"{alias} stays version {current.version}: version {version} predicts another churn "
                       f"({churn}; version {current.version}: {current_churn}), so their figures are not compared "
                       "and the weekly list keeps its meaning; `churn train --promote` makes a new model the "
                       f"{alias} on purpose")
    current_end = current.tags.get(DATA_END_TAG)
    if data_end and current_end and data_end != current_end:
        if data_end > current_end:  # ISO dates order as text
            client.set_registered_model_alias(name, alias, version)
            return True, (f"version {version} becomes {alias}: it learnt from newer data (to {data_end}; version "
                          f"{current.version}'s to {current_end}), so their figures are not compared")
        return False, (f"{alias} stays version {current.version}: it learnt from newer data (to {current_end}; "
                       f"version {version}'s to {data_end}), so their figures are not compared")
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
    """Load a ModelBundle from ``model_uri`` (any MLflow model URI) or the registered champion.

    The model computes its contributions as the configuration says (``model.contributions``).
    """
    mlflow, client = connect(cfg)
    uri = model_uri or f"models:/{cfg.tracking.registered_model}@{cfg.tracking.alias}"
    try:
        info = mlflow.models.get_model_info(uri)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types for "not found"
        raise ModelError(
            f"Could not load the model {uri} from {tracking_uri(cfg)}: {str(exc).splitlines()[0]}",
            "train one first with `churn train --data DIR`, or pass an existing --model URI",
        ) from None
    not_ours = ModelError(
        f"The model {uri} is not a churn model written by `churn train`.",
        "pass the URI of a model `churn train` registered, or leave --model out to use the champion "
        "(a model registered by an older version of churn-pipeline: train again with `churn train`)",
    )
    if not _is_churn_model(info):  # checked before unpickling: a model of another kind is never loaded
        raise not_ours
    model = mlflow.sklearn.load_model(uri)
    if not isinstance(model, ChurnClassifier):
        raise not_ours
    model.set_params(contribution_method=cfg.model.contributions)
    return ModelBundle(model, info.metadata, _version_label(client, uri, info.run_id))


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
    with mlflow.start_run(run_name=f"score as of {tags.get('as_of', '?')}") as run:
        mlflow.set_tags({"kind": "scoring", **tags})
        mlflow.log_metrics(metrics)
        if report_path is not None and report_path.exists():
            mlflow.log_artifact(str(report_path))
    return run.info.run_id


@dataclass(frozen=True)
class RunLink:
    """Where a logged run is: enough to point the MLflow UI at it."""

    run_id: str
    experiment_id: str
    tracking_uri: str


def log_evaluation_run(
    cfg: Config, metrics: dict[str, float], tags: dict[str, str], artifacts: list[Path]
) -> RunLink:
    """Log a campaign evaluation (uplift, intervals, arm sizes) to the evaluation experiment."""
    mlflow, _client = connect(cfg, cfg.tracking.evaluation_experiment)
    with mlflow.start_run(run_name=f"evaluate {tags.get('campaign_id', '?')}") as run:
        mlflow.set_tags({"kind": "evaluation", **tags})
        mlflow.log_metrics(metrics)
        for path in artifacts:
            if Path(path).exists():
                mlflow.log_artifact(str(path))
    return RunLink(run.info.run_id, run.info.experiment_id, tracking_uri(cfg))
