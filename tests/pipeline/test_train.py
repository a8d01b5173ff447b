"""`churn train` end to end: determinism, point-in-time label windows, the champion alias, clean errors.

The session's first training run (conftest ``trained``) registers version 1 of churn-model in a temporary
MLflow store; a second `churn train` on the same data runs here as a separate process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.config import load_config
from pipeline.tracking import RunRecord, churn_definition_tag, connect, load_bundle, log_training_run

DAY = pd.Timedelta(days=1)
COMPARISON = "latest_cutoff_roc_auc"


def _latest_shipped_roc_auc(trained) -> float:
    """ROC-AUC of the shipped model at the latest backtest cutoff, by sklearn from the predictions."""
    predictions = trained.result.backtest.predictions
    latest = predictions[predictions["eval_cutoff"] == predictions["eval_cutoff"].max()]
    return roc_auc_score(latest["churned"], latest[f"model_{trained.result.calibration}"])


@dataclass(frozen=True)
class SecondRun:
    stdout: str
    stderr: str
    run_id: str
    version: str


def _environment_of_a_new_shell() -> dict[str, str]:
    """This environment without the MLflow settings this test process made for itself on importing mlflow
    (its logging level, telemetry): only the store, as a user's shell would have it."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") or k == "MLFLOW_TRACKING_URI"}
    return {**kept, "COLUMNS": "200"}


@pytest.fixture(scope="module")
def second_run(world, store, trained) -> SecondRun:
    """`churn train` again on the same data, in its own process."""
    completed = subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import app; app(prog_name='churn')",
         "train", "--data", str(world), "--config", str(store.config_file)],
        capture_output=True, text=True, timeout=300, env=_environment_of_a_new_shell(), check=False,
    )
    assert completed.returncode == 0, completed.stderr
    run_id = re.search(r"MLflow run (\w+) in ", completed.stdout)[1]
    version = re.search(r"Registered churn-model version (\d+):", completed.stdout)[1]
    return SecondRun(completed.stdout, completed.stderr, run_id, version)


# --------------------------------------------------------------------------------------------- the champion


def test_the_first_run_becomes_champion(trained, cfg):
    outcome = trained.result.outcome
    assert outcome.version == "1"
    assert outcome.promoted
    assert "first champion" in outcome.decision
    _, client = connect(cfg)
    assert str(client.get_model_version_by_alias("churn-model", "champion").version) == "1"


def test_a_second_run_that_only_ties_keeps_the_champion_and_says_why(second_run, trained, cfg):
    assert second_run.version == "2"
    auc = f"{_latest_shipped_roc_auc(trained):.4f}"
    # one line: what happened to the alias, and the two values compared (equal: not strictly better)
    lines = second_run.stdout.splitlines()
    decision = next(line for line in lines if line.startswith("Registered churn-model"))
    assert "champion stays version 1" in decision
    assert f"{COMPARISON} {auc} does not beat {auc}" in decision
    _, client = connect(cfg)
    assert str(client.get_model_version_by_alias("churn-model", "champion").version) == "1"


