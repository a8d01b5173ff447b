"""`churn train` and `churn score` on the data a business has: a year or nine months of transactions only.

Worlds from `churn generate --history-days N --transactions-only`, as a user would make them; each scenario
registers its own model name in the session's temporary MLflow store, and its config holds no churn or
feature keys, so scoring takes the model's definition.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.model_portability import scored_rows
from pipeline.config import load_config
from pipeline.tracking import connect, load_bundle

DAY = pd.Timedelta(days=1)
N_CUSTOMERS = 1_200
SEED = 21
MIN_HISTORY = 90  # training.min_history_days in configs/default.yaml
STEP, N_CUTOFFS, EVAL_CUTOFFS = 30, 12, 3


def config_for(store, folder: Path, model_name: str) -> Path:
    """Tracking into the session's store under ``model_name``, the test config's small LightGBM; no churn or
    feature keys (the defaults), so nothing conflicts with a model's definition."""
    test = yaml.safe_load(store.config_file.read_text())
    path = folder / f"{model_name}.yaml"
    path.write_text(
        yaml.safe_dump({"tracking": {**test["tracking"], "registered_model": model_name}, "model": test["model"]})
    )
    return path


def generated(cli, out: Path, history_days: int) -> Path:
    result = cli(
        "generate", "--out", out, "--customers", N_CUSTOMERS, "--seed", SEED,
        "--history-days", history_days, "--transactions-only",
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def year(cli, tmp_path_factory) -> Path:
    return generated(cli, tmp_path_factory.mktemp("year"), 365)


@pytest.fixture(scope="module")
def nine_months(cli, tmp_path_factory) -> Path:
    return generated(cli, tmp_path_factory.mktemp("nine_months"), 273)


def purchases_span(data: Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Midnight of the first transaction's day and the day after the last one's, from the CSV."""
    stamps = pd.to_datetime(pd.read_csv(data / "transactions.csv", usecols=["timestamp"])["timestamp"])
    return stamps.min().normalize(), stamps.max().normalize() + DAY


def expected_cutoffs(data: Path, horizon: int) -> list[pd.Timestamp]:
    """By the documented rule: 30 days apart back from the latest whose label window ends by the data's end,
    at most 12, each with at least 90 days of history before it."""
    start, end = purchases_span(data)
    grid = [end - horizon * DAY - STEP * k * DAY for k in range(N_CUTOFFS)]
    return sorted(c for c in grid if c >= start + MIN_HISTORY * DAY)


def has_plan(cutoffs: list[pd.Timestamp], e: pd.Timestamp, horizon: int) -> bool:
    """A cutoff calibrates whose window ends by E, and something trains whose window ends by that one."""
    usable = [c for c in cutoffs if c + horizon * DAY <= e]
    return bool(usable) and any(c + horizon * DAY <= max(usable) for c in cutoffs)


def shipped_metadata(cfg_path: Path) -> dict:
    """The metadata of the champion registered under the config's model name."""
    return load_bundle(load_config(cfg_path)).metadata


def trained_and_scored(cli, store, data: Path, folder: Path, name: str, horizon: int):
    config = config_for(store, folder, name)
    trained = cli("train", "--data", data, "--config", config, "--horizon-days", horizon)
    assert trained.exit_code == 0, trained.output
    assert "Traceback" not in trained.output
    out = folder / f"{name}.csv"
    scored = cli("score", "--data", data, "--out", out, "--config", config)
    assert scored.exit_code == 0, scored.output
    return trained.output, pd.read_csv(out, dtype={"customer_id": str}), shipped_metadata(config)


def active_at(data: Path, as_of: pd.Timestamp, window: int) -> set[str]:
    tx = pd.read_csv(data / "transactions.csv", usecols=["customer_id", "timestamp", "amount"], dtype={"customer_id": str})
    tx["timestamp"] = pd.to_datetime(tx["timestamp"])
    bought = tx[(tx["amount"] > 0) & (tx["timestamp"] >= as_of - window * DAY) & (tx["timestamp"] < as_of)]
    return set(bought["customer_id"])


def test_a_year_of_transactions_trains_with_the_backtest_it_has_room_for_and_scores(cli, store, year, tmp_path):
    output, winback, metadata = trained_and_scored(cli, store, year, tmp_path, "year-h90", 90)
    cutoffs = expected_cutoffs(year, 90)
    with_plan = [e for e in cutoffs if has_plan(cutoffs, e, 90)][-EVAL_CUTOFFS:]
    assert 1 <= len(with_plan) < EVAL_CUTOFFS  # a year leaves room for fewer evaluation cutoffs than configured
    estimate = metadata["estimate"]
    assert estimate["kind"] == "backtest"
    assert estimate["evaluation_cutoffs"] == [str(e.date()) for e in with_plan]
    assert f"instead of training.eval_cutoffs = {EVAL_CUTOFFS}" in estimate["summary"]
    assert f"Rolling-origin backtest (mean over {len(with_plan)} evaluation cutoff" in output
    assert estimate["summary"][:60] in " ".join(output.split())
    assert set(metadata["train_cutoffs"]) <= {str(c.date()) for c in cutoffs}

    _, end = purchases_span(year)
    assert set(winback["customer_id"]) == active_at(year, end, 90)
    assert winback["churn_probability"].between(0, 1).all()
    # Nobody has an account manager: the report says where the calls go and draws no empty managers' chart.
    report = (tmp_path / "year-h90_report.html").read_text()
    assert "No active customer has an account manager on record" in report
    assert "value at risk by account manager" not in report.lower()
    # The inputs drift from training cutoffs that saw 95-185 days to a scoring that sees the year: the report
    # says why, with the days the shipped model's cutoffs had.
    start, _ = purchases_span(year)
    seen = sorted((pd.Timestamp(c) - start).days for c in metadata["train_cutoffs"])
    assert seen[0] < 365
    assert (f"Some of this is expected on a short history: the model&#x27;s training cutoffs had {seen[0]} to "
            f"{seen[-1]} days of purchase history before them and this scoring has {(end - start).days}.") in report


def test_a_year_with_a_180_day_horizon_is_cross_fitted_and_says_so(cli, store, year, tmp_path, cfg):
    output, winback, metadata = trained_and_scored(cli, store, year, tmp_path, "year-h180", 180)
    cutoffs = expected_cutoffs(year, 180)
    assert not any(has_plan(cutoffs, e, 180) for e in cutoffs)
    estimate = metadata["estimate"]
    assert estimate["kind"] == "cross_fitted"
    assert estimate["evaluation_cutoffs"] == [str(c.date()) for c in cutoffs[-EVAL_CUTOFFS:]]
    assert "Cross-fitted estimate" in output and "not a backtest" in output
    # the booster trained on every cutoff; calibrated out of fold at the latest one
    assert metadata["train_cutoffs"] == [str(c.date()) for c in cutoffs]
    assert metadata["calibration_cutoff"] == str(cutoffs[-1].date())
    assert metadata["definition"]["churn"]["horizon_days"] == 180
    _, end = purchases_span(year)
    assert set(winback["customer_id"]) == active_at(year, end, 90)

    # MLflow says the same, on the run and on the registered version
    _, client = connect(cfg)
    version = client.get_model_version_by_alias("year-h180", "champion")
    run = client.get_run(version.run_id)
    assert run.data.tags["estimate.kind"] == "cross_fitted" == version.tags["estimate.kind"]
    assert run.data.tags["estimate.summary"] == estimate["summary"]
    logged = Path(client.download_artifacts(version.run_id, "model_metadata.json", str(tmp_path)))
    assert json.loads(logged.read_text())["estimate"] == estimate


def test_nine_months_with_a_90_day_horizon_trains_cross_fitted_and_scores(cli, store, nine_months, tmp_path):
    output, winback, metadata = trained_and_scored(cli, store, nine_months, tmp_path, "nine-h90", 90)
    assert metadata["estimate"]["kind"] == "cross_fitted"
    assert "Cross-fitted estimate" in output
    _, end = purchases_span(nine_months)
    assert set(winback["customer_id"]) == active_at(nine_months, end, 90)


def test_less_history_than_a_horizon_plus_the_minimum_is_refused_in_words(cli, store, nine_months, tmp_path, cfg):
    config = config_for(store, tmp_path, "nine-h200")
    result = cli("train", "--data", nine_months, "--config", config, "--horizon-days", 200)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    start, end = purchases_span(nine_months)
    text = " ".join(result.output.split())
    assert f"the data holds {(end - start).days} days of transactions" in text
    assert "200 + 90 = 290 days" in text
    assert "--horizon-days" in text and "training.min_history_days" in text
    _, client = connect(cfg)
    assert client.search_registered_models(filter_string="name = 'nine-h200'") == []


def test_a_stacked_model_lists_what_it_predicts_and_loads_from_mlflow_the_same(cli, store, year, tmp_path):
    # The stacked calibration (booster and BG/NBD log-odds) forced, whatever auto would pick on this small world.
    config = config_for(store, tmp_path, "year-stacked")
    raw = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**raw, "training": {"calibration": "stacked"}}))
    trained = cli("train", "--data", year, "--config", config, "--horizon-days", 90)
    assert trained.exit_code == 0, trained.output
    assert "Calibration: stacked" in trained.output
    out = tmp_path / "stacked.csv"
    scored = cli("score", "--data", year, "--out", out, "--config", config)
    assert scored.exit_code == 0, scored.output
    listed = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")["churn_probability"]

    cfg = load_config(config)
    uri = "models:/year-stacked@champion"
    bundle = load_bundle(cfg, uri)
    assert bundle.metadata["calibration"] == "stacked" == bundle.model.calibrator_.method
    # What `churn score` computed for each customer: the model's inputs and the unrounded probability (from
    # predict_with_contributions), which the list rounds to 4 decimals.
    features, churn = scored_rows(str(year), uri, cfg)
    assert churn.round(4).reindex(listed.index).equals(listed.astype(float))
    # predict_proba on the same rows gives the same probabilities, in this process and loaded from MLflow
    np.testing.assert_allclose(bundle.model.predict_proba(features)[:, 1], churn.to_numpy(), rtol=0, atol=1e-12)
    loaded = mlflow.sklearn.load_model(uri)
    np.testing.assert_allclose(loaded.predict_proba(features)[:, 1], churn.to_numpy(), rtol=0, atol=1e-12)
    pyfunc = np.asarray(mlflow.pyfunc.load_model(uri).predict(features.reset_index(drop=True)))
    np.testing.assert_allclose(pyfunc[:, 1], churn.to_numpy(), rtol=0, atol=1e-12)


def test_a_stray_old_date_does_not_move_the_cutoffs_and_is_named(cli, store, year, tmp_path):
    # One purchase typed as 1970-01-01 (a placeholder date): without care the history would start in 1970, the
    # cutoffs would reach back into the empty years, and training would fail on cutoffs without customers.
    data = tmp_path / "data"
    data.mkdir()
    transactions = pd.read_csv(year / "transactions.csv", dtype=str)
    transactions.loc[3, "timestamp"] = "1970-01-01 00:00:00"
    transactions.to_csv(data / "transactions.csv", index=False)
    config = config_for(store, tmp_path, "year-stray")
    trained = cli("train", "--data", data, "--config", config, "--horizon-days", 90)
    assert trained.exit_code == 0, trained.output
    text = " ".join(trained.output.split())
    start = pd.to_datetime(transactions["timestamp"]).drop(index=3).min().normalize()
    assert (f"The history is counted from {start.date()}: the transactions before it (the first on 1970-01-01)"
            in text)
    cutoffs = expected_cutoffs(year, 90)  # the same cutoffs as without the stray row
    assert set(shipped_metadata(config)["train_cutoffs"]) <= {str(c.date()) for c in cutoffs}