def test_the_champion_moves_only_for_a_strictly_better_value(store, cfg, trained):
    """Made-up comparison values through the MLflow door, under a registered model of their own."""
    other = load_config(store.config_file, {"tracking.registered_model": "promotion-check"})
    bundle = load_bundle(cfg, "models:/churn-model/1")
    rows = trained.snapshots[[*bundle.model.schema.names, "churned"]]
    record = RunRecord("made up", "A made-up run.", 0.0, "nowhere", "made-up", rows, "churned")

    def log(value: float, kind: str = "backtest", data_end: str | None = None):
        return log_training_run(
            other, bundle, record, metrics={}, metric_steps={}, tables={}, figures={},
            comparison_metric=COMPARISON, comparison_value=value,
            tags={"estimate.kind": kind, **({"data_end": data_end} if data_end else {})},
        )

    _, client = connect(other)
    first = log(0.70)
    assert first.promoted and "first champion" in first.decision
    worse = log(0.65)
    assert not worse.promoted
    assert str(client.get_model_version_by_alias("promotion-check", "champion").version) == first.version
    assert f"champion stays version {first.version}" in worse.decision
    assert "0.6500 does not beat 0.7000" in worse.decision
    better = log(0.72)
    assert better.promoted
    assert str(client.get_model_version_by_alias("promotion-check", "champion").version) == better.version
    assert f"0.7200 beats version {first.version}'s 0.7000" in better.decision
    assert "estimated differently" not in better.decision
    # a cross-fitted figure against a backtest one: the decision says they are not alike
    other_kind = log(0.80, kind="cross_fitted")
    assert "(the figures are estimated differently: cross_fitted vs backtest)" in other_kind.decision

    # Learnt from data that ends later (next month's export), a model replaces the champion whatever its figure:
    # figures from other cutoffs and seasons are not compared. On data that ends as early or earlier, they are.
    dated = log(0.90, data_end="2025-12-01")
    assert dated.promoted
    same_end = log(0.85, data_end="2025-12-01")
    assert not same_end.promoted and "0.8500 does not beat 0.9000" in same_end.decision
    newer = log(0.55, data_end="2026-01-01")
    assert newer.promoted
    assert (f"version {newer.version} becomes champion: it learnt from newer data (to 2026-01-01; version "
            f"{dated.version}'s to 2025-12-01), so their figures are not compared") in newer.decision
    older = log(0.99, data_end="2025-11-01")
    assert not older.promoted
    assert (f"champion stays version {newer.version}: it learnt from newer data (to 2026-01-01; version "
            f"{older.version}'s to 2025-11-01)") in older.decision
    assert str(client.get_model_version_by_alias("promotion-check", "champion").version) == newer.version

    # A model on other features replaces the champion whatever its value: the old one could no longer score.
    other_features = replace(bundle, metadata={**bundle.metadata, "feature_schema_hash": "other features"})
    moved = log_training_run(
        other, other_features, record, metrics={}, metric_steps={}, tables={}, figures={},
        comparison_metric=COMPARISON, comparison_value=0.60,
    )
    assert moved.promoted
    assert f"version {newer.version} was trained on other features" in moved.decision
    assert str(client.get_model_version_by_alias("promotion-check", "champion").version) == moved.version


def test_a_model_of_another_churn_never_replaces_the_champion_by_itself(store, cfg, trained):
    """Another horizon or active window answers another question: neither newer data nor a better figure moves
    the champion to it (the weekly list would change meaning unannounced); --promote does, on purpose."""
    other = load_config(store.config_file, {"tracking.registered_model": "definition-check"})
    bundle = load_bundle(cfg, "models:/churn-model/1")
    rows = trained.snapshots[[*bundle.model.schema.names, "churned"]]
    record = RunRecord("made up", "A made-up run.", 0.0, "nowhere", "made-up", rows, "churned")
    ninety, year = churn_definition_tag(90, 90), churn_definition_tag(90, 365)

    def log(value: float, churn: str, data_end: str, promote: bool = False):
        return log_training_run(
            other, bundle, record, metrics={}, metric_steps={}, tables={}, figures={},
            comparison_metric=COMPARISON, comparison_value=value,
            tags={"estimate.kind": "backtest", "data_end": data_end, "churn_definition": churn}, promote=promote,
        )

    _, client = connect(other)
    first = log(0.70, ninety, "2025-12-01")
    assert first.promoted
    better_other = log(0.95, year, "2026-01-01")  # newer data and a better figure, but another churn
    assert not better_other.promoted
    assert (f"champion stays version {first.version}: version {better_other.version} predicts another churn "
            f"(active_window_days=90, horizon_days=365; version {first.version}: active_window_days=90, "
            "horizon_days=90)") in better_other.decision
    assert "`churn train --promote`" in better_other.decision
    same = log(0.60, ninety, "2026-01-01")  # the same churn on newer data: replaces it as before
    assert same.promoted
    forced = log(0.10, year, "2025-11-01", promote=True)
    assert forced.promoted
    assert forced.decision == f"version {forced.version} becomes champion: promoted on request (--promote)"
    assert str(client.get_model_version_by_alias("definition-check", "champion").version) == forced.version
    assert client.get_model_version("definition-check", forced.version).tags["churn_definition"] == year


def test_train_tags_the_churn_it_predicts(trained, cfg):
    _, client = connect(cfg)
    tags = client.get_model_version("churn-model", trained.result.outcome.version).tags
    assert tags["churn_definition"] == (f"active_window_days={cfg.churn.active_window_days}, "
                                        f"horizon_days={cfg.churn.horizon_days}")


def test_train_output_piped_to_a_file_shows_each_step_with_its_time(second_run, cfg):
    steps = [line for line in second_run.stderr.splitlines() if re.fullmatch(r"  \S.*  \d+:\d\d:\d\d", line)]
    names = [line.strip().rsplit("  ", 1)[0] for line in steps]
    assert names[0] == "loading the data (local engine)"
    assert names[1].startswith(f"features at {cfg.training.n_cutoffs} cutoffs")
    assert [n for n in names if n.startswith("backtest cutoff ")] == names[2: 2 + cfg.training.eval_cutoffs]
    assert names[2 + cfg.training.eval_cutoffs:] == ["final model", "logging to MLflow"]


def test_train_explains_each_metric_and_ends_with_the_mlflow_ui_command(second_run, store):
    lines = second_run.stdout.splitlines()
    sentences = [line for line in lines if line.startswith("- ")]
    assert [s.split(":")[0] for s in sentences] == [
        "- ROC-AUC", "- PR-AUC", "- Log loss", "- Brier score", "- ECE", "- Lift in the top 10%", "- EMP",
        "- EMP targeting fraction",
    ]
    assert all(re.search(r"; (beats|does not beat|a size, not a score)", s) for s in sentences)
    assert lines[-2].endswith(f"mlflow ui --backend-store-uri {store.uri} --port 5000")
    assert lines[-1].endswith(f"/runs/{second_run.run_id}?workflowType=machine_learning")


def test_a_champion_written_by_an_older_churn_pipeline_gives_way(store, cfg, trained):
    """A champion that this version cannot score (here a model without the churn metadata) is replaced."""
    from sklearn.dummy import DummyClassifier

    other = load_config(store.config_file, {"tracking.registered_model": "older-champion"})
    mlflow_module, client = connect(other)
    with mlflow_module.start_run(run_name="older"):
        info = mlflow_module.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
    old = mlflow_module.register_model(info.model_uri, "older-champion").version
    client.set_registered_model_alias("older-champion", "champion", old)
    client.set_model_version_tag("older-champion", old, COMPARISON, "0.99")
    bundle = load_bundle(cfg, "models:/churn-model/1")
    rows = trained.snapshots[[*bundle.model.schema.names, "churned"]]
    record = RunRecord("made up", "A made-up run.", 0.0, "nowhere", "made-up", rows, "churned")
    outcome = log_training_run(
        other, bundle, record, metrics={}, metric_steps={}, tables={}, figures={},
        comparison_metric=COMPARISON, comparison_value=0.5,
    )
    assert outcome.promoted
    assert f"version {old} was written by an older churn-pipeline and cannot be scored" in outcome.decision
    assert str(client.get_model_version_by_alias("older-champion", "champion").version) == outcome.version


def test_train_shows_no_mlflow_warnings(second_run):
    assert "UserWarning" not in second_run.stderr
    assert "WARNING mlflow" not in second_run.stderr


# ------------------------------------------------------------------------------------------- reproducibility


def test_training_twice_gives_identical_backtest_metrics_and_predictions(second_run, trained, cfg):
    run_id, version = second_run.run_id, second_run.version
    first_id = trained.result.outcome.run_id
    _, client = connect(cfg)
    first, again = client.get_run(first_id).data, client.get_run(run_id).data
    assert first.tags["data_fingerprint"] == again.tags["data_fingerprint"]
    assert any(key.startswith("model/") for key in first.metrics)
    assert again.metrics == first.metrics
    table = mlflow.artifacts.load_text(f"runs:/{first_id}/backtest.csv")
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/backtest.csv") == table
    assert len(pd.read_csv(pd.io.common.StringIO(table))) == 6 * cfg.training.eval_cutoffs  # 6 candidates

    one, two = load_bundle(cfg, "models:/churn-model/1"), load_bundle(cfg, f"models:/churn-model/{version}")
    assert two.model.booster.model_to_string() == one.model.booster.model_to_string()
    rows = trained.snapshots[list(one.model.schema.names)]
    p_one, p_two = one.model.predict_proba(rows)[:, 1], two.model.predict_proba(rows)[:, 1]
    assert np.unique(p_one).size > 10  # a model that ranks, not a constant
    np.testing.assert_array_equal(p_two, p_one)


def test_each_evaluation_cutoff_is_a_step_of_the_per_cutoff_metrics(trained, cfg):
    _, client = connect(cfg)
    table = trained.result.backtest.metrics.sort_values("eval_cutoff")
    for candidate, rows in table.groupby("candidate"):
        for metric in ("roc_auc", "ece"):
            history = client.get_metric_history(trained.result.outcome.run_id, f"per_cutoff/{candidate}/{metric}")
            assert sorted((point.step, point.value) for point in history) == list(
                enumerate(rows[metric].astype(float))
            )


# ------------------------------------------------------------------------------------------- point in time


def test_no_training_label_window_reaches_past_its_evaluation_cutoff(trained, cfg, last_event_day_after):
    horizon = DAY * cfg.churn.horizon_days
    snapshots, plans = trained.snapshots, trained.plans
    cutoffs = sorted(snapshots["as_of"].unique())
    # the latest snapshot's label window ends exactly at the day after the last event
    assert cutoffs[-1] + horizon == last_event_day_after
    assert [plan.eval_cutoff for plan in plans] == cutoffs[-cfg.training.eval_cutoffs:]
    assert len(trained.booster_rows) == len(plans) + 1  # one booster per backtest plan, then the shipped one
    for plan, rows in zip(plans, trained.booster_rows[:-1], strict=True):
        assert plan.calibration_cutoff + horizon <= plan.eval_cutoff
        used = snapshots.loc[rows, "as_of"]
        assert set(used) == set(plan.train_cutoffs)
        assert (used + horizon <= plan.calibration_cutoff).all()
    shipped = snapshots.loc[trained.booster_rows[-1], "as_of"]
    assert (shipped + horizon <= cutoffs[-1]).all()  # the shipped model calibrates on the latest cutoff


def test_snapshot_labels_and_actives_match_a_hand_count_of_the_purchases(trained, purchases, cfg):
    horizon, window = DAY * cfg.churn.horizon_days, DAY * cfg.churn.active_window_days
    cutoffs = pd.DataFrame({"as_of": sorted(trained.snapshots["as_of"].unique())})
    pairs = cutoffs.merge(purchases, how="cross")
    before = pairs[(pairs["timestamp"] >= pairs["as_of"] - window) & (pairs["timestamp"] < pairs["as_of"])]
    after = pairs[(pairs["timestamp"] >= pairs["as_of"]) & (pairs["timestamp"] < pairs["as_of"] + horizon)]
    active = before[["customer_id", "as_of"]].drop_duplicates()
    bought_after = after[["customer_id", "as_of"]].drop_duplicates().assign(bought=True)
    expected = active.merge(bought_after, how="left", on=["customer_id", "as_of"])
    expected["churned"] = expected["bought"].isna().astype(int)
    got = trained.snapshots[["customer_id", "as_of", "churned"]]
    key = ["as_of", "customer_id"]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True)[key + ["churned"]].astype({"churned": int}),
        expected.sort_values(key).reset_index(drop=True)[key + ["churned"]],
        check_dtype=False,
    )
    assert 0.05 < expected["churned"].mean() < 0.6


# --------------------------------------------------------------------------------------------------- errors


def test_too_short_a_history_is_one_clean_screen(cli, store, world, tmp_path, cfg, purchases):
    # The world's transactions span 2023-01-02 .. 2025-12-28: fewer days than 90 + 1100.
    config = store.config_with(
        tmp_path, training={"min_history_days": 1100}, tracking={"registered_model": "too-short"}
    )
    result = cli("train", "--data", world, "--config", config)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # handled, not an exception escaping the command
    assert "Traceback" not in result.output
    first, last = purchases["timestamp"].min(), purchases["timestamp"].max()
    days = (last.normalize() - first.normalize()).days + 1
    text = " ".join(result.output.split())
    assert f"the data holds {days} days of transactions ({first.date()} to {last.date()})" in text
    assert "90 + 1100 = 1190 days" in text
    assert "training.min_history_days" in text  # says what to change
    assert len(result.output.splitlines()) <= 20
    _, client = connect(cfg)
    assert client.search_registered_models(filter_string="name = 'too-short'") == []
